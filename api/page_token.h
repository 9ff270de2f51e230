#pragma once
// fleet's pagination token: base64url (with `=` padding) of 4 bytes,
// uint16 little-endian limit then uint16 little-endian 1-based page. Limit 100 page 2 → `ZAACAA==`.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace fleet::api {

// fleetd's default page size (token_limit). fleet's is 100; a 10,000-unit listing then took 100
// sequential requests, most of `fleetctl list-units`' time (Documentation/performance.md,
// "Listings"). Any client that follows nextPageToken, fleet's fleetctl included, reads any size.
inline constexpr std::uint16_t kPageTokenLimit = 1000;

struct PageToken {
  std::uint16_t limit = kPageTokenLimit;
  std::uint16_t page = 1;

  PageToken next() const { return {limit, static_cast<std::uint16_t>(page + 1)}; }
  std::string encode() const;
  bool operator==(const PageToken&) const = default;
};

// Decodes without validating. Errors carry Go's messages: `illegal base64 data at input byte N`,
// `EOF` (empty), `unexpected EOF` (1–3 bytes).
Result<PageToken> decode_page_token(std::string_view text);

// Validation the server applies: `token limit must be <limit>`,
// `token page must be greater than zero`.
Status validate_page_token(const PageToken& tok, std::uint16_t limit = kPageTokenLimit);

// Base64 with the URL alphabet and `=` padding (Go base64.URLEncoding).
std::string base64url_encode(std::string_view bytes);
Result<std::string> base64url_decode(std::string_view text);

}  // namespace fleet::api
