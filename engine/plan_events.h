#pragma once
// The events of the engine leader (registry/event_log.h): a unit scheduled to or unscheduled
// from a machine, or found unschedulable, each with the planner's reason; machines joining and
// leaving the cluster.

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/planner.h"
#include "registry/event_log.h"

namespace fleet::engine {

std::vector<registry::EventRecord> plan_events(const Plan& plan);

// machine-joined and machine-left events between the machines a leader saw in its previous
// pass (`before`) and now; `before` becomes `now`. Nothing on a leader's first pass (nullopt):
// machines it finds are not news.
std::vector<registry::EventRecord> membership_events(std::optional<std::set<std::string>>& before,
                                                     const std::vector<MachineSpec>& now);

}  // namespace fleet::engine
