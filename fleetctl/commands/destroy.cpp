#include <optional>
#include <vector>

#include "fleetctl/command.h"
#include "fleetctl/unit_actions.h"

namespace fleet::fleetctl {

namespace {

int run(CommandContext& ctx) {
  if (ctx.args.empty()) {
    ctx.io.err << "No units given\n";
    return kExitOk;
  }
  auto units = find_units(ctx);
  if (!units) {
    ctx.io.err << units.error().message << "\n";
    return kExitFailure;
  }
  int attempts = block_attempts(ctx.flags);
  const auto& found = units.value();
  // Per unit: the destroy error to print, if any. Many units go over several connections.
  std::vector<std::optional<Error>> errors(found.size());
  for_each_unit_call(ctx, found.size(), [&](api::ApiClient& api, std::size_t i) {
    const std::string& name = found[i].name;
    auto st = api.destroy_unit(name);
    if (!st && st.error().code != Errc::not_found) {
      errors[i] = st.error();
      return;
    }
    // fleet waits only when --no-block is given (inverted); we wait unless it is given. The
    // registry deletes synchronously, so this normally returns on the first poll.
    for (long polls = 0; attempts != -1; ++polls) {
      auto got = api.get_unit(name);
      if (got && !got.value()) break;
      if (attempts > 0 && polls + 1 >= attempts * 8L) break;
      ctx.sys.sleep(ctx.poll_interval);
    }
  });
  int exit = kExitOk;
  for (std::size_t i = 0; i < found.size(); ++i) {
    if (errors[i]) {
      ctx.io.err << "Error destroying units: " << errors[i]->message << "\n";
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
  c.run = &run;
  return c;
}

}  // namespace fleet::fleetctl
