#pragma once
// Go text semantics that leak into fleet's observable behaviour: the go-systemd lexer reads UTF-8
// runes (invalid bytes become U+FFFD), trims with unicode.IsSpace, and fleet formats names in
// error messages with %q. Folder-private helpers for the unitfile parser and validators.

#include <cstddef>
#include <string>
#include <string_view>

#include "common/utf8.h"

namespace fleet::unitfile::detail {

using fleet::append_utf8;
using fleet::DecodedRune;
using fleet::kRuneError;

// Go utf8.DecodeRune at `pos` (pos < s.size()).
inline DecodedRune decode_rune(std::string_view s, std::size_t pos) {
  return decode_utf8_rune(s.substr(pos));
}

// Go unicode.IsSpace.
bool is_go_space(char32_t r);

// Go strings.TrimSpace / bytes.TrimSpace (Unicode white space at both ends).
std::string_view go_trim_space(std::string_view s);

// Go fmt %q of a rune ('x', '\n', '\u00a0') and of a string ("a\tb"). Printability follows Go's
// unicode.IsPrint for ASCII, Latin-1 and the common format/space characters; other assigned-ness
// questions are approximated as printable.
std::string go_quote_rune(char32_t r);
std::string go_quote(std::string_view s);

}  // namespace fleet::unitfile::detail
