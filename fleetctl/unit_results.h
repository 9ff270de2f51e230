#pragma once
// `--format json` for start/stop/load/unload/destroy: instead of fleet's text lines, one JSON
// object per named unit per line, `{"name":..,"machine":..,"state":..,"error":..}`, so scripts
// need not parse fleet's prose. The commands record the per-unit errors they meet while running
// (record_unit_error); the objects are written once the command is done, from the units' state
// as the API reports it then.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "fleetctl/command.h"

namespace fleet::fleetctl {

enum class ResultFormat { text, json };

// The unit commands' --format flag (text, fleet's lines, is the default).
FlagSpec result_format_flag();

// Reads --format; prints `Invalid output format "<f>": use text or json` and returns nullopt
// when it is neither.
std::optional<ResultFormat> result_format(const FlagValues& flags, std::ostream& err);

// The first error met per unit, by unit name.
using UnitErrors = std::map<std::string, std::string, std::less<>>;

// Remembers `message` as `name`'s error when the command reports results as JSON (ctx.errors
// set); the first error of a unit wins.
void record_unit_error(CommandContext& ctx, std::string_view name, std::string_view message);

// Writes one line per unit the arguments name (mangled, in argument order, each once) to `out`:
// its machine ID (null when not scheduled), current state (the desired state for global units;
// "destroyed" after a destroy removed it; null when it is not registered) and recorded error.
void print_unit_results(CommandContext& ctx, std::ostream& out);

}  // namespace fleet::fleetctl
