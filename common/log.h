#pragma once
// One line per event: `LEVEL component: message key=value...`.
// Where it goes is the process's choice (fleetd's main): stderr as text (with or without a
// leading RFC 3339 timestamp) or as one JSON object per line, or a sink such as journald's
// native protocol, which keeps the level as the entry's priority and each field as a field.

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace fleet::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

void set_level(Level l);
Level level();
bool enabled(Level l);

using Field = std::pair<std::string_view, std::string_view>;

struct Event {
  Level level;
  std::string_view component;
  std::string_view message;
  std::initializer_list<Field> fields;
};

enum class Format { text, json };
// How events reach stderr when no sink is set. Timestamps: UTC, milliseconds, RFC 3339.
void set_format(Format f);
void set_timestamps(bool on);
// Replaces stderr as the destination of events (nullptr: back to stderr). Called from the one
// thread that logs; the sink must not log itself.
using Sink = void (*)(const Event&);
void set_sink(Sink s);

// Values containing spaces, quotes, '=' or control bytes are quoted so lines stay
// machine-parseable. Control bytes (C0 and DEL) anywhere in the line are escaped Go-style (\n,
// \r, \t, \x1b), so text from a request can neither split an event into lines nor reach the
// terminal raw.
void write(Level l, std::string_view component, std::string_view message,
           std::initializer_list<Field> fields = {});
// The line write() prints in text format without timestamp, ending in '\n'.
std::string format_line(Level l, std::string_view component, std::string_view message,
                        std::initializer_list<Field> fields = {});
// The same event as one JSON object and '\n': {"time":..,"level":"info","component":..,
// "msg":..,<fields>}; `time` only when non-empty. Strings are escaped per RFC 8259 (control
// bytes as \u00XX), invalid UTF-8 bytes become U+FFFD.
std::string format_json(const Event& e, std::string_view time = {});
// "2026-12-06T07:55:01.123Z" for now.
std::string timestamp_now();
// Lower-case level name: debug, info, warn, error.
std::string_view level_name(Level l);

// The level of one line per item of a batch (a unit of a pass): info while the batch is small
// enough to read, debug beyond, with one summary line at info from the caller. A mass change of
// 500 units otherwise writes thousands of journal lines, which cost journald and fleetd a
// measurable share of the CPU the change needs.
inline constexpr std::size_t kItemLinesAtInfo = 50;
inline Level item_level(std::size_t batch) {
  return batch <= kItemLinesAtInfo ? Level::info : Level::debug;
}

inline void debug(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  if (enabled(Level::debug)) write(Level::debug, c, m, f);
}
inline void info(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::info, c, m, f);
}
inline void warn(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::warn, c, m, f);
}
inline void error(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::error, c, m, f);
}

}  // namespace fleet::log
