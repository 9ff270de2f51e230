#include "fleetd/config/config_values.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>

#include "common/strings.h"

namespace fleet::fleetd {

namespace {

constexpr std::string_view kDurationHint = "expected a duration like 30s, 1m30s or 500ms";

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Nanoseconds per unit, longest spellings first so "ms" is not read as "m".
struct Unit {
  std::string_view name;
  int64_t ns;
};
constexpr Unit kUnits[] = {
    {"ns", 1},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000},  // U+00B5 micro sign
    {"\xCE\xBCs", 1'000},  // U+03BC Greek mu
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
};

}  // namespace

Result<std::chrono::nanoseconds> parse_go_duration(std::string_view s) {
  auto bad = [&](std::string_view why = {}) {
    std::string msg(kDurationHint);
    if (!why.empty()) msg += std::string(" (") + std::string(why) + ")";
    return fail(Errc::invalid_argument, std::move(msg));
  };
  std::string_view rest = s;
  bool negative = false;
  if (!rest.empty() && (rest.front() == '-' || rest.front() == '+')) {
    negative = rest.front() == '-';
    rest.remove_prefix(1);
  }
  if (rest == "0") return std::chrono::nanoseconds(0);
  if (rest.empty()) return bad();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t total = 0;
  while (!rest.empty()) {
    // Integer part, then an optional fraction; at least one digit overall.
    int64_t whole = 0;
    size_t i = 0;
    bool overflow = false;
    while (i < rest.size() && is_digit(rest[i])) {
      if (__builtin_mul_overflow(whole, int64_t{10}, &whole) ||
          __builtin_add_overflow(whole, int64_t{rest[i] - '0'}, &whole)) {
        overflow = true;
      }
      ++i;
    }
    bool had_digits = i > 0;
    double frac = 0;
    if (i < rest.size() && rest[i] == '.') {
      ++i;
      double scale = 0.1;
      while (i < rest.size() && is_digit(rest[i])) {
        frac += (rest[i] - '0') * scale;
        scale /= 10;
        had_digits = true;
        ++i;
      }
    }
    if (!had_digits) return bad();
    if (overflow) return bad("out of range");
    rest.remove_prefix(i);
    const Unit* unit = nullptr;
    for (const auto& u : kUnits) {
      if (rest.substr(0, u.name.size()) == u.name &&
          (unit == nullptr || u.name.size() > unit->name.size())) {
        unit = &u;
      }
    }
    if (unit == nullptr)
      return bad(rest.empty() || is_digit(rest.front()) ? "missing unit" : "unknown unit");
    rest.remove_prefix(unit->name.size());
    int64_t part = 0;
    if (__builtin_mul_overflow(whole, unit->ns, &part)) return bad("out of range");
    auto frac_ns = static_cast<double>(unit->ns) * frac;
    if (frac_ns >= static_cast<double>(kMax) ||
        __builtin_add_overflow(part, static_cast<int64_t>(frac_ns), &part) ||
        __builtin_add_overflow(total, part, &total)) {
      return bad("out of range");
    }
  }
  return std::chrono::nanoseconds(negative ? -total : total);
}

Result<Duration> parse_duration(std::string_view s) {
  auto d = parse_go_duration(trim(s));
  if (!d) return d.error();
  if (d.value().count() < 0) return fail(Errc::invalid_argument, "expected a positive duration");
  return std::chrono::duration_cast<Duration>(d.value());
}

Result<Duration> parse_seconds(std::string_view raw) {
  auto s = trim(raw);
  double secs = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), secs);
  if (!s.empty() && ec == std::errc() && end == s.data() + s.size()) {
    if (!std::isfinite(secs) || secs < 0 || secs > 1e9) {
      return fail(Errc::invalid_argument, "expected a positive number of seconds");
    }
    return Duration(static_cast<int64_t>(std::llround(secs * 1000)));
  }
  auto d = parse_go_duration(s);
  if (!d) {
    return fail(Errc::invalid_argument,
                "expected a number of seconds like 2 or 0.5, or a duration like 500ms");
  }
  if (d.value().count() < 0) return fail(Errc::invalid_argument, "expected a positive duration");
  return std::chrono::duration_cast<Duration>(d.value());
}

Result<int> parse_int(std::string_view raw) {
  auto s = trim(raw);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  int v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
    return fail(Errc::invalid_argument, "expected an integer");
  }
  return v;
}

Result<bool> parse_bool(std::string_view raw) {
  auto l = to_lower(trim(raw));
  if (l == "1" || l == "t" || l == "true" || l == "y" || l == "yes" || l == "on") return true;
  if (l == "0" || l == "f" || l == "false" || l == "n" || l == "no" || l == "off") return false;
  return fail(Errc::invalid_argument, "expected true or false");
}

std::vector<std::string> parse_list(std::string_view s) {
  std::vector<std::string> out;
  for (const auto& item : split(s, ',')) {
    std::string_view v = item;
    while (!v.empty() &&
           (v.front() == ' ' || v.front() == '[' || v.front() == '"' || v.front() == '\t')) {
      v.remove_prefix(1);
    }
    while (!v.empty() &&
           (v.back() == ' ' || v.back() == ']' || v.back() == '"' || v.back() == '\t')) {
      v.remove_suffix(1);
    }
    if (!v.empty()) out.emplace_back(v);
  }
  return out;
}

Result<std::map<std::string, std::string>> parse_metadata(std::string_view s) {
  std::map<std::string, std::string> out;
  for (const auto& entry : split(s, ',')) {
    if (trim(entry).empty()) continue;
    auto eq = entry.find('=');
    if (eq == std::string::npos) {
      return fail(Errc::invalid_argument, "expected key=value pairs separated by commas, got \"" +
                                              std::string(trim(entry)) + "\"");
    }
    auto key = trim(std::string_view(entry).substr(0, eq));
    if (key.empty()) {
      return fail(Errc::invalid_argument, "expected key=value pairs, got an empty key in \"" +
                                              std::string(trim(entry)) + "\"");
    }
    out[std::string(key)] = std::string(trim(std::string_view(entry).substr(eq + 1)));
  }
  return out;
}

std::string format_duration(Duration d) {
  auto ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  if (ms < 1000) return out + std::to_string(ms) + "ms";
  auto h = ms / 3'600'000;
  auto m = (ms / 60'000) % 60;
  auto rem_ms = ms % 60'000;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  out += format_seconds(Duration(rem_ms)) + "s";
  return out;
}

std::string format_seconds(Duration d) {
  auto ms = d.count();
  std::string out = std::to_string(ms / 1000);
  if (auto frac = ms % 1000; frac != 0) {
    std::string f = std::to_string(frac);
    f.insert(0, 3 - f.size(), '0');
    while (f.back() == '0') f.pop_back();
    out += "." + f;
  }
  return out;
}

}  // namespace fleet::fleetd
