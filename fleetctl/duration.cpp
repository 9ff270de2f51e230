#include "fleetctl/duration.h"

#include <algorithm>
#include <cmath>

namespace fleet::fleetctl {

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto invalid = [&] {
    return fail(Errc::invalid_argument, "invalid duration \"" + std::string(text) + "\"");
  };
  if (text == "0") return std::chrono::milliseconds(0);
  if (text.empty()) return invalid();
  std::string_view rest = text;
  double total_ms = 0;
  while (!rest.empty()) {
    std::size_t n = 0;
    bool digits = false;
    while (n < rest.size() && ((rest[n] >= '0' && rest[n] <= '9') || rest[n] == '.')) {
      digits = digits || rest[n] != '.';
      ++n;
    }
    if (!digits) return invalid();
    std::string number(rest.substr(0, n));
    if (std::count(number.begin(), number.end(), '.') > 1) return invalid();
    rest.remove_prefix(n);
    std::size_t u = 0;
    while (u < rest.size() && !((rest[u] >= '0' && rest[u] <= '9') || rest[u] == '.')) ++u;
    std::string_view unit = rest.substr(0, u);
    rest.remove_prefix(u);
    double scale = 0;
    if (unit == "ns")
      scale = 1e-6;
    else if (unit == "us" || unit == "µs")
      scale = 1e-3;
    else if (unit == "ms")
      scale = 1;
    else if (unit == "s")
      scale = 1e3;
    else if (unit == "m")
      scale = 60e3;
    else if (unit == "h")
      scale = 3600e3;
    else
      return invalid();
    total_ms += std::stod(number) * scale;
    if (total_ms > 1e15) return invalid();  // beyond any wait worth asking for
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(total_ms)));
}

std::string format_duration(std::chrono::milliseconds d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  if (ms < 1000) return std::to_string(ms) + "ms";
  std::string out;
  std::int64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  out += std::to_string(s);
  if (frac > 0) {
    std::string f = std::to_string(frac + 1000).substr(1);
    while (f.back() == '0') f.pop_back();
    out += "." + f;
  }
  return out + "s";
}

}  // namespace fleet::fleetctl
