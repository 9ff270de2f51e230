#include "engine/plan_events.h"

namespace fleet::engine {

std::vector<registry::EventRecord> plan_events(const Plan& plan) {
  std::vector<registry::EventRecord> out;
  for (const auto& t : plan.tasks) {
    registry::EventRecord e;
    e.unit = t.unit;
    e.machine = t.machine;
    e.reason = t.reason;
    switch (t.kind) {
      case TaskKind::unschedule:
      case TaskKind::unassign_global:
        e.kind = "unscheduled";
        break;
      case TaskKind::schedule:
      case TaskKind::assign_global:
        e.kind = "scheduled";
        break;
      case TaskKind::set_reason:
        e.kind = "unschedulable";
        break;
      case TaskKind::clear_reason:
        continue;  // the unit's next event (scheduled) says it
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<registry::EventRecord> membership_events(std::optional<std::set<std::string>>& before,
                                                     const std::vector<MachineSpec>& now) {
  std::set<std::string> ids;
  for (const auto& m : now) ids.insert(m.id);
  std::vector<registry::EventRecord> out;
  if (before) {
    for (const auto& id : ids) {
      if (before->count(id)) continue;
      registry::EventRecord e;
      e.kind = "machine-joined";
      e.machine = id;
      e.reason = "registered with the cluster";
      out.push_back(std::move(e));
    }
    for (const auto& id : *before) {
      if (ids.count(id)) continue;
      registry::EventRecord e;
      e.kind = "machine-left";
      e.machine = id;
      e.reason = "its registration ended (shut down, or not heard from within its TTL)";
      out.push_back(std::move(e));
    }
  }
  before = std::move(ids);
  return out;
}

}  // namespace fleet::engine
