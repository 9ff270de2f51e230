#pragma once
// What the unit commands share: finding units by argument, creating them
// from local files or templates, changing desired states and waiting for current states.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/schema.h"
#include "fleetctl/command.h"

namespace fleet::fleetctl {

// --no-block → -1, --block-attempts=N (N > 0) → N, else 0 (wait without limit).
int block_attempts(const FlagValues& flags);

// The registered units named by the arguments (after mangling), in argument order. Arguments
// naming no unit are reported on stderr (`Unit <n> not found in registry, skipping`).
Result<std::vector<api::Unit>> find_units(CommandContext& ctx);

// fleet's lazyCreateUnits: creates every argument's unit that is not registered yet (from the
// local file, the registered template or a local template file), honouring --replace, then waits
// for each created unit to report `inactive`. On failure returns the text to print after
// `Error creating units: `.
Status create_units(CommandContext& ctx);

// From this many units on, a command reads one listing instead of a GET per unit and changes
// their states with one batch request (ApiClient::set_desired_states).
inline constexpr std::size_t kManyUnits = 8;

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

// stop and unload's common start: the registered units named by the arguments; nullopt after
// printing `No units given` or `Units not found in registry` (*exit = kExitOk) or the API error
// (*exit = kExitFailure).
std::optional<std::vector<api::Unit>> registered_units_or_report(CommandContext& ctx, int* exit);

// Waits until each unit's current state is `state` (desired state for global units), printing
// `Unit <n> <state>[ on <machine>]` as each arrives; with attempts -1 prints
// `Triggered unit <n> <verb>` instead. Returns the first error (also printed as
// `Error waiting for units: <err>`).
Status wait_for_unit_states(CommandContext& ctx, const std::vector<std::string>& names,
                            std::string_view verb, std::string_view state, int attempts);

// stop/unload's ending: waits for `names` to reach `state`, then reports on stderr
// `Successfully <past> units [..].` (exit 0) or `Failed to <verb> units [..]. err: <e>` (exit 1).
int wait_and_report(CommandContext& ctx, const std::vector<std::string>& names,
                    std::string_view verb, std::string_view past, std::string_view state);

// After `start`: waits until systemd reports each unit loaded+active. Prints each failure as
// `Error waiting for units: <err>`.
Status wait_for_systemd_active(CommandContext& ctx, const std::vector<std::string>& names,
                               int attempts);

// `<id8>...` (or the full ID) plus `/<ip>` when known (fleet's machineFullLegend).
std::string machine_legend(const api::Machine& m, bool full);
// The legend of a machine ID using the cluster's machine list (fetched once per context).
std::optional<api::Machine> cached_machine(CommandContext& ctx, const std::string& id);

// Go's fmt `%v` of a string slice: `[a b c]`.
std::string go_list(const std::vector<std::string>& v);

}  // namespace fleet::fleetctl
