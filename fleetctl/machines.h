#pragma once
// Naming the cluster's machines in fleetctl's output, and finding the one an argument names.

#include <optional>
#include <string>

#include "api/schema.h"
#include "fleetctl/command.h"

namespace fleet::fleetctl {

// `<id8>...` (or the full ID) plus `/<ip>` when known (fleet's machineFullLegend).
std::string machine_legend(const api::Machine& m, bool full);
// The legend of a machine ID using the cluster's machine list (fetched once per context).
std::optional<api::Machine> cached_machine(CommandContext& ctx, const std::string& id);
// The live machine a command-line argument names: its full ID, a unique prefix of one, or its
// public IP. nullopt after printing `Machine <arg> not found`, `Machine <arg> is ambiguous:
// matches N machines` or the API error.
std::optional<api::Machine> resolve_machine(CommandContext& ctx, const std::string& arg);

}  // namespace fleet::fleetctl
