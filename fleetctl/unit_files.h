#pragma once
// Where the options of a unit fleetctl creates come from (fleet's getUnitFile): the local file
// the argument names, else for a template instance its template, from the registry or from a
// local file next to the argument. And fleet's comparison of a registered unit with its local
// file, which decides what --replace does.

#include <string>

#include "api/schema.h"
#include "fleetctl/command.h"
#include "fleetctl/unit_source.h"

namespace fleet::fleetctl {

// fleet's isLocalUnitDifferent: compares with the local file, or for an instance without its
// own file, with the local template file. Warns when they differ and --replace is not given.
Result<bool> is_local_unit_different(CommandContext& ctx, const std::string& path,
                                     const api::Unit& su, bool replace);

// fleet's getUnitFile: the local file, else the template of an instance. Errors are the text
// fleetctl prints after `Error creating units: `.
Result<Options> unit_options_for(CommandContext& ctx, const std::string& path,
                                 const std::string& name, bool replace);

}  // namespace fleet::fleetctl
