#pragma once
// Naming the cluster's machines in fleetctl's output.

#include <optional>
#include <string>

#include "api/schema.h"
#include "fleetctl/command.h"

namespace fleet::fleetctl {

// `<id8>...` (or the full ID) plus `/<ip>` when known (fleet's machineFullLegend).
std::string machine_legend(const api::Machine& m, bool full);
// The legend of a machine ID using the cluster's machine list (fetched once per context).
std::optional<api::Machine> cached_machine(CommandContext& ctx, const std::string& id);

}  // namespace fleet::fleetctl
