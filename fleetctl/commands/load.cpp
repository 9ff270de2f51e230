#include "fleetctl/command.h"
#include "fleetctl/unit_actions.h"

namespace fleet::fleetctl {

namespace {

std::vector<std::string> mangled_args(const CommandContext& ctx) {
  std::vector<std::string> names;
  for (const auto& a : ctx.args) names.push_back(mangle_unit_name(a));
  return names;
}

int run(CommandContext& ctx) {
  if (ctx.args.empty()) {
    ctx.io.err << "No units given\n";
    return kExitOk;
  }
  if (auto st = create_units(ctx); !st) {
    ctx.io.err << "Error creating units: " << st.error().message << "\n";
    return kExitFailure;
  }
  auto triggered = set_target_states(ctx, mangled_args(ctx), api::kStateLoaded);
  if (!triggered) {
    ctx.io.err << "Error loading units: " << triggered.error().message << "\n";
    return kExitFailure;
  }
  std::vector<std::string> loading;
  for (const auto& u : triggered.value()) {
    if (api::is_global(u.options)) {
      ctx.io.out << "Triggered global unit " << u.name << " load\n";
    } else {
      loading.push_back(u.name);
    }
  }
  if (!wait_for_unit_states(ctx, loading, "load", api::kStateLoaded, block_attempts(ctx.flags))) {
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
  c.run = &run;
  return c;
}

}  // namespace fleet::fleetctl
