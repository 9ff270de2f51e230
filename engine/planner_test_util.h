#pragma once
// Test helpers for the planner: terse builders and an in-memory "executor" that applies a plan to
// a snapshot the way the engine's executor will apply it to the registry.

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/planner.h"

namespace fleet::engine::testing {

inline UnitSpec unit(std::string name, TargetState desired = TargetState::launched) {
  UnitSpec u;
  u.name = std::move(name);
  u.desired = desired;
  return u;
}

inline UnitSpec with_conflicts(UnitSpec u, std::vector<std::string> c) {
  u.conflicts = std::move(c);
  return u;
}
inline UnitSpec with_replaces(UnitSpec u, std::vector<std::string> r) {
  u.replaces = std::move(r);
  return u;
}
inline UnitSpec with_peers(UnitSpec u, std::vector<std::string> p) {
  u.peers = std::move(p);
  return u;
}
inline UnitSpec with_machine(UnitSpec u, std::string id) {
  u.machine_id = std::move(id);
  return u;
}
inline UnitSpec with_metadata(UnitSpec u, std::map<std::string, std::set<std::string>> md) {
  u.metadata = std::move(md);
  return u;
}
inline UnitSpec global(UnitSpec u) {
  u.global = true;
  return u;
}

inline MachineSpec machine(std::string id, std::map<std::string, std::string> md = {}) {
  return MachineSpec{std::move(id), std::move(md)};
}

inline ClusterSnapshot cluster(std::vector<MachineSpec> machines, std::vector<UnitSpec> units,
                               std::map<std::string, std::string> schedule = {}) {
  ClusterSnapshot s;
  s.machines = std::move(machines);
  s.units = std::move(units);
  s.schedule = std::move(schedule);
  return s;
}

// Executes a plan against the snapshot (what the engine's executor does against the registry).
inline void apply(ClusterSnapshot& s, const Plan& p) {
  for (const PlanStep& t : p.tasks) {
    switch (t.kind) {
      case TaskKind::unschedule:
        if (s.schedule.count(t.unit) && s.schedule[t.unit] == t.machine) s.schedule.erase(t.unit);
        break;
      case TaskKind::schedule:
        s.schedule[t.unit] = t.machine;
        break;
      case TaskKind::assign_global:
        s.global_assignments[t.unit].insert(t.machine);
        break;
      case TaskKind::unassign_global:
        s.global_assignments[t.unit].erase(t.machine);
        if (s.global_assignments[t.unit].empty()) s.global_assignments.erase(t.unit);
        break;
      case TaskKind::set_reason:
        s.reasons[t.unit] = t.reason;
        break;
      case TaskKind::clear_reason:
        s.reasons.erase(t.unit);
        break;
    }
  }
}

// Plans and applies until the plan is empty; returns the number of non-empty passes (or -1 if
// the planner never settles, which every caller treats as a failure).
inline int converge(ClusterSnapshot& s, int max_passes = 6) {
  for (int i = 0; i < max_passes; ++i) {
    Plan p = plan_schedule(s);
    if (p.tasks.empty()) return i;
    apply(s, p);
  }
  return -1;
}

inline void remove_machine(ClusterSnapshot& s, const std::string& id) {
  std::erase_if(s.machines, [&](const MachineSpec& m) { return m.id == id; });
}

inline void set_desired(ClusterSnapshot& s, const std::string& name, TargetState d) {
  for (auto& u : s.units) {
    if (u.name == name) u.desired = d;
  }
}

inline std::string where(const ClusterSnapshot& s, const std::string& unit) {
  auto it = s.schedule.find(unit);
  return it == s.schedule.end() ? std::string("-") : it->second;
}

inline ClusterSnapshot shuffled(ClusterSnapshot s, unsigned seed) {
  std::mt19937 rng(seed);
  std::shuffle(s.units.begin(), s.units.end(), rng);
  std::shuffle(s.machines.begin(), s.machines.end(), rng);
  return s;
}

inline std::vector<PlanStep> tasks_of(const Plan& p, TaskKind k) {
  std::vector<PlanStep> out;
  for (const auto& t : p.tasks) {
    if (t.kind == k) out.push_back(t);
  }
  return out;
}

}  // namespace fleet::engine::testing
