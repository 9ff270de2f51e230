#include "common/log.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
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
Format g_format = Format::text;
bool g_timestamps = false;
Sink g_sink = nullptr;

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
void set_format(Format f) { g_format = f; }
void set_timestamps(bool on) { g_timestamps = on; }
void set_sink(Sink s) { g_sink = s; }

std::string_view level_name(Level l) {
  static constexpr std::string_view kNames[] = {"debug", "info", "warn", "error"};
  return kNames[static_cast<int>(l)];
}

std::string timestamp_now() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto secs = system_clock::to_time_t(now);
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];  // sized for any int fields, so the compiler can prove no truncation
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

namespace {
// RFC 8259 string body. Bytes of invalid UTF-8 become U+FFFD so every line parses.
void append_json_string(std::string& out, std::string_view v) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (std::size_t i = 0; i < v.size();) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c < 0x80) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c < 0x20 || c == 0x7f) {
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
      } else {
        out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // Length of a well-formed sequence starting here, 0 if it is not one.
    std::size_t len = 0;
    if (c >= 0xc2 && c <= 0xdf)
      len = 2;
    else if (c >= 0xe0 && c <= 0xef)
      len = 3;
    else if (c >= 0xf0 && c <= 0xf4)
      len = 4;
    bool ok = len > 0 && i + len <= v.size();
    for (std::size_t k = 1; ok && k < len; ++k)
      ok = (static_cast<unsigned char>(v[i + k]) & 0xc0) == 0x80;
    if (ok && len == 3) {
      const auto c1 = static_cast<unsigned char>(v[i + 1]);
      ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);  // overlong, surrogates
    }
    if (ok && len == 4) {
      const auto c1 = static_cast<unsigned char>(v[i + 1]);
      ok = !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
    }
    if (ok) {
      out.append(v.substr(i, len));
      i += len;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  out += '"';
}
}  // namespace

std::string format_json(const Event& e, std::string_view time) {
  std::string out = "{";
  if (!time.empty()) {
    out += "\"time\":";
    append_json_string(out, time);
    out += ',';
  }
  out += "\"level\":";
  append_json_string(out, level_name(e.level));
  out += ",\"component\":";
  append_json_string(out, e.component);
  out += ",\"msg\":";
  append_json_string(out, e.message);
  for (const auto& [k, v] : e.fields) {
    out += ',';
    append_json_string(out, k);
    out += ':';
    append_json_string(out, v);
  }
  out += "}\n";
  return out;
}
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
  const Event e{l, component, message, fields};
  if (g_sink) {
    g_sink(e);
    return;
  }
  std::string line;
  if (g_format == Format::json) {
    line = format_json(e, g_timestamps ? timestamp_now() : std::string());
  } else {
    if (g_timestamps) line = timestamp_now() + " ";
    line += format_line(l, component, message, fields);
  }
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace log
}  // namespace fleet
