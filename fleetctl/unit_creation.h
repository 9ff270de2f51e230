#pragma once
// Creating the units a command names that are not registered yet (fleet's lazyCreateUnits).

#include <string_view>
#include <vector>

#include "api/schema.h"
#include "fleetctl/command.h"

namespace fleet::fleetctl {

// fleet's lazyCreateUnits: creates every argument's unit that is not registered yet (from the
// local file, the registered template or a local template file), honouring --replace, then waits
// for each created unit to report `inactive`. On failure returns the text to print after
// `Error creating units: `.
//
// Beyond fleet: with kManyUnits or more new units they are created in batch requests that
// already carry `state` as their desired state (one request per chunk instead of a PUT to create
// and another to change the state, per unit); those are returned, in argument order, and not
// waited for as inactive (they never are). Fewer are created inactive, as fleet does.
Result<std::vector<api::Unit>> create_units(CommandContext& ctx,
                                            std::string_view state = api::kStateInactive);

}  // namespace fleet::fleetctl
