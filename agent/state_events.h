#pragma once
// The events an agent's new view of a unit stands for (registry/event_log.h): started (it
// became active), failed (systemd's failed state, with its sub-state), stopped (it left active
// for inactive). Other transitions (activating, reloading, a new hash) are not events.

#include <optional>

#include "registry/event_log.h"
#include "registry/records.h"

namespace fleet::agent {

std::optional<registry::EventRecord> state_event(const registry::UnitStateRecord* before,
                                                 const registry::UnitStateRecord& now);

}  // namespace fleet::agent
