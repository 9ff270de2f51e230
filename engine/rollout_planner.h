#pragma once
// Rolling updates (fleetctl rollout), decided step by step by the engine leader like the rolling
// reboots of reboot_planner.h: which instances get the new content next, when a replaced one is
// healthy, when the rollout stops and puts the changed instances back. Pure: the caller reads
// the state from its model and writes the decision in one fenced compare-and-swap txn, so a
// rollout goes on across engine hand-overs and without the fleetctl that started it.
//
// Rules:
// * Replacing an instance writes the new content's hash into its unit record, its desired state
//   kept; the scheduler keeps it where it is when it still fits and the agent there stops the old
//   copy and starts the new one. At most max_unavailable instances are being replaced at once,
//   taken in the rollout's order.
// * A replaced instance is healthy when the state its machine reports is of the new content and
//   (launched) active for min_healthy_ms without leaving active, or (loaded) loaded. Inactive
//   units are healthy at once. It is unhealthy when systemd reports it failed or restarting, when
//   it leaves active within the window, or when it is not healthy within timeout_ms.
// * An unhealthy instance stops the rollout. With revert, the template (if the rollout names
//   one) and every changed instance get their previous content back: the ones that are down at
//   once, the healthy ones at most max_unavailable at a time, each back when active again; then
//   the rollout is reverted (aborted, when the user asked). Without revert it is failed, and the
//   instances stay as they are.
// * An abort request stops it the same way (aborted, reverting first when it reverts).
// * An instance destroyed meanwhile is skipped.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "registry/event_log.h"
#include "registry/records.h"

namespace fleet::engine {

struct RolloutUnit {
  registry::UnitRecord record;                     // mod_revision as read
  std::string machine;                             // scheduled there; empty if not scheduled
  std::optional<registry::UnitStateRecord> state;  // reported by that machine
};

struct RolloutView {
  registry::UnitRollout rollout;
  std::map<std::string, RolloutUnit> units;   // the rollout's instances that still exist
  std::optional<registry::UnitRecord> named;  // the record of the rollout's name, if any
  std::int64_t now_ms = 0;                    // Unix milliseconds
};

struct RolloutDecision {
  registry::UnitRollout rollout;
  std::vector<registry::UnitRecord> writes;     // unit records with their content changed
  std::vector<registry::EventRecord> events;    // kind "rollout"
  std::optional<std::int64_t> wake_at_ms = {};  // decide again then, even if nothing changes
  bool changed = false;
};

RolloutDecision plan_rollout(const RolloutView& v);

}  // namespace fleet::engine
