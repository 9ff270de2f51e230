#include "common/utf8.h"

#include <cstdint>

namespace fleet {

DecodedRune decode_utf8_rune(std::string_view s) {
  if (s.empty()) return {};
  auto b0 = static_cast<std::uint8_t>(s[0]);
  if (b0 < 0x80) return {b0, 1, true};
  std::size_t n = 0;
  char32_t value = 0, min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    n = 2, value = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3, value = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4, value = b0 & 0x07, min = 0x10000;
  } else {
    return {kRuneError, 1, false};
  }
  if (s.size() < n) return {kRuneError, 1, false};
  for (std::size_t i = 1; i < n; ++i) {
    auto b = static_cast<std::uint8_t>(s[i]);
    if ((b & 0xC0) != 0x80) return {kRuneError, 1, false};
    value = (value << 6) | (b & 0x3F);
  }
  if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
    return {kRuneError, 1, false};
  }
  return {value, n, true};
}

void append_utf8(std::string& out, char32_t r) {
  if (r < 0x80) {
    out += static_cast<char>(r);
  } else if (r < 0x800) {
    out += static_cast<char>(0xC0 | (r >> 6));
    out += static_cast<char>(0x80 | (r & 0x3F));
  } else if (r < 0x10000) {
    out += static_cast<char>(0xE0 | (r >> 12));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (r & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (r >> 18));
    out += static_cast<char>(0x80 | ((r >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (r & 0x3F));
  }
}

bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<std::uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    auto d = decode_utf8_rune(s.substr(i));
    if (!d.valid) return false;
    i += d.width;
  }
  return true;
}

std::string to_valid_utf8(std::string_view s) {
  if (is_valid_utf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 16);
  for (std::size_t i = 0; i < s.size();) {
    auto d = decode_utf8_rune(s.substr(i));
    if (d.valid) {
      out.append(s.substr(i, d.width));
    } else {
      append_utf8(out, kRuneError);
    }
    i += d.width;
  }
  return out;
}

}  // namespace fleet
