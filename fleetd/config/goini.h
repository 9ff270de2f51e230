#pragma once
// fleet.conf syntax, as parsed by fleet's goini (github.com/rakyll/goini), so an existing fleet
// host's file reads the same here:
//   - lines are trimmed; blank lines are skipped; '#' or ';' as first character = comment
//   - a trailing '\' is removed and the next (trimmed) line appended, without a separator
//   - `[name]` starts a section (fleet only reads the section-less part)
//   - `key = "value"` / `key = 'value'`: a whole-value quote is stripped
//   - otherwise the value ends at the first '#' or ';' and is trimmed; `key =` and a bare `key`
//     give ""; keys contain no '=', space or tab and are lower-cased
//   - anything else is a syntax error

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace fleet::fleetd {

struct IniEntry {
  std::string section;  // "" for the global part; lower-cased
  std::string key;      // lower-cased
  std::string value;
  int line = 0;  // 1-based line where the entry starts
};

// Entries in file order (duplicates kept: the caller lets the later win). Errors name the line:
// "syntax error at line 3".
[[nodiscard]] Result<std::vector<IniEntry>> parse_goini(std::string_view text);

}  // namespace fleet::fleetd
