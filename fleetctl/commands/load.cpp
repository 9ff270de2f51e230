#include "fleetctl/command.h"
#include "fleetctl/unit_actions.h"

namespace fleet::fleetctl {

namespace {

int run(CommandContext& ctx) {
  int exit = kExitOk;
  auto loading = create_and_trigger(ctx, api::kStateLoaded, "load", "loading", &exit);
  if (!loading) return exit;
  if (!wait_for_unit_states(ctx, *loading, "load", api::kStateLoaded, block_attempts(ctx.flags))) {
    ctx.io.err << "Error waiting for unit states, exit status: 1\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

Command load_command() {
  Command c;
  c.name = "load";
  c.usage = "[--no-block|--block-attempts=N] [--replace] UNIT...";
  c.summary = "Schedule one or more units in the cluster, first submitting them if necessary.";
  c.description =
      "Load one or many units in the cluster into systemd, but do not start.\n\nSelect units to "
      "load by glob matching for units in the current working directory or matching the names "
      "of previously submitted units.\n\nFor units which are not global, load operations are "
      "performed synchronously, which means fleetctl will block until it detects that the "
      "unit(s) have transitioned to a loaded state. This behaviour can be configured with the "
      "respective --block-attempts and --no-block options. Load operations on global units are "
      "always non-blocking.";
  c.flags = block_flags();
  c.flags.push_back(replace_flag());
  c.flags.push_back(sign_flag());
  c.flags.push_back(result_format_flag());
  c.unit_args = true;
  c.run = &run;
  return c;
}

}  // namespace fleet::fleetctl
