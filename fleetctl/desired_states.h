#pragma once
// Changing the desired states of the units a command names: a GET and a PUT per unit for a few,
// one listing and one batch request for many.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/schema.h"
#include "fleetctl/command.h"

namespace fleet::fleetctl {

// Sets `state` on each named unit unless it already has it; returns the units that changed.
// Errors: `unable to find unit <n>`, `error retrieving unit <n> from registry: <err>`.
Result<std::vector<api::Unit>> set_target_states(CommandContext& ctx,
                                                 const std::vector<std::string>& names,
                                                 std::string_view state);

// Sets `state` on the named units without judging the answers: as in fleet, a failed update
// shows up when waiting. With kManyUnits or more, one batch request.
void request_states(CommandContext& ctx, const std::vector<std::string>& names,
                    std::string_view state);

// load and start's common part: creates the arguments' units as needed, sets `state` on them,
// prints `Triggered global unit <n> <verb>` for global units and returns the other units' names
// to wait on. nullopt after printing `No units given` (exit 0 wanted: *exit = kExitOk), `Error
// creating units: <e>` or `Error <doing> units: <e>` (*exit = kExitFailure).
std::optional<std::vector<std::string>> create_and_trigger(CommandContext& ctx,
                                                           std::string_view state,
                                                           std::string_view verb,
                                                           std::string_view doing, int* exit);

}  // namespace fleet::fleetctl
