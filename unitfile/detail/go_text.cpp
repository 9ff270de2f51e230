#include "unitfile/detail/go_text.h"

#include <cstdio>

namespace fleet::unitfile::detail {
namespace {

bool is_go_print(char32_t r) {
  if (r < 0x20 || r == 0x7F) return false;
  if (r < 0x7F) return true;
  if (r >= 0x80 && r <= 0xA0) return false;  // C1 controls and NBSP (IsPrint allows only U+0020)
  if (r == 0xAD) return false;
  if (r == 0x1680 || (r >= 0x2000 && r <= 0x200F) || (r >= 0x2028 && r <= 0x202F)) return false;
  if ((r >= 0x205F && r <= 0x2064) || (r >= 0x2066 && r <= 0x206F) || r == 0x3000) return false;
  if (r == 0x061C || r == 0x180E || r == 0xFEFF || (r >= 0xFFF9 && r <= 0xFFFB)) return false;
  if ((r >= 0x0600 && r <= 0x0605) || r == 0x06DD || r == 0x070F) return false;
  if ((r >= 0xD800 && r <= 0xF8FF) || r == 0xFFFE || r == 0xFFFF) return false;
  if (r >= 0xF0000 || r > 0x10FFFF) return false;
  return true;
}

// Escapes one rune the way strconv.Quote/QuoteRune do; `quote` is the surrounding quote char.
void append_quoted_rune(std::string& out, char32_t r, char quote) {
  if (r == static_cast<char32_t>(quote) || r == '\\') {
    out += '\\';
    out += static_cast<char>(r);
    return;
  }
  if (is_go_print(r)) {
    append_utf8(out, r);
    return;
  }
  char buf[16];
  switch (r) {
    case '\a':
      out += "\\a";
      return;
    case '\b':
      out += "\\b";
      return;
    case '\f':
      out += "\\f";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\v':
      out += "\\v";
      return;
    default:
      break;
  }
  if (r < 0x20 || r == 0x7F) {
    std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(r));
  } else if (r < 0x10000) {
    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(r));
  } else {
    std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(r));
  }
  out += buf;
}

}  // namespace

bool is_go_space(char32_t r) {
  switch (r) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return r >= 0x2000 && r <= 0x200A;
  }
}

std::string_view go_trim_space(std::string_view s) {
  while (!s.empty()) {
    auto d = decode_rune(s, 0);
    if (!d.valid || !is_go_space(d.rune)) break;
    s.remove_prefix(d.width);
  }
  // Every multi-byte space starts with a lead byte, so checking each possible width from the
  // end finds the same rune Go's DecodeLastRune would.
  while (!s.empty()) {
    std::size_t width = 0;
    for (std::size_t w = 1; w <= 3 && w <= s.size(); ++w) {
      auto d = decode_rune(s, s.size() - w);
      if (d.valid && d.width == w && is_go_space(d.rune)) {
        width = w;
        break;
      }
    }
    if (width == 0) break;
    s.remove_suffix(width);
  }
  return s;
}

std::string go_quote_rune(char32_t r) {
  std::string out = "'";
  append_quoted_rune(out, r, '\'');
  out += '\'';
  return out;
}

std::string go_quote(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    auto d = decode_rune(s, i);
    if (!d.valid) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(s[i]));
      out += buf;
    } else {
      append_quoted_rune(out, d.rune, '"');
    }
    i += d.width;
  }
  out += '"';
  return out;
}

}  // namespace fleet::unitfile::detail
