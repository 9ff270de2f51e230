#pragma once
// One line per event on stderr: `LEVEL component: message key=value...`.
// journald adds timestamps, so none are printed here.

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

// Values containing spaces, quotes, '=' or control bytes are quoted so lines stay
// machine-parseable. Control bytes (C0 and DEL) anywhere in the line are escaped Go-style (\n,
// \r, \t, \x1b), so text from a request can neither split an event into lines nor reach the
// terminal raw.
void write(Level l, std::string_view component, std::string_view message,
           std::initializer_list<Field> fields = {});
// The line write() prints, ending in '\n'.
std::string format_line(Level l, std::string_view component, std::string_view message,
                        std::initializer_list<Field> fields = {});

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
