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

}  // namespace fleet::engine
