#include "fleetctl/command.h"
#include "fleetctl/unit_actions.h"

namespace fleet::fleetctl {

namespace {

int run(CommandContext& ctx) {
  int exit = kExitOk;
  auto starting = create_and_trigger(ctx, api::kStateLaunched, "start", "starting", &exit);
  if (!starting) return exit;
  int attempts = block_attempts(ctx.flags);
  if (!wait_for_unit_states(ctx, *starting, "start", api::kStateLaunched, attempts)) {
    ctx.io.err << "Error waiting for unit states, exit status: 1\n";
    return kExitFailure;
  }
  if (!wait_for_systemd_active(ctx, *starting, attempts)) {
    ctx.io.err << "Error waiting for systemd unit states, err: 1\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

Command start_command() {
  Command c;
  c.name = "start";
  c.usage = "[--no-block|--block-attempts=N] [--replace] UNIT...";
  c.summary =
      "Instruct systemd to start one or more units in the cluster, first submitting and loading "
      "if necessary.";
  c.description =
      "Start one or many units on the cluster. Select units to start by glob matching for units "
      "in the current working directory or matching names of previously submitted units.\n\n"
      "For units which are not global, start operations are performed synchronously: fleetctl "
      "blocks until the units are launched and systemd reports them active. This behaviour can "
      "be configured with the respective --block-attempts and --no-block options. Start "
      "operations on global units are always non-blocking.\n\nStart a single unit:\n\tfleetctl "
      "start foo.service\n\nStart an entire directory of units with glob matching:\n\tfleetctl "
      "start myservice/*\n\nStart instances of a template:\n\tfleetctl start "
      "example@{1..4}.service";
  c.flags = block_flags();
  c.flags.push_back(replace_flag());
  c.flags.push_back(sign_flag());
  c.flags.push_back(result_format_flag());
  c.unit_args = true;
  c.run = &run;
  return c;
}

}  // namespace fleet::fleetctl
