#pragma once
// The events a written plan stands for (registry/event_log.h): a unit scheduled to or
// unscheduled from a machine, or found unschedulable, each with the planner's reason.

#include <vector>

#include "engine/planner.h"
#include "registry/event_log.h"

namespace fleet::engine {

std::vector<registry::EventRecord> plan_events(const Plan& plan);

}  // namespace fleet::engine
