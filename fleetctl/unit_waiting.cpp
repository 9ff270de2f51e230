#include "fleetctl/unit_waiting.h"

#include <map>
#include <optional>

#include "fleetctl/machines.h"
#include "fleetctl/registered_units.h"
#include "fleetctl/unit_results.h"
#include "fleetctl/wait_progress.h"

namespace fleet::fleetctl {

namespace {

constexpr long kPollsPerAttempt = 8;  // 2 s at 250 ms
// Without --block-attempts the systemd check gets this many attempts (fleet gave it one).
constexpr long kSystemdCheckDefaultAttempts = 5;

}  // namespace

int block_attempts(const FlagValues& flags) {
  if (flags.boolean("no-block")) return -1;
  long long n = flags.integer("block-attempts");
  return n > 0 ? static_cast<int>(n) : 0;
}

std::vector<WaitFailure> wait_states(CommandContext& ctx, const std::vector<std::string>& names,
                                     std::string_view state, int attempts) {
  std::vector<std::string> pending = names;
  std::vector<WaitFailure> failures;
  bool check_reason = state != api::kStateInactive;
  std::map<std::string, long> errors;  // consecutive failed polls per unit
  WaitProgress progress(ctx, state, names.size());
  const auto done = [&] { return names.size() - pending.size() - failures.size(); };
  for (long polls = 0; !pending.empty();) {
    // Many units: one listing per round answers for all of them (500 GETs per round were most
    // of `fleetctl start` of 500 new units); if it fails, each is asked for as with few.
    const std::optional<UnitIndex> index =
        index_registered_units(ctx, pending.size(), /*summaries=*/true);
    for (auto it = pending.begin(); it != pending.end();) {
      auto got = registered_unit(ctx, *it, index);
      if (!got) {
        // Transient API trouble: keep waiting, as fleet does, but say so once per attempt.
        if (errors[*it]++ % kPollsPerAttempt == 0) {
          progress.clear();
          ctx.io.err << "Error retrieving Unit(" << *it
                     << ") from Registry: " << got.error().message << "\n";
        }
        ++it;
        continue;
      }
      errors[*it] = 0;
      if (!got.value()) {
        failures.push_back({*it, "unit " + *it + " no longer exists"});
        it = pending.erase(it);
        continue;
      }
      const api::Unit& u = *got.value();
      bool global = api::is_global(u);
      const std::string& current = global ? u.desired_state : u.current_state;
      if (current == state) {
        progress.clear();
        ctx.io.out << "Unit " << u.name << " " << u.current_state;
        if (!u.machine_id.empty()) {
          if (auto m = cached_machine(ctx, u.machine_id)) {
            ctx.io.out << " on " << machine_legend(*m, false);
          }
        }
        ctx.io.out << "\n";
        it = pending.erase(it);
        continue;
      }
      if (check_reason && !u.reason.empty() && polls + 1 >= kPollsPerAttempt) {
        failures.push_back({*it, "unit " + *it + " cannot be scheduled: " + u.reason});
        it = pending.erase(it);
        continue;
      }
      ++it;
    }
    if (pending.empty()) break;
    ++polls;
    if (attempts > 0 && polls >= attempts * kPollsPerAttempt) {
      for (const auto& n : pending) {
        failures.push_back(
            {n, "timed out waiting for unit " + n + " to report state " + std::string(state)});
      }
      break;
    }
    progress.show(done(), failures.size());
    ctx.sys.sleep(ctx.poll_interval);
  }
  progress.finish(done(), failures.size());
  for (const auto& f : failures) record_unit_error(ctx, f.name, f.message);
  return failures;
}

Status wait_for_unit_states(CommandContext& ctx, const std::vector<std::string>& names,
                            std::string_view verb, std::string_view state, int attempts) {
  if (attempts == -1) {
    for (const auto& n : names) ctx.io.out << "Triggered unit " << n << " " << verb << "\n";
    return ok();
  }
  auto failures = wait_states(ctx, names, state, attempts);
  if (failures.empty()) return ok();
  ctx.io.err << "Error waiting for units: " << failures.front().message << "\n";
  return fail(Errc::invalid_argument, failures.front().message);
}

int wait_and_report(CommandContext& ctx, const std::vector<std::string>& names,
                    std::string_view verb, std::string_view past, std::string_view state) {
  auto st = wait_for_unit_states(ctx, names, verb, state, block_attempts(ctx.flags));
  if (!st) {
    ctx.io.err << "Failed to " << verb << " units " << go_list(names)
               << ". err: " << st.error().message << "\n";
    return kExitFailure;
  }
  ctx.io.err << "Successfully " << past << " units " << go_list(names) << ".\n";
  return kExitOk;
}

Status wait_for_systemd_active(CommandContext& ctx, const std::vector<std::string>& names,
                               int attempts) {
  if (attempts == -1) return ok();
  long budget = (attempts > 0 ? attempts : kSystemdCheckDefaultAttempts) * kPollsPerAttempt;
  std::vector<std::string> pending = names;
  std::vector<std::string> failures;
  for (long polls = 0; !pending.empty();) {
    for (auto it = pending.begin(); it != pending.end();) {
      auto states = ctx.api->list_unit_states({"", *it});
      bool active = false;
      std::string failed_state;
      if (states) {
        for (const auto& s : states.value()) {
          if (s.systemd_load_state == "loaded" && s.systemd_active_state == "active") active = true;
          if (s.systemd_active_state == "failed")
            failed_state = "failed (" + s.systemd_sub_state + ")";
        }
      }
      if (active) {
        it = pending.erase(it);
      } else if (!failed_state.empty()) {
        failures.push_back("Unit " + *it + " failed in systemd: " + failed_state);
        record_unit_error(ctx, *it, failures.back());
        it = pending.erase(it);
      } else {
        ++it;
      }
    }
    if (pending.empty()) break;
    if (++polls >= budget) {
      for (const auto& n : pending) {
        failures.push_back("Failed to find an active unit " + n + " within " +
                           std::to_string(budget / kPollsPerAttempt * 2) + "s");
        record_unit_error(ctx, n, failures.back());
      }
      break;
    }
    ctx.sys.sleep(ctx.poll_interval);
  }
  for (const auto& f : failures) ctx.io.err << "Error waiting for units: " << f << "\n";
  if (!failures.empty()) return fail(Errc::invalid_argument, "unit failed to become active");
  return ok();
}

std::string go_list(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + v[i];
  return out + "]";
}

}  // namespace fleet::fleetctl
