#pragma once
// The engine's pure scheduler: snapshot -> plan. No I/O, no clock, no logging; deterministic
// (the plan does not depend on the order of the snapshot's vectors) and incremental (units only
// move when a constraint breaks or their machine is gone; a satisfied snapshot yields no tasks).
//
// Rules (fleet's, with the deviations listed in Documentation/differences-from-fleet.md):
// * Non-global units with desired state loaded/launched are placed on the least-loaded machine
//   that satisfies MachineID (full or unique short ID), MachineMetadata, MachineOf (all peers
//   already on it), Conflicts (either direction) and is not hosting a unit that Replaces it.
//   Load = active non-global units scheduled there + global units assigned there; ties by ID.
// * Replaces: the replaced unit always moves, chosen with the normal checks; circular ignored.
// * Global units with desired != inactive are assigned to every machine satisfying their
//   MachineMetadata with no conflict; existing non-global units win over globals, and among
//   conflicting globals the alphabetically first wins.
// * Units that cannot be placed get a human-readable reason (Plan::unschedulable); tasks only
//   rewrite reasons that changed.
// * Cordoned machines take no new non-global unit. Non-global units on a draining machine are
//   placed elsewhere by the rules above; one still running there is only unscheduled, and
//   placed once its copy has stopped (stop-then-start). One that fits nowhere else stays (its
//   reason says why, Plan::stuck) or, when the drain is forced, is unscheduled.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/cluster_snapshot.h"

namespace fleet::engine {

enum class TaskKind {
  unschedule,       // remove unit's schedule entry for `machine` (CAS on the previous value)
  unassign_global,  // stop running global `unit` on `machine`
  schedule,         // schedule non-global `unit` to `machine`
  assign_global,    // run global `unit` on `machine`
  set_reason,       // publish `reason` why `unit` is unschedulable
  clear_reason,     // drop the published unschedulable reason of `unit`
};

std::string_view to_string(TaskKind k);

struct PlanStep {
  TaskKind kind = TaskKind::schedule;
  std::string unit;
  std::string machine;  // full machine ID; empty for set_reason/clear_reason
  std::string reason;

  bool operator==(const PlanStep&) const = default;
};

// One line for logs: `schedule unit=a.service machine=... reason="..."`.
std::string describe(const PlanStep& t);

struct Plan {
  // Executed in order: unschedule, unassign_global, schedule, assign_global, set_reason,
  // clear_reason; each group sorted by unit then machine. A move is an unschedule followed
  // (later) by a schedule of the same unit.
  std::vector<PlanStep> tasks;
  // Every unit with desired != inactive that ends up nowhere, with the reason (also for global
  // units that run on no machine).
  std::map<std::string, std::string> unschedulable;
  // Units that stay on a draining machine because no other machine can run them, with the
  // reason (published like an unschedulable reason).
  std::map<std::string, std::string> stuck;
};

Plan plan_schedule(const ClusterSnapshot& snapshot);

// Reason vocabulary for tasks.
namespace reasons {
inline constexpr std::string_view kTargetInactive = "target state inactive";
inline constexpr std::string_view kUnitGone = "unit no longer exists";
inline constexpr std::string_view kGlobalNotScheduled = "global units are not scheduled";
inline constexpr std::string_view kNoMachines = "no machines available";
inline constexpr std::string_view kMetadataInsufficient = "local Machine metadata insufficient";
std::string machine_went_away(std::string_view machine);  // target Machine(<id>) went away
std::string unable_to_run(std::string_view machine, std::string_view why);
std::string not_scheduled(TargetState s);        // target state <s> and unit not scheduled
std::string global_eligible(TargetState s);      // global unit with target state <s>
std::string draining(std::string_view machine);  // Machine(<id>) is draining
// The unit still runs on the draining machine it leaves: it is placed once that copy stopped.
std::string stopping_on(std::string_view machine);
std::string cannot_leave(std::string_view machine, std::string_view why);
// How every cannot_leave() reason begins (the model tells such units from movable ones by it).
inline constexpr std::string_view kCannotLeavePrefix = "cannot leave draining Machine(";
}  // namespace reasons

}  // namespace fleet::engine
