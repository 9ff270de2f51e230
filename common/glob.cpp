#include "common/glob.h"

namespace fleet {
namespace {

// Matches one class starting after '['; advances `p` past ']'. nullopt if malformed.
std::optional<bool> match_class(std::string_view pat, size_t& p, char c) {
  bool negated = false;
  if (p < pat.size() && pat[p] == '^') {
    negated = true;
    ++p;
  }
  bool matched = false;
  bool first = true;
  while (true) {
    if (p >= pat.size()) return std::nullopt;
    if (pat[p] == ']' && !first) {
      ++p;
      break;
    }
    first = false;
    auto read_char = [&](char& out) -> bool {
      if (p >= pat.size()) return false;
      if (pat[p] == '\\') {
        ++p;
        if (p >= pat.size()) return false;
      } else if (pat[p] == '-' || pat[p] == ']') {
        return false;
      }
      out = pat[p++];
      return true;
    };
    char lo = 0;
    if (!read_char(lo)) return std::nullopt;
    char hi = lo;
    if (p < pat.size() && pat[p] == '-') {
      ++p;
      if (!read_char(hi)) return std::nullopt;
    }
    if (lo <= c && c <= hi) matched = true;
  }
  return matched != negated;
}

// Validates the remainder of a pattern so that malformed patterns are reported even when the
// name ran out early (Go reports ErrBadPattern in that case too).
bool well_formed(std::string_view pat) {
  for (size_t p = 0; p < pat.size();) {
    if (pat[p] == '\\') {
      if (p + 1 >= pat.size()) return false;
      p += 2;
    } else if (pat[p] == '[') {
      ++p;
      if (!match_class(pat, p, '\0').has_value()) return false;
    } else {
      ++p;
    }
  }
  return true;
}

bool match_from(std::string_view pat, size_t p, std::string_view s, size_t i) {
  while (p < pat.size()) {
    char pc = pat[p];
    if (pc == '*') {
      while (p < pat.size() && pat[p] == '*') ++p;
      if (p == pat.size()) return s.find('/', i) == std::string_view::npos;
      for (size_t j = i; j <= s.size(); ++j) {
        if (match_from(pat, p, s, j)) return true;
        if (j < s.size() && s[j] == '/') break;
      }
      return false;
    }
    if (i >= s.size()) return false;
    if (pc == '?') {
      if (s[i] == '/') return false;
      ++p;
      ++i;
    } else if (pc == '[') {
      ++p;
      auto r = match_class(pat, p, s[i]);
      if (!r || !*r) return false;
      ++i;
    } else {
      if (pc == '\\') ++p;
      if (p >= pat.size() || pat[p] != s[i]) return false;
      ++p;
      ++i;
    }
  }
  return i == s.size();
}

}  // namespace

std::optional<bool> glob_match_checked(std::string_view pattern, std::string_view name) {
  if (!well_formed(pattern)) return std::nullopt;
  return match_from(pattern, 0, name, 0);
}

}  // namespace fleet
