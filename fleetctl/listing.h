#pragma once
// The listing commands' shared output: --fields validation, tab-aligned tables with upper-case
// headers and, beyond fleet, `--format json` (the API schema objects).

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "fleetctl/command.h"

namespace fleet::fleetctl {

enum class ListingFormat { table, json };

struct Listing {
  ListingFormat format = ListingFormat::table;
  std::vector<std::string> columns;
  bool legend = true;
  bool full = false;
};

// Reads --format/--fields/--no-legend/--full. Prints the error (`Must define output format`,
// `Invalid key in output format: "<f>"`, `Invalid output format "<f>": use table or json`) and
// returns nullopt when they are invalid.
std::optional<Listing> parse_listing(CommandContext& ctx, const std::vector<std::string>& known);

// Prints the table: header (unless --no-legend) then one line per row.
void print_table(CommandContext& ctx, const Listing& listing, std::size_t rows,
                 const std::function<std::string(std::size_t row, const std::string& col)>& cell);

// Go's %q for a string.
std::string go_quote(std::string_view s);

}  // namespace fleet::fleetctl
