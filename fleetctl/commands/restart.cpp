#include "fleetctl/command.h"
#include "fleetctl/unit_actions.h"

namespace fleet::fleetctl {

namespace {

Status set_and_wait(CommandContext& ctx, const std::string& name, std::string_view state,
                    std::string_view verb, int attempts) {
  if (auto st = ctx.api->set_desired_state(name, state); !st) {
    ctx.io.err << "Error setting target state for unit " << name << ": " << st.error().message
               << "\n";
    return st;
  }
  if (auto st = wait_for_unit_states(ctx, {name}, verb, state, attempts); !st) {
    ctx.io.err << "Error waiting for unit states, exit status: 1\n";
    return st;
  }
  return ok();
}

// fleet intended `systemctl restart` on every machine and did nothing. We stop the
// unit everywhere (desired state loaded), wait until no machine reports it active, and launch
// it again.
Status restart_global(CommandContext& ctx, const std::string& name, int attempts) {
  if (auto st = ctx.api->set_desired_state(name, api::kStateLoaded); !st) return st;
  for (long polls = 0;; ++polls) {
    auto states = ctx.api->list_unit_states({"", name});
    bool any_active = !states;
    if (states) {
      for (const auto& s : states.value()) any_active |= s.systemd_active_state == "active";
    }
    if (!any_active) break;
    if (attempts > 0 && polls + 1 >= attempts * 8L) {
      (void)ctx.api->set_desired_state(name, api::kStateLaunched);
      return fail(Errc::timeout, "timed out waiting for global unit " + name + " to stop");
    }
    ctx.sys.sleep(ctx.poll_interval);
  }
  if (auto st = ctx.api->set_desired_state(name, api::kStateLaunched); !st) return st;
  ctx.io.out << "Triggered global unit " << name << " restart\n";
  return ok();
}

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
  if (auto st = create_units(ctx); !st) {
    ctx.io.err << "Error creating units: " << st.error().message << "\n";
    return kExitFailure;
  }
  int attempts = block_attempts(ctx.flags);
  std::vector<std::string> globals;
  for (const auto& u : units.value()) {
    if (api::is_global(u)) {
      globals.push_back(u.name);
      continue;
    }
    if (u.current_state == api::kStateInactive) {
      ctx.io.err << "Unable to restart unit " << u.name << " in state inactive\n";
      continue;
    }
    if (u.current_state == api::kStateLaunched) {
      // fleet waited for `launched` here too, so the stop was often never seen.
      if (!set_and_wait(ctx, u.name, api::kStateLoaded, "stop", attempts)) return kExitFailure;
    }
    if (!set_and_wait(ctx, u.name, api::kStateLaunched, "start", attempts)) return kExitFailure;
  }
  for (const auto& g : globals) {
    if (auto st = restart_global(ctx, g, attempts); !st) {
      ctx.io.err << "Error restarting global units " << go_list(globals)
                 << " err:" << st.error().message << "\n";
      return kExitFailure;
    }
  }
  return kExitOk;
}

}  // namespace

Command restart_command() {
  Command c;
  c.name = "restart";
  c.usage = "[--block-attempts=N] UNIT...";
  c.summary = "Instruct systemd to rolling restart one or more units in the cluster.";
  c.description =
      "Restart one or more units, one after the other: a launched unit is stopped (desired "
      "state loaded) and, once fleet reports it loaded, launched again; a loaded unit is "
      "launched. Global units are stopped everywhere and launched again.\n\nRestart a single "
      "unit:\n\tfleetctl restart foo.service\n\nRestart instances of a template:\n\tfleetctl "
      "restart example@{1..4}.service";
  c.flags = {block_flags().front()};
  c.unit_args = true;
  c.run = &run;
  return c;
}

}  // namespace fleet::fleetctl
