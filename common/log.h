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

// Values containing spaces or quotes are quoted so lines stay machine-parseable.
void write(Level l, std::string_view component, std::string_view message,
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
