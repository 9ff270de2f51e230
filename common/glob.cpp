#include "common/glob.h"

#include <cstdint>

#include "common/utf8.h"

// The algorithm follows Go's path.Match (src/path/match.go): the pattern is cut into chunks, each
// an optional run of stars followed by text up to the next star outside a class. A chunk is
// tried at the current position, and when it has a star, at each later position up to the next
// '/'; the first position that fits is kept. Every chunk is parsed in full even after a mismatch,
// so a malformed pattern is reported for any name.

namespace fleet {
namespace {

struct Rune {
  char32_t value = kRuneError;
  size_t size = 0;  // bytes consumed; 0 only for empty input
};

Rune decode(std::string_view s) {
  DecodedRune d = decode_utf8_rune(s);
  return {d.rune, d.width};
}

struct Chunk {
  bool star = false;
  std::string_view text;
};

// Splits off the next chunk: leading stars, then text up to a star outside a class.
Chunk next_chunk(std::string_view& pattern) {
  Chunk c;
  while (!pattern.empty() && pattern.front() == '*') {
    pattern.remove_prefix(1);
    c.star = true;
  }
  bool in_class = false;
  size_t i = 0;
  for (; i < pattern.size(); ++i) {
    char ch = pattern[i];
    if (ch == '\\') {
      if (i + 1 < pattern.size()) ++i;  // a lone trailing '\' is reported by match_chunk
    } else if (ch == '[') {
      in_class = true;
    } else if (ch == ']') {
      in_class = false;
    } else if (ch == '*' && !in_class) {
      break;
    }
  }
  c.text = pattern.substr(0, i);
  pattern.remove_prefix(i);
  return c;
}

enum class Outcome { match, mismatch, malformed };

class Matcher {
 public:
  explicit Matcher(size_t* steps) : steps_(steps) {}

  // Matches `chunk` against the start of `s`; on a match, `rest` is what follows in `s`.
  Outcome match_chunk(std::string_view chunk, std::string_view s, std::string_view& rest) {
    bool failed = false;
    while (!chunk.empty()) {
      count();
      if (s.empty()) failed = true;
      char pc = chunk.front();
      if (pc == '[') {
        char32_t r = 0;
        if (!failed) {
          Rune d = decode(s);
          r = d.value;
          s.remove_prefix(d.size);
        }
        chunk.remove_prefix(1);
        if (!class_matches(chunk, r, failed)) return Outcome::malformed;
      } else if (pc == '?') {
        if (!failed) {
          if (s.front() == '/') failed = true;
          s.remove_prefix(decode(s).size);
        }
        chunk.remove_prefix(1);
      } else {
        if (pc == '\\') {
          chunk.remove_prefix(1);
          if (chunk.empty()) return Outcome::malformed;
        }
        if (!failed) {
          if (chunk.front() != s.front()) failed = true;
          s.remove_prefix(1);
        }
        chunk.remove_prefix(1);
      }
    }
    if (failed) return Outcome::mismatch;
    rest = s;
    return Outcome::match;
  }

 private:
  // Parses a class after its '[' (advancing `chunk` past the ']') and sets `failed` when `r` is
  // not in it. Returns false when the class is malformed.
  bool class_matches(std::string_view& chunk, char32_t r, bool& failed) {
    bool negated = false;
    if (!chunk.empty() && chunk.front() == '^') {
      negated = true;
      chunk.remove_prefix(1);
    }
    bool matched = false;
    for (size_t ranges = 0;; ++ranges) {
      count();
      if (!chunk.empty() && chunk.front() == ']' && ranges > 0) {
        chunk.remove_prefix(1);
        break;
      }
      char32_t lo = 0, hi = 0;
      if (!class_char(chunk, lo)) return false;
      hi = lo;
      if (chunk.front() == '-') {  // class_char left at least one byte
        chunk.remove_prefix(1);
        if (!class_char(chunk, hi)) return false;
      }
      if (lo <= r && r <= hi) matched = true;
    }
    if (matched == negated) failed = true;
    return true;
  }

  // One (possibly escaped) character of a class; false when there is none, it is invalid UTF-8,
  // or the class ends right after it without its ']'.
  static bool class_char(std::string_view& chunk, char32_t& out) {
    if (chunk.empty() || chunk.front() == '-' || chunk.front() == ']') return false;
    if (chunk.front() == '\\') {
      chunk.remove_prefix(1);
      if (chunk.empty()) return false;
    }
    Rune d = decode(chunk);
    if (d.value == kRuneError && d.size == 1) return false;
    chunk.remove_prefix(d.size);
    out = d.value;
    return !chunk.empty();
  }

  void count() {
    if (steps_) ++*steps_;
  }

  size_t* steps_;
};

// After a mismatch: the rest of the pattern must still be well formed, or the answer is an error.
bool rest_well_formed(Matcher& m, std::string_view pattern) {
  std::string_view ignored;
  while (!pattern.empty()) {
    Chunk c = next_chunk(pattern);
    if (m.match_chunk(c.text, "", ignored) == Outcome::malformed) return false;
  }
  return true;
}

}  // namespace

std::optional<bool> glob_match_checked(std::string_view pattern, std::string_view name,
                                       size_t* steps) {
  if (steps) *steps = 0;
  Matcher m(steps);
  while (!pattern.empty()) {
    Chunk c = next_chunk(pattern);
    bool last = pattern.empty();
    if (c.star && c.text.empty()) return name.find('/') == std::string_view::npos;
    std::string_view rest;
    Outcome o = m.match_chunk(c.text, name, rest);
    if (o == Outcome::malformed) return std::nullopt;
    // The last chunk must use up the name; otherwise a star before it may still skip ahead.
    if (o == Outcome::match && (rest.empty() || !last)) {
      name = rest;
      continue;
    }
    bool advanced = false;
    if (c.star) {
      // Skip 1, 2, ... characters (bytes, as path.Match does), never past a '/'.
      for (size_t i = 0; i < name.size() && name[i] != '/'; ++i) {
        o = m.match_chunk(c.text, name.substr(i + 1), rest);
        if (o == Outcome::malformed) return std::nullopt;
        if (o == Outcome::match) {
          if (last && !rest.empty()) continue;
          name = rest;
          advanced = true;
          break;
        }
      }
    }
    if (advanced) continue;
    if (!rest_well_formed(m, pattern)) return std::nullopt;
    return false;
  }
  return name.empty();
}

}  // namespace fleet
