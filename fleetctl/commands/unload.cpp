#include "fleetctl/command.h"
#include "fleetctl/unit_actions.h"

namespace fleet::fleetctl {

namespace {

int run(CommandContext& ctx) {
  int exit = kExitOk;
  auto units = registered_units_or_report(ctx, &exit);
  if (!units) return exit;
  std::vector<std::string> waiting;
  std::vector<std::string> changed;  // sent together below
  for (const auto& u : *units) {
    bool global = api::is_global(u);
    // fleet skips on the current state alone, so a unit that wants to run but cannot be placed
    // could never be unloaded; we skip only units that are inactive in both senses.
    if (!global && u.current_state == api::kStateInactive &&
        u.desired_state == api::kStateInactive) {
      continue;
    }
    changed.push_back(u.name);
    if (global) {
      ctx.io.out << "Triggered global unit " << u.name << " unload\n";
    } else {
      waiting.push_back(u.name);
    }
  }
  request_states(ctx, changed, api::kStateInactive);
  return wait_and_report(ctx, waiting, "unload", "unloaded", api::kStateInactive);
}

}  // namespace

Command unload_command() {
  Command c;
  c.name = "unload";
  c.usage = "[--no-block|--block-attempts=N] UNIT...";
  c.summary = "Unschedule one or more units in the cluster.";
  c.description =
      "Unload one or more units from the machines they are scheduled to (stopping them first). "
      "The units stay submitted.\n\nFor units which are not global, unload operations are "
      "performed synchronously; see --block-attempts and --no-block.";
  c.flags = block_flags();
  c.flags.push_back(result_format_flag());
  c.unit_args = true;
  c.run = &run;
  return c;
}

}  // namespace fleet::fleetctl
