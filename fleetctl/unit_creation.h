#pragma once
// Creating the units a command names that are not registered yet (fleet's lazyCreateUnits).

#include "fleetctl/command.h"

namespace fleet::fleetctl {

// fleet's lazyCreateUnits: creates every argument's unit that is not registered yet (from the
// local file, the registered template or a local template file), honouring --replace, then waits
// for each created unit to report `inactive`. On failure returns the text to print after
// `Error creating units: `.
Status create_units(CommandContext& ctx);

}  // namespace fleet::fleetctl
