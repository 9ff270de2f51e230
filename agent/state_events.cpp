#include "agent/state_events.h"

namespace fleet::agent {

std::optional<registry::EventRecord> state_event(const registry::UnitStateRecord* before,
                                                 const registry::UnitStateRecord& now) {
  const std::string was = before ? before->active_state : std::string();
  if (was == now.active_state) return std::nullopt;
  registry::EventRecord e;
  e.unit = now.unit;
  e.machine = now.machine;
  if (now.active_state == "active") {
    e.kind = "started";
    e.reason = "systemd: active (" + now.sub_state + ")";
  } else if (now.active_state == "failed") {
    e.kind = "failed";
    e.reason = "systemd: failed (" + now.sub_state + ")";
  } else if (now.active_state == "inactive" && was == "active") {
    e.kind = "stopped";
    e.reason = "systemd: inactive (" + now.sub_state + ")";
  } else {
    return std::nullopt;
  }
  return e;
}

}  // namespace fleet::agent
