#include "fleetd/config/goini.h"

#include "common/strings.h"

namespace fleet::fleetd {

namespace {

bool is_key_char(char c) { return c != '=' && c != ' ' && c != '\t'; }

std::string_view skip_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

// One logical line: mirrors goini's regexes, tried in its order.
bool parse_line(std::string_view line, std::string& section, int lineno,
                std::vector<IniEntry>& out) {
  if (line.front() == '#' || line.front() == ';') return true;
  if (line.front() == '[' && line.back() == ']' && line.size() >= 2) {
    section = to_lower(trim(line.substr(1, line.size() - 2)));
    return true;
  }
  size_t k = 0;
  while (k < line.size() && is_key_char(line[k])) ++k;
  if (k == 0) return false;
  std::string key = to_lower(line.substr(0, k));
  std::string_view rest = skip_blanks(line.substr(k));
  if (rest.empty()) {
    if (k != line.size()) return false;  // "key  " cannot happen after trim; kept for clarity
    out.push_back({section, key, "", lineno});  // bare key
    return true;
  }
  if (rest.front() != '=') return false;
  rest = skip_blanks(rest.substr(1));
  // Whole-value quotes, with no quote of the same kind inside.
  for (char q : {'"', '\''}) {
    if (rest.size() >= 2 && rest.front() == q && rest.back() == q &&
        rest.substr(1, rest.size() - 2).find(q) == std::string_view::npos) {
      out.push_back({section, key, std::string(rest.substr(1, rest.size() - 2)), lineno});
      return true;
    }
  }
  auto end = rest.find_first_of("#;");
  out.push_back({section, key, std::string(trim(rest.substr(0, end))), lineno});
  return true;
}

}  // namespace

Result<std::vector<IniEntry>> parse_goini(std::string_view text) {
  std::vector<std::string_view> lines;
  for (size_t start = 0; start <= text.size();) {
    auto nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      if (start < text.size()) lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  std::vector<IniEntry> out;
  std::string section;
  for (size_t i = 0; i < lines.size(); ++i) {
    int lineno = static_cast<int>(i) + 1;
    std::string line(trim(lines[i]));
    if (line.empty()) continue;
    while (!line.empty() && line.back() == '\\') {
      line.pop_back();
      if (++i >= lines.size()) {
        return fail(Errc::invalid_argument,
                    "line " + std::to_string(lineno) + " ends with '\\' but no line follows");
      }
      line += trim(lines[i]);
    }
    if (line.empty()) continue;
    if (!parse_line(line, section, lineno, out)) {
      return fail(Errc::invalid_argument,
                  "syntax error at line " + std::to_string(lineno) + ": expected key = value");
    }
  }
  return out;
}

}  // namespace fleet::fleetd
