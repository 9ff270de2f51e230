#include <algorithm>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fleetctl/command.h"
#include "fleetctl/unit_actions.h"

namespace fleet::fleetctl {

namespace {

using Errors = std::vector<std::optional<Error>>;

// fleet waits only when --no-block is given (inverted); we wait unless it is given. The registry
// deletes synchronously, so these waits normally end on the first poll.
void wait_gone(CommandContext& ctx, int attempts, const std::function<bool()>& gone) {
  for (long polls = 0; attempts != -1; ++polls) {
    if (gone()) return;
    if (attempts > 0 && polls + 1 >= attempts * 8L) return;
    ctx.sys.sleep(ctx.poll_interval);
  }
}

// One batch request (the client falls back to a DELETE per unit where the server has no batch
// route), then one listing per poll.
void destroy_all(CommandContext& ctx, const std::vector<api::Unit>& found, int attempts,
                 Errors& errors) {
  std::vector<std::string> names;
  for (const auto& u : found) names.push_back(u.name);
  auto statuses = ctx.api->destroy_units(names);
  std::set<std::string> destroyed;
  for (std::size_t i = 0; i < found.size(); ++i) {
    const Status st = statuses ? statuses.value()[i] : Status(statuses.error());
    if (!st && st.error().code != Errc::not_found)
      errors[i] = st.error();
    else
      destroyed.insert(names[i]);
  }
  wait_gone(ctx, attempts, [&] {
    auto all = ctx.api->list_unit_summaries();
    return all && std::none_of(all.value().begin(), all.value().end(),
                               [&](const api::Unit& u) { return destroyed.count(u.name) > 0; });
  });
}

int run(CommandContext& ctx) {
  int exit = kExitOk;
  auto units = registered_units_or_report(ctx, &exit);
  if (!units) return exit;
  const int attempts = block_attempts(ctx.flags);
  const auto& found = *units;
  Errors errors(found.size());  // per unit: the destroy error to print, if any
  destroy_all(ctx, found, attempts, errors);
  for (std::size_t i = 0; i < found.size(); ++i) {
    if (errors[i]) {
      ctx.io.err << "Error destroying units: " << errors[i]->message << "\n";
      record_unit_error(ctx, found[i].name, errors[i]->message);
      exit = kExitFailure;
      continue;
    }
    ctx.io.out << "Destroyed " << found[i].name << "\n";
  }
  return exit;
}

}  // namespace

Command destroy_command() {
  Command c;
  c.name = "destroy";
  c.usage = "[--no-block|--block-attempts=N] UNIT...";
  c.summary = "Destroy one or more units in the cluster";
  c.description =
      "Completely remove one or more running or submitted units from the cluster.\n\nInstructs "
      "systemd on the host machine to stop the unit, deferring to systemd completely for any "
      "custom stop directives (i.e. ExecStop option in the unit file).\n\nDestroyed units are "
      "impossible to start unless re-submitted.";
  c.flags = block_flags();
  c.flags.push_back(result_format_flag());
  c.unit_args = true;
  c.run = &run;
  return c;
}

}  // namespace fleet::fleetctl
