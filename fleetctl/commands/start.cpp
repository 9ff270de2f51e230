#include "fleetctl/command.h"
#include "fleetctl/unit_actions.h"

namespace fleet::fleetctl {

namespace {

int run(CommandContext& ctx) {
  if (ctx.args.empty()) {
    ctx.io.err << "No units given\n";
    return kExitOk;
  }
  if (auto st = create_units(ctx); !st) {
    ctx.io.err << "Error creating units: " << st.error().message << "\n";
    return kExitFailure;
  }
  std::vector<std::string> names;
  for (const auto& a : ctx.args) names.push_back(mangle_unit_name(a));
  auto triggered = set_target_states(ctx, names, api::kStateLaunched);
  if (!triggered) {
    ctx.io.err << "Error starting units: " << triggered.error().message << "\n";
    return kExitFailure;
  }
  std::vector<std::string> starting;
  for (const auto& u : triggered.value()) {
    if (api::is_global(u.options)) {
      ctx.io.out << "Triggered global unit " << u.name << " start\n";
    } else {
      starting.push_back(u.name);
    }
  }
  int attempts = block_attempts(ctx.flags);
  if (!wait_for_unit_states(ctx, starting, "start", api::kStateLaunched, attempts)) {
    ctx.io.err << "Error waiting for unit states, exit status: 1\n";
    return kExitFailure;
  }
  if (!wait_for_systemd_active(ctx, starting, attempts)) {
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
  c.run = &run;
  return c;
}

}  // namespace fleet::fleetctl
