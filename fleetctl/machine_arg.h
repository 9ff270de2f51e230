#pragma once
// A machine named on the command line: its full ID, a unique prefix of one, or its public IP.

#include <optional>
#include <string>

#include "fleetctl/command.h"

namespace fleet::fleetctl {

// The live machine `arg` names; nullopt after printing `Machine <arg> not found`,
// `Machine <arg> is ambiguous: matches N machines` or the API error.
std::optional<api::Machine> resolve_machine(CommandContext& ctx, const std::string& arg);

}  // namespace fleet::fleetctl
