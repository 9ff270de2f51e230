#pragma once
// UTF-8 with Go's rules, which fleet's observable behaviour follows: utf8.DecodeRune (an invalid,
// overlong, surrogate or truncated sequence is U+FFFD and consumes one byte) and encoding/json's
// treatment of invalid bytes (each one becomes U+FFFD), which is how fleet stored unit files
// holding invalid UTF-8 and so what their hash is taken of.

#include <cstddef>
#include <string>
#include <string_view>

namespace fleet {

inline constexpr char32_t kRuneError = 0xFFFD;

struct DecodedRune {
  char32_t rune = kRuneError;
  std::size_t width = 0;  // bytes consumed: 1 for an invalid sequence, 0 only for empty input
  bool valid = false;
};

// Go utf8.DecodeRuneInString of `s`.
DecodedRune decode_utf8_rune(std::string_view s);

// Appends the UTF-8 encoding of `r`.
void append_utf8(std::string& out, char32_t r);

bool is_valid_utf8(std::string_view s);

// `s` with every byte that is not part of a valid sequence replaced by U+FFFD, as Go's
// json.Marshal and json.Unmarshal do (Go's strings.ToValidUTF8 would merge runs; json does not).
std::string to_valid_utf8(std::string_view s);

}  // namespace fleet
