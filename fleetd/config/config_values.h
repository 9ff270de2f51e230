#pragma once
// Parsers for the value types of fleetd's configuration keys. Each returns the parsed value or an
// Error whose message is the reason only ("expected a duration like 30s"); the caller adds the key
// and the source so every message names both.

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace fleet::fleetd {

using Duration = std::chrono::milliseconds;

// Go's time.ParseDuration: "30s", "1m30s", "1.5h", "500ms", "-2s", "0"; units ns us µs ms s m h.
[[nodiscard]] Result<std::chrono::nanoseconds> parse_go_duration(std::string_view s);
// A Go duration rounded down to milliseconds; negative values are refused.
[[nodiscard]] Result<Duration> parse_duration(std::string_view s);
// fleet's float seconds ("1.0", "2", "0.5") or, as an extension, a Go duration ("500ms").
[[nodiscard]] Result<Duration> parse_seconds(std::string_view s);
// Decimal int (Go strconv.Atoi: optional sign).
[[nodiscard]] Result<int> parse_int(std::string_view s);
// 1 t true y yes on / 0 f false n no off, case-insensitive.
[[nodiscard]] Result<bool> parse_bool(std::string_view s);
// fleet's list rule: split on ',', strip leading ` ["` and trailing ` "]` from each item (so
// `["a","b"]` works), drop empty items.
std::vector<std::string> parse_list(std::string_view s);
// fleet's metadata rule `k=v,k2=v2` (keys and values trimmed, later duplicates win), except that an
// entry without '=' or with an empty key is refused instead of ignored. Empty entries are skipped.
[[nodiscard]] Result<std::map<std::string, std::string>> parse_metadata(std::string_view s);

// Go's Duration.String() over milliseconds: "30s", "1m30s", "500ms", "1h0m0s", "0s".
std::string format_duration(Duration d);
// Seconds the way fleet.conf writes them: "2", "0.5", "1.25".
std::string format_seconds(Duration d);

}  // namespace fleet::fleetd
