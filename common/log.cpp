#include "common/log.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "common/result.h"

namespace fleet {

std::string_view to_string(Errc c) {
  switch (c) {
    case Errc::not_found:
      return "not found";
    case Errc::already_exists:
      return "already exists";
    case Errc::conflict:
      return "conflict";
    case Errc::invalid_argument:
      return "invalid argument";
    case Errc::unavailable:
      return "unavailable";
    case Errc::timeout:
      return "timeout";
    case Errc::cancelled:
      return "cancelled";
    case Errc::internal:
      return "internal error";
  }
  return "unknown error";
}

namespace log {
namespace {
Level g_level = Level::info;

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

// Control bytes (C0 and DEL) reach the log from requests (unit names, headers, bodies): written
// raw, a CR or LF would forge a log line and an ESC would drive the reader's terminal. They are
// written as Go's %q writes them (\n, \r, \t, \x1b), so one event stays one safe line.
void append_escaped(std::string& out, std::string_view v, bool quoted) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if (quoted && (ch == '"' || ch == '\\')) {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (is_control(c)) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
}

void append_value(std::string& out, std::string_view v) {
  bool quote = v.empty() || v.find_first_of(" \"=\\") != std::string_view::npos ||
               std::any_of(v.begin(), v.end(),
                           [](char ch) { return is_control(static_cast<unsigned char>(ch)); });
  if (!quote) {
    out += v;
    return;
  }
  out += '"';
  append_escaped(out, v, true);
  out += '"';
}
}  // namespace

void set_level(Level l) { g_level = l; }
Level level() { return g_level; }
bool enabled(Level l) { return static_cast<int>(l) >= static_cast<int>(g_level); }

std::string format_line(Level l, std::string_view component, std::string_view message,
                        std::initializer_list<Field> fields) {
  static constexpr const char* kNames[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  std::string line = kNames[static_cast<int>(l)];
  line += ' ';
  append_escaped(line, component, false);
  line += ": ";
  append_escaped(line, message, false);
  for (const auto& [k, v] : fields) {
    line += ' ';
    append_escaped(line, k, false);
    line += '=';
    append_value(line, v);
  }
  line += '\n';
  return line;
}

void write(Level l, std::string_view component, std::string_view message,
           std::initializer_list<Field> fields) {
  if (!enabled(l)) return;
  const std::string line = format_line(l, component, message, fields);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace log
}  // namespace fleet
