// cordon, uncordon and drain: take a machine out of scheduling (and empty it) for maintenance.
// The state lives in the cluster (the engine acts on it); drain only watches it happen.

#include <algorithm>
#include <map>
#include <set>

#include "fleetctl/command.h"
#include "fleetctl/duration.h"
#include "fleetctl/machines.h"

namespace fleet::fleetctl {

namespace {

std::optional<api::Machine> one_machine(CommandContext& ctx) {
  if (ctx.args.size() != 1) {
    ctx.io.err << "One machine required\n";
    return std::nullopt;
  }
  return resolve_machine(ctx, ctx.args[0]);
}

bool request(CommandContext& ctx, const api::Machine& m, std::string_view action, bool force) {
  auto st = ctx.api->set_maintenance(m.id, action, force);
  if (st) return true;
  ctx.io.err << "Error: " << st.error().message << "\n";
  return false;
}

int run_cordon(CommandContext& ctx) {
  auto m = one_machine(ctx);
  if (!m || !request(ctx, *m, "cordon", false)) return kExitFailure;
  ctx.io.out << "Machine " << m->id << " cordoned\n";
  return kExitOk;
}

int run_uncordon(CommandContext& ctx) {
  if (ctx.args.size() != 1) {
    ctx.io.err << "One machine required\n";
    return kExitFailure;
  }
  // A machine that is down (rebooting) can still be uncordoned, by its full ID.
  std::optional<api::Machine> m;
  if (ctx.args[0].size() == 32) {
    m = api::Machine{};
    m->id = ctx.args[0];
  } else {
    m = resolve_machine(ctx, ctx.args[0]);
  }
  if (!m || !request(ctx, *m, "uncordon", false)) return kExitFailure;
  ctx.io.out << "Machine " << m->id << " uncordoned\n";
  return kExitOk;
}

// What is left on a draining machine, from one listing of units and of that machine's states.
// With --force nothing stays: a unit that cannot leave is stopped, and the reason an earlier
// drain gave it ("cannot leave draining ...") is stale until the engine's next pass, so it must
// not count as staying (that made `drain --force` return before the unit stopped).
struct DrainView {
  std::vector<std::string> leaving;                        // still reported there, moving away
  std::vector<std::pair<std::string, std::string>> stuck;  // staying: unit, reason
};

Result<DrainView> drain_view(CommandContext& ctx, const std::string& machine, bool force) {
  BOOST_OUTCOME_TRY(auto units, ctx.api->list_unit_summaries());
  BOOST_OUTCOME_TRY(auto states, ctx.api->list_unit_states({machine, {}}));
  std::map<std::string, const api::Unit*> by_name;
  for (const auto& u : units) by_name[u.name] = &u;
  DrainView v;
  for (const auto& s : states) {
    auto it = by_name.find(s.name);
    if (it != by_name.end()) {
      const api::Unit& u = *it->second;
      if (api::is_global(u)) continue;  // global units stay on every machine
      if (!force && u.machine_id == machine && u.reason.starts_with("cannot leave draining")) {
        v.stuck.emplace_back(u.name, u.reason);
        continue;
      }
    }
    v.leaving.push_back(s.name);
  }
  return v;
}

int run_drain(CommandContext& ctx) {
  auto timeout = parse_duration(ctx.flags.str("timeout"));
  if (!timeout) {
    ctx.io.err << "Error: --timeout: " << timeout.error().message << "\n";
    return kExitFailure;
  }
  auto m = one_machine(ctx);
  const bool force = ctx.flags.boolean("force");
  if (!m || !request(ctx, *m, "drain", force)) return kExitFailure;
  if (ctx.flags.boolean("no-block")) {
    ctx.io.out << "Machine " << m->id << " draining\n";
    return kExitOk;
  }
  const auto deadline = ctx.sys.now() + timeout.value();
  std::size_t total = 0;
  std::optional<std::size_t> last;
  while (true) {
    auto v = drain_view(ctx, m->id, force);
    if (!v) {
      ctx.io.err << "Error retrieving the units of machine " << m->id << ": " << v.error().message
                 << "\n";
      return kExitFailure;
    }
    const std::size_t left = v.value().leaving.size();
    total = std::max(total, left);  // nothing new lands on a draining machine
    if (!last || left != *last) {
      if (left > 0)
        ctx.io.out << "Draining machine " << m->id << ": " << total - left << " of " << total
                   << " units moved, " << left << " left\n";
      ctx.io.out.flush();
      last = left;
    }
    if (left == 0) {
      for (const auto& [unit, why] : v.value().stuck)
        ctx.io.out << "Unit " << unit << " stays: " << why << "\n";
      ctx.io.out << "Machine " << m->id << " drained";
      if (!v.value().stuck.empty())
        ctx.io.out << "; " << v.value().stuck.size()
                   << " unit(s) cannot run elsewhere and stay (drain --force stops them)";
      ctx.io.out << "\n";
      return kExitOk;
    }
    if (ctx.sys.now() >= deadline) {
      std::string names;
      for (const auto& n : v.value().leaving) names += (names.empty() ? "" : ", ") + n;
      ctx.io.err << "Timed out after " << format_duration(timeout.value())
                 << " waiting for machine " << m->id << " to drain; " << left
                 << " unit(s) left: " << names << "\n";
      return kExitFailure;
    }
    ctx.sys.sleep(ctx.poll_interval);
  }
}

}  // namespace

Command cordon_command() {
  Command c;
  c.name = "cordon";
  c.usage = "MACHINE";
  c.summary = "Stop placing new units on a machine; its units stay";
  c.description =
      "Marks a machine unschedulable: the engine places no new unit there (global units still "
      "run on it). Units already there keep running. The mark is kept in the cluster until "
      "uncordon, across fleetd restarts and reboots.\n\nMACHINE is a machine ID, a unique prefix "
      "of one, or the machine's public IP.\n\n\tfleetctl cordon 2c3b1f4a";
  c.run = &run_cordon;
  return c;
}

Command uncordon_command() {
  Command c;
  c.name = "uncordon";
  c.usage = "MACHINE";
  c.summary = "Let the engine place units on a cordoned or drained machine again";
  c.description =
      "Lifts cordon or drain: new units may be placed on the machine again. Units that moved "
      "away during a drain do not move back.\n\nMACHINE is a machine ID, a unique prefix of "
      "one, or the machine's public IP; a machine that is down is named by its full ID.";
  c.run = &run_uncordon;
  return c;
}

Command drain_command() {
  Command c;
  c.name = "drain";
  c.usage = "[--force] [--timeout=DURATION] [--no-block] MACHINE";
  c.summary = "Cordon a machine and move its units to other machines";
  c.description =
      "Cordons the machine, then moves every unit that is not global to other machines: each "
      "is stopped there and started elsewhere as soon as its stop is reported. Waits until the "
      "machine runs no unit that can leave, printing progress.\n\nA unit that no other machine "
      "can run (MachineID, Conflicts filling every other machine, metadata) stays and is "
      "reported with the reason; with --force it is stopped instead. The machine stays "
      "cordoned until uncordon.\n\nExits 1 when --timeout passes first (units keep moving).";
  c.flags = {
      FlagSpec("force", FlagType::boolean, "", "Stop units that cannot run on any other machine"),
      FlagSpec("timeout", FlagType::string, "5m", "How long to wait for the machine to empty"),
      FlagSpec("no-block", FlagType::boolean, "", "Do not wait for the units to move"),
  };
  c.run = &run_drain;
  return c;
}

}  // namespace fleet::fleetctl
