#pragma once
// Durations on the command line, written as Go's time.ParseDuration reads them ("90s", "5m",
// "1h30m", "250ms", "1.5h"), since fleet's users know that form; and printed as Go prints them.

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"

namespace fleet::fleetctl {

// Units ns, us (µs), ms, s, m, h; a sign is refused (a wait cannot be negative). Errors say
// `invalid duration "<text>"`.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// "5m0s", "1h30m0s", "250ms", "0s": Go's Duration.String() at millisecond precision.
std::string format_duration(std::chrono::milliseconds d);

}  // namespace fleet::fleetctl
