#pragma once
// Finding the registered units a unit command's arguments name: a GET per unit for a few, one
// listing for many.

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/schema.h"
#include "fleetctl/command.h"

namespace fleet::fleetctl {

// From this many units on, a command reads one listing instead of a GET per unit and changes
// their states with one batch request (ApiClient::set_desired_states).
inline constexpr std::size_t kManyUnits = 8;

// The registered units by name, read once when a command names many units.
using UnitIndex = std::map<std::string, api::Unit>;

// Many arguments: one listing answers every "is it registered?" instead of one GET per unit
// (200 sequential round trips were a third of `fleetctl start` of 200 submitted units). If the
// listing fails, each unit is asked for on its own, with that call's error reporting.

// `count` names to look up: one listing when there are many; nullopt when few or it failed.
// With `summaries` the listing leaves out the options (ApiClient::list_unit_summaries), for
// callers that need no more than names, states, reasons and api::is_global(Unit): at 10,000
// units the options are most of a listing's bytes.
std::optional<UnitIndex> index_registered_units(CommandContext& ctx, std::size_t count,
                                                bool summaries = false);

// The registered unit `name`: from `index` when there is one, else by a GET.
Result<std::optional<api::Unit>> registered_unit(CommandContext& ctx, const std::string& name,
                                                 const std::optional<UnitIndex>& index);

// The registered units named by the arguments (after mangling), in argument order. Arguments
// naming no unit are reported on stderr (`Unit <n> not found in registry, skipping`).
Result<std::vector<api::Unit>> find_units(CommandContext& ctx);

// stop and unload's common start: the registered units named by the arguments; nullopt after
// printing `No units given` or `Units not found in registry` (*exit = kExitOk) or the API error
// (*exit = kExitFailure).
std::optional<std::vector<api::Unit>> registered_units_or_report(CommandContext& ctx, int* exit);

}  // namespace fleet::fleetctl
