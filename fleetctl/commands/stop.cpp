#include "fleetctl/command.h"
#include "fleetctl/unit_actions.h"

namespace fleet::fleetctl {

namespace {

int run(CommandContext& ctx) {
  int exit = kExitOk;
  auto units = registered_units_or_report(ctx, &exit);
  if (!units) return exit;
  std::vector<std::string> stopping;
  std::vector<std::string> changed;  // sent together below
  for (const auto& u : *units) {
    bool global = api::is_global(u);
    if (!global) {
      if (u.current_state == api::kStateInactive) {
        request_states(ctx, changed, api::kStateLoaded);  // fleet changed the ones before it
        ctx.io.err << "Unable to stop unit " << u.name << " in state inactive\n";
        return kExitFailure;
      }
      if (u.current_state == api::kStateLoaded) continue;
    }
    changed.push_back(u.name);
    if (global) {
      ctx.io.out << "Triggered global unit " << u.name << " stop\n";
    } else {
      stopping.push_back(u.name);
    }
  }
  request_states(ctx, changed, api::kStateLoaded);
  return wait_and_report(ctx, stopping, "stop", "stopped", api::kStateLoaded);
}

}  // namespace

Command stop_command() {
  Command c;
  c.name = "stop";
  c.usage = "[--no-block|--block-attempts=N] UNIT...";
  c.summary = "Instruct systemd to stop one or more units in the cluster.";
  c.description =
      "Stop one or more units from running in the cluster, but allow them to be started again in "
      "the future.\n\nInstructs systemd on the host machine to stop the unit, deferring to "
      "systemd completely for any custom stop directives (i.e. ExecStop option in the unit "
      "file).\n\nFor units which are not global, stop operations are performed synchronously. "
      "This behaviour can be configured with the respective --block-attempts and --no-block "
      "options. Stop operations on global units are always non-blocking.\n\nStop a single "
      "unit:\n\tfleetctl stop foo.service\n\nStop an entire directory of units with glob "
      "matching, without waiting:\n\tfleetctl --no-block stop myservice/*";
  c.flags = block_flags();
  c.flags.push_back(result_format_flag());
  c.unit_args = true;
  c.run = &run;
  return c;
}

}  // namespace fleet::fleetctl
