#pragma once
// The column formatting of Go's `tabwriter.NewWriter(out, 0, 8, 1, '\t', 0)` that fleetctl's
// tables and help use: cells end at '\t', lines at '\n'; a column block is a run of consecutive
// lines that have a cell in that column; each terminated cell is padded with TABs to the block's
// width (max text width + 1, rounded up to a multiple of 8); the last cell of a line is unpadded.
// Widths count UTF-8 code points, like Go.

#include <string>
#include <string_view>

namespace fleet::fleetctl {

std::string tabwrite(std::string_view text);

}  // namespace fleet::fleetctl
