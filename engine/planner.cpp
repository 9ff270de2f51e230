#include "engine/planner.h"

#include <algorithm>
#include <functional>
#include <iterator>
#include <queue>
#include <set>
#include <tuple>

#include "engine/detail/cluster_index.h"
#include "engine/detail/explain.h"

namespace fleet::engine {

std::string_view to_string(TaskKind k) {
  switch (k) {
    case TaskKind::unschedule:
      return "unschedule";
    case TaskKind::unassign_global:
      return "unassign-global";
    case TaskKind::schedule:
      return "schedule";
    case TaskKind::assign_global:
      return "assign-global";
    case TaskKind::set_reason:
      return "set-reason";
    case TaskKind::clear_reason:
      return "clear-reason";
  }
  return "?";
}

std::string describe(const PlanStep& t) {
  std::string out(to_string(t.kind));
  out += " unit=" + t.unit;
  if (!t.machine.empty()) out += " machine=" + t.machine;
  if (!t.reason.empty()) out += " reason=\"" + t.reason + "\"";
  return out;
}

namespace reasons {
std::string machine_went_away(std::string_view machine) {
  return "target Machine(" + std::string(machine) + ") went away";
}
std::string unable_to_run(std::string_view machine, std::string_view why) {
  return "target Machine(" + std::string(machine) + ") unable to run unit: " + std::string(why);
}
std::string not_scheduled(TargetState s) {
  return "target state " + std::string(to_string(s)) + " and unit not scheduled";
}
std::string global_eligible(TargetState s) {
  return "global unit with target state " + std::string(to_string(s));
}
std::string draining(std::string_view machine) {
  return "Machine(" + std::string(machine) + ") is draining";
}
std::string stopping_on(std::string_view machine) {
  return "stopping on draining Machine(" + std::string(machine) + ") before it moves";
}
std::string cannot_leave(std::string_view machine, std::string_view why) {
  return std::string(kCannotLeavePrefix) + std::string(machine) + "): " + std::string(why);
}
}  // namespace reasons

namespace {

using detail::Check;
using detail::Index;
using detail::kNone;
using detail::Verdict;
using detail::View;

class Planner {
 public:
  explicit Planner(const ClusterSnapshot& s)
      : s_(s),
        ix_(s),
        view_(ix_),
        initial_(ix_.units.size()),
        initial_machine_(ix_.units.size(), kNone),
        evict_reason_(ix_.units.size()),
        fail_reason_(ix_.units.size()),
        waiting_(ix_.units.size()),
        queued_(ix_.units.size(), 0),
        leaving_(ix_.units.size(), kNone),
        held_(ix_.units.size(), 0) {}

  Plan run() {
    validate_schedule();
    assign_globals();
    drain();
    leave_draining_machines();
    // Settle: a unit that failed early may fit after later evictions, globals may fit where a
    // displaced unit left, and reasons must describe the final view, or the next plan would
    // differ from this one. Typically one quiet round.
    for (int round = 0; round < kMaxSettleRounds; ++round) {
      bool globals_changed = assign_globals();
      size_t before = placements_;
      for (uint32_t u = 0; u < ix_.units.size(); ++u) {
        const auto& info = ix_.units[u];
        if (!info.global() && info.active && view_.placed(u) == kNone) try_place(u);
      }
      drain();
      if (!globals_changed && placements_ == before) break;
    }
    return build_plan();
  }

 private:
  // Pass 1: keep every scheduled unit whose machine still exists and can still run it. Units are
  // confirmed in name order, so of two units that conflict on one machine the first one stays.
  void validate_schedule() {
    // The schedule map and the unit index are both in name order: merge instead of hashing.
    uint32_t next = 0;
    for (const auto& [name, machine] : s_.schedule) {
      while (next < ix_.units.size() && ix_.units[next].name() < name) ++next;
      uint32_t u = next < ix_.units.size() && ix_.units[next].name() == name ? next : kNone;
      if (u == kNone || ix_.units[u].global()) {
        orphans_.push_back(
            {TaskKind::unschedule, name, machine,
             std::string(u == kNone ? reasons::kUnitGone : reasons::kGlobalNotScheduled)});
        continue;
      }
      initial_[u] = machine;
      initial_machine_[u] = ix_.machine(machine);
      if (ix_.units[u].active && initial_machine_[u] != kNone) {
        view_.set_placed(u, initial_machine_[u]);
      }
    }
    for (uint32_t u = 0; u < ix_.units.size(); ++u) {
      const auto& info = ix_.units[u];
      if (info.global() || !info.active) continue;
      if (initial_[u].empty()) enqueue(u);
    }
    for (uint32_t u = 0; u < ix_.units.size(); ++u) {
      if (initial_[u].empty()) continue;
      if (!ix_.units[u].active) {
        evict_reason_[u] = reasons::kTargetInactive;
        cascade_followers(u, view_.placed(u));
        continue;
      }
      uint32_t m = initial_machine_[u];
      if (m == kNone) {
        evict_reason_[u] = reasons::machine_went_away(initial_[u]);
        enqueue(u);
        continue;
      }
      if (view_.placed(u) == kNone) continue;  // already evicted by a peer cascade
      Check c = view_.able(u, m, false);
      if (c.verdict != Verdict::ok) {
        evict(u, reasons::unable_to_run(ix_.machines[m].id(), detail::explain(ix_, u, m, c)));
        continue;
      }
      view_.confirm(u, m);
      displace_victims(u, m);
    }
  }

  void enqueue(uint32_t u) {
    if (queued_[u]) return;
    queued_[u] = 1;
    pending_.push(u);
  }

  void drain() {
    while (!pending_.empty()) {
      uint32_t u = pending_.top();
      pending_.pop();
      queued_[u] = 0;
      if (view_.placed(u) == kNone) try_place(u);
    }
  }

  // Global units, recomputed from scratch: on each machine, in name order, every active global
  // whose metadata matches and that conflicts with nothing already there (non-globals first,
  // then earlier globals). Returns whether the assignment changed.
  bool assign_globals() {
    auto old = view_.clear_globals();
    unassign_reason_.clear();
    std::set<std::pair<std::string_view, std::string_view>> previous;
    for (const auto& [unit, machines] : s_.global_assignments) {
      for (const auto& m : machines) previous.emplace(unit, m);
    }
    for (uint32_t m = 0; m < ix_.machines.size(); ++m) {
      for (uint32_t g : ix_.globals) {
        const auto& info = ix_.units[g];
        if (!info.active) continue;
        std::string why;
        if (!ix_.metadata_ok(info.spec->metadata, m)) {
          why = reasons::kMetadataInsufficient;
        } else if (uint32_t c = view_.conflict_on(g, m); c != kNone) {
          why = detail::explain(ix_, g, m, {Verdict::conflict, c});
        } else {
          view_.add_global(g, m);
          continue;
        }
        if (previous.count({info.name(), ix_.machines[m].id()})) {
          unassign_reason_[{g, m}] = reasons::unable_to_run(ix_.machines[m].id(), why);
        }
      }
    }
    return old != view_.global_pairs();
  }

  // Pass 2: place pending units in name order; followers wait until their peer is placed.
  void try_place(uint32_t u) {
    const auto& info = ix_.units[u];
    std::string& reason = fail_reason_[u];
    if (ix_.machines.empty()) {
      reason = reasons::kNoMachines;
      return;
    }
    if (!info.missing_peers.empty()) {
      reason = "peer " + info.missing_peers.front() + " does not exist";
      return;
    }
    uint32_t target = kNone;
    uint32_t target_peer = kNone;
    for (uint32_t p : info.peers) {
      if (ix_.units[p].global()) continue;
      uint32_t pm = view_.placed(p);
      if (pm == kNone) {
        waiting_[p].push_back(u);
        reason = "waiting for peer " + std::string(ix_.units[p].name()) + " to be scheduled";
        return;
      }
      if (target != kNone && pm != target) {
        reason = "peers " + std::string(ix_.units[target_peer].name()) + " and " +
                 std::string(ix_.units[p].name()) + " are scheduled on different machines";
        return;
      }
      target = pm;
      target_peer = p;
    }
    if (target != kNone) {
      Check c = view_.able(u, target, true);
      if (c.verdict == Verdict::ok) return place(u, target);
      reason = "cannot run next to peer " + std::string(ix_.units[target_peer].name()) +
               " on Machine(" + std::string(ix_.machines[target].id()) +
               "): " + detail::explain(ix_, u, target, c);
      return;
    }
    const std::string& required = info.spec->machine_id;
    if (!required.empty()) {
      auto r = ix_.resolve_machine_id(required);
      if (r.matches == 0) {
        reason = "MachineID " + required + " matches no machine";
      } else if (r.matches > 1) {
        reason = "MachineID " + required + " is ambiguous: matches " + std::to_string(r.matches) +
                 " machines";
      } else if (Check c = view_.able(u, r.machine, true); c.verdict == Verdict::ok) {
        return place(u, r.machine);
      } else {
        reason = "required Machine(" + std::string(ix_.machines[r.machine].id()) +
                 ") cannot run it: " + detail::explain(ix_, u, r.machine, c);
      }
      return;
    }
    if (view_.candidate_count(u) == 0) {
      reason =
          "no machine satisfies MachineMetadata " + detail::format_requirement(info.spec->metadata);
      return;
    }
    std::vector<std::pair<uint32_t, Check>> failures;
    for (const auto& [load, m] : view_.candidates(u)) {
      Check c = view_.able(u, m, true);
      if (c.verdict == Verdict::ok) {
        uint32_t chosen = m;  // place() reorders the candidate set: leave the loop first
        return place(u, chosen);
      }
      failures.emplace_back(m, c);
    }
    reason = detail::summarize(ix_, info.spec->metadata, failures);
  }

  void place(uint32_t u, uint32_t m) {
    if (auto it = s_.running_on_draining.find(std::string(ix_.units[u].name()));
        it != s_.running_on_draining.end()) {
      // Stop-then-start: this pass only stops the copy on the draining machine; the state
      // report of that stop triggers the pass that places it.
      held_[u] = 1;
      fail_reason_[u] = reasons::stopping_on(*it->second.begin());
      return;
    }
    ++placements_;
    fail_reason_[u].clear();
    view_.confirm(u, m);
    displace_victims(u, m);
    std::vector<uint32_t> followers = std::move(waiting_[u]);
    waiting_[u].clear();
    for (uint32_t f : followers) {
      if (view_.placed(f) == kNone) enqueue(f);
    }
  }

  // Replaces: the replaced unit always moves (never the replacing one).
  void displace_victims(uint32_t u, uint32_t m) {
    for (uint32_t v : view_.victims(u, m)) {
      ++view_.replace_evicted[v];
      evict(v, reasons::unable_to_run(
                   ix_.machines[m].id(),
                   "replaced by locally-scheduled Unit(" + std::string(ix_.units[u].name()) + ")"));
    }
  }

  void evict(uint32_t u, std::string reason) {
    uint32_t m = view_.placed(u);
    view_.remove(u);
    if (evict_reason_[u].empty()) evict_reason_[u] = std::move(reason);
    if (ix_.units[u].active) enqueue(u);
    cascade_followers(u, m);
  }

  // A follower cannot stay on a machine its peer left: it follows (re-placed next to the peer).
  void cascade_followers(uint32_t u, uint32_t m) {
    if (m == kNone) return;
    for (uint32_t f : ix_.units[u].followers) {
      if (view_.placed(f) != m) continue;
      evict(f, reasons::unable_to_run(ix_.machines[m].id(), "required peer Unit(" +
                                                                std::string(ix_.units[u].name()) +
                                                                ") is not scheduled locally"));
    }
  }

  // Every non-global unit on a draining machine is placed again, avoiding cordoned machines.
  // Units that fit nowhere else go back (unless the drain is forced), and so do followers
  // waiting for a peer that stays; followers of a unit that is stopping to move leave with it.
  void leave_draining_machines() {
    std::vector<uint32_t> leaving;
    for (uint32_t u = 0; u < ix_.units.size(); ++u) {
      uint32_t m = view_.placed(u);
      if (ix_.units[u].global() || m == kNone || !ix_.machines[m].spec->drain) continue;
      leaving_[u] = m;
      leaving.push_back(u);
    }
    if (leaving.empty()) return;
    for (uint32_t u : leaving) {
      view_.remove(u);
      if (evict_reason_[u].empty())
        evict_reason_[u] = reasons::draining(ix_.machines[leaving_[u]].id());
    }
    for (uint32_t u : leaving) enqueue(u);
    drain();
    for (bool progress = true; progress;) {
      progress = false;
      for (uint32_t u : leaving) {
        if (view_.placed(u) != kNone || held_[u]) continue;
        uint32_t m = leaving_[u];
        bool with_peer = std::any_of(ix_.units[u].peers.begin(), ix_.units[u].peers.end(),
                                     [&](uint32_t p) { return held_[p] != 0; });
        if (with_peer) {
          held_[u] = 1;
          fail_reason_[u] = reasons::stopping_on(ix_.machines[m].id());
          progress = true;
          continue;
        }
        if (ix_.machines[m].spec->force) continue;
        if (view_.able(u, m, false).verdict != Verdict::ok) continue;
        auto staying_peer = std::find_if(ix_.units[u].peers.begin(), ix_.units[u].peers.end(),
                                         [&](uint32_t p) { return stuck_.count(p) > 0; });
        stuck_[u] = reasons::cannot_leave(ix_.machines[m].id(),
                                          staying_peer == ix_.units[u].peers.end()
                                              ? fail_reason_[u]
                                              : "required peer Unit(" +
                                                    std::string(ix_.units[*staying_peer].name()) +
                                                    ") cannot leave either");
        fail_reason_[u].clear();
        view_.confirm(u, m);
        progress = true;
      }
    }
  }

  std::string global_reason(uint32_t g) {
    const auto& info = ix_.units[g];
    if (ix_.machines.empty()) return std::string(reasons::kNoMachines);
    auto members = ix_.machines_matching(info.spec->metadata);
    if (members.empty()) {
      return "no machine satisfies MachineMetadata " +
             detail::format_requirement(info.spec->metadata);
    }
    std::vector<std::pair<uint32_t, Check>> failures;
    for (uint32_t m : members)
      failures.emplace_back(m, Check{Verdict::conflict, view_.conflict_on(g, m)});
    return detail::summarize(ix_, info.spec->metadata, failures);
  }

  // The plan from the final placement, in named steps; each step fills its groups of tasks.
  struct Steps {
    std::vector<PlanStep> unschedule, unassign, schedule, assign, set, clear;
  };
  Plan build_plan();
  void schedule_steps(Plan& plan, Steps& steps);
  void global_steps(Plan& plan, Steps& steps);
  void reason_steps(const Plan& plan, Steps& steps) const;

  const ClusterSnapshot& s_;
  Index ix_;
  View view_;
  std::vector<std::string_view> initial_;  // machine ID in the snapshot's schedule, or empty
  std::vector<uint32_t> initial_machine_;  // that machine's index, kNone when it is gone
  std::vector<std::string> evict_reason_, fail_reason_;
  std::vector<std::vector<uint32_t>> waiting_;  // peer -> followers waiting for it
  // Units to place, smallest (alphabetically first) first; queued_ avoids duplicates.
  std::priority_queue<uint32_t, std::vector<uint32_t>, std::greater<>> pending_;
  std::vector<char> queued_;
  std::vector<PlanStep> orphans_;
  std::map<std::pair<uint32_t, uint32_t>, std::string> unassign_reason_;
  std::vector<uint32_t> leaving_;  // draining machine the unit is on at the start, or kNone
  std::vector<char> held_;         // placed nowhere until its copy on a draining machine stops
  std::map<uint32_t, std::string> stuck_;  // stays on its draining machine: why
  size_t placements_ = 0;
  static constexpr int kMaxSettleRounds = 4;
};

Plan Planner::build_plan() {
  Plan plan;
  Steps steps;
  steps.unschedule = std::move(orphans_);
  schedule_steps(plan, steps);
  global_steps(plan, steps);
  reason_steps(plan, steps);
  auto by_unit = [](const PlanStep& a, const PlanStep& b) {
    return std::tie(a.unit, a.machine) < std::tie(b.unit, b.machine);
  };
  auto groups = {&steps.unschedule, &steps.unassign, &steps.schedule,
                 &steps.assign,     &steps.set,      &steps.clear};
  size_t total = 0;
  for (auto* group : groups) total += group->size();
  plan.tasks.reserve(total);
  for (auto* group : groups) {
    if (!std::is_sorted(group->begin(), group->end(), by_unit)) {
      std::sort(group->begin(), group->end(), by_unit);
    }
    std::move(group->begin(), group->end(), std::back_inserter(plan.tasks));
  }
  return plan;
}

// Non-global units: moves between machines, and the ones left unplaced.
void Planner::schedule_steps(Plan& plan, Steps& steps) {
  const std::string schedule_reason[] = {reasons::not_scheduled(TargetState::inactive),
                                         reasons::not_scheduled(TargetState::loaded),
                                         reasons::not_scheduled(TargetState::launched)};
  for (uint32_t u = 0; u < ix_.units.size(); ++u) {
    const auto& info = ix_.units[u];
    if (info.global()) continue;
    uint32_t m = view_.placed(u);
    std::string_view final_machine = m == kNone ? std::string_view() : ix_.machines[m].id();
    if (!initial_[u].empty() && initial_[u] != final_machine) {
      steps.unschedule.push_back({TaskKind::unschedule, std::string(info.name()),
                                  std::string(initial_[u]), evict_reason_[u]});
    }
    if (!final_machine.empty() && final_machine != initial_[u]) {
      steps.schedule.push_back({TaskKind::schedule, std::string(info.name()),
                                std::string(final_machine),
                                schedule_reason[static_cast<int>(info.spec->desired)]});
    }
    if (info.active && m == kNone) plan.unschedulable[std::string(info.name())] = fail_reason_[u];
  }
  for (const auto& [u, why] : stuck_)
    if (view_.placed(u) != kNone) plan.stuck[std::string(ix_.units[u].name())] = why;
}

// Global units: assignments to remove (with why) and to add.
void Planner::global_steps(Plan& plan, Steps& steps) {
  for (const auto& [unit, machines] : s_.global_assignments) {
    uint32_t g = ix_.unit(unit);
    for (const auto& mid : machines) {
      uint32_t m = ix_.machine(mid);
      std::string why;
      if (g == kNone) {
        why = reasons::kUnitGone;
      } else if (!ix_.units[g].global()) {
        why = "unit is not global";
      } else if (!ix_.units[g].active) {
        why = reasons::kTargetInactive;
      } else if (m == kNone) {
        why = reasons::machine_went_away(mid);
      } else if (view_.global_on(g, m)) {
        continue;
      } else {
        why = unassign_reason_[{g, m}];
      }
      steps.unassign.push_back({TaskKind::unassign_global, unit, mid, why});
    }
  }
  for (uint32_t g : ix_.globals) {
    const auto& info = ix_.units[g];
    if (!info.active) continue;
    auto it = s_.global_assignments.find(std::string(info.name()));
    bool any = false;
    for (uint32_t m = 0; m < ix_.machines.size(); ++m) {
      if (!view_.global_on(g, m)) continue;
      any = true;
      std::string mid(ix_.machines[m].id());
      if (it != s_.global_assignments.end() && it->second.count(mid)) continue;
      steps.assign.push_back({TaskKind::assign_global, std::string(info.name()), mid,
                              reasons::global_eligible(info.spec->desired)});
    }
    if (!any) plan.unschedulable[std::string(info.name())] = global_reason(g);
  }
}

// Published reasons: set where new or changed, cleared where no longer true.
void Planner::reason_steps(const Plan& plan, Steps& steps) const {
  auto published = plan.unschedulable;
  published.insert(plan.stuck.begin(), plan.stuck.end());
  for (const auto& [unit, reason] : published) {
    auto it = s_.reasons.find(unit);
    if (it == s_.reasons.end() || it->second != reason) {
      steps.set.push_back({TaskKind::set_reason, unit, "", reason});
    }
  }
  for (const auto& [unit, reason] : s_.reasons) {
    if (!published.count(unit)) steps.clear.push_back({TaskKind::clear_reason, unit, "", ""});
  }
}

}  // namespace

Plan plan_schedule(const ClusterSnapshot& snapshot) { return Planner(snapshot).run(); }

}  // namespace fleet::engine
