#include "unitfile/detail/go_text.h"

#include <doctest/doctest.h>

#include <string>

namespace fleet::unitfile::detail {
namespace {

TEST_CASE("runes decode like Go's utf8.DecodeRune") {
  auto d = decode_rune("a", 0);
  CHECK((d.valid && d.rune == U'a' && d.width == 1));
  d = decode_rune("\xc3\xa9", 0);
  CHECK((d.valid && d.rune == 0xE9 && d.width == 2));
  d = decode_rune("\xe2\x82\xac", 0);
  CHECK((d.valid && d.rune == 0x20AC && d.width == 3));
  d = decode_rune("\xf0\x9f\x98\x80", 0);
  CHECK((d.valid && d.rune == 0x1F600 && d.width == 4));
  // Invalid, overlong, surrogate, out-of-range and truncated sequences consume one byte.
  for (std::string bad : {"\xff", "\xc0\x80", "\xe0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                          "\xe2\x82", "\x80", "\xc3"}) {
    CAPTURE(bad);
    d = decode_rune(bad, 0);
    CHECK_FALSE(d.valid);
    CHECK(d.width == 1);
    CHECK(d.rune == kRuneError);
  }
}

TEST_CASE("white space follows Go's unicode.IsSpace") {
  for (char32_t r : {U' ', U'\t', U'\n', U'\v', U'\f', U'\r', char32_t{0x85}, char32_t{0xA0},
                     char32_t{0x1680}, char32_t{0x2000}, char32_t{0x200A}, char32_t{0x2028},
                     char32_t{0x2029}, char32_t{0x202F}, char32_t{0x205F}, char32_t{0x3000}}) {
    CHECK(is_go_space(r));
  }
  for (char32_t r : {U'a', char32_t{0x200B}, char32_t{0xFEFF}, char32_t{0}, kRuneError}) {
    CHECK_FALSE(is_go_space(r));
  }
}

TEST_CASE("trim space removes unicode white space at both ends only") {
  CHECK(go_trim_space("  a b \t") == "a b");
  CHECK(go_trim_space("\xc2\xa0x\xe3\x80\x80") == "x");
  CHECK(go_trim_space("\xff \xff") == "\xff \xff");
  CHECK(go_trim_space(" \n ").empty());
  CHECK(go_trim_space("") == "");
  // A lone continuation byte that happens to end a space sequence is not trimmed.
  CHECK(go_trim_space("x\xa0") == "x\xa0");
}

TEST_CASE("quoting follows Go's %q") {
  CHECK(go_quote_rune(U'a') == "'a'");
  CHECK(go_quote_rune(U'\'') == "'\\''");
  CHECK(go_quote_rune(U'"') == "'\"'");
  CHECK(go_quote_rune(U'\n') == "'\\n'");
  CHECK(go_quote_rune(0x7F) == "'\\x7f'");
  CHECK(go_quote_rune(0xA0) == "'\\u00a0'");
  CHECK(go_quote_rune(0xE9) == "'\xc3\xa9'");
  CHECK(go_quote_rune(0xF0000) == "'\\U000f0000'");
  CHECK(go_quote("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(go_quote("x\xff") == "\"x\\xff\"");
  CHECK(go_quote("it's") == "\"it's\"");
  CHECK(go_quote("\t") == "\"\\t\"");
}

}  // namespace
}  // namespace fleet::unitfile::detail
