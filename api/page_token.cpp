#include "api/page_token.h"

#include <array>

namespace fleet::api {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int decode_char(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

auto corrupt(size_t at) {
  return fail(Errc::invalid_argument, "illegal base64 data at input byte " + std::to_string(at));
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  size_t i = 0;
  auto b = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 3 <= bytes.size(); i += 3) {
    unsigned v = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    unsigned v = b(i) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    unsigned v = (b(i) << 16) | (b(i + 1) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// Mirrors Go's encoding/base64 decoder (padded encoding, CR/LF skipped) so that error positions
// match what fleet's API reports for a bad token.
Result<std::string> base64url_decode(std::string_view src) {
  std::string out;
  size_t si = 0;
  while (true) {
    std::array<int, 4> dbuf{};
    size_t dlen = 4;
    bool done = false;
    for (size_t j = 0; j < 4; ++j) {
      if (si == src.size()) {
        if (j == 0) return out;
        return corrupt(si - j);  // a padded encoding never ends inside a quantum
      }
      char in = src[si++];
      int val = decode_char(in);
      if (val >= 0) {
        dbuf[j] = val;
        continue;
      }
      if (in == '\n' || in == '\r') {
        --j;
        continue;
      }
      if (in != '=') return corrupt(si - 1);
      if (j < 2) return corrupt(si - 1);  // incorrect padding
      if (j == 2) {                       // "==" expected; the first '=' is consumed
        while (si < src.size() && (src[si] == '\n' || src[si] == '\r')) ++si;
        if (si == src.size()) return corrupt(src.size());
        if (src[si] != '=') return corrupt(si - 1);
        ++si;
      }
      while (si < src.size() && (src[si] == '\n' || src[si] == '\r')) ++si;
      if (si < src.size()) return corrupt(si);  // trailing garbage
      dlen = j;
      done = true;
      break;
    }
    unsigned v = (dbuf[0] << 18) | (dbuf[1] << 12) | (dbuf[2] << 6) | dbuf[3];
    if (dlen >= 2) out += static_cast<char>((v >> 16) & 0xff);
    if (dlen >= 3) out += static_cast<char>((v >> 8) & 0xff);
    if (dlen >= 4) out += static_cast<char>(v & 0xff);
    if (done) return out;
  }
}

std::string PageToken::encode() const {
  std::string raw;
  raw += static_cast<char>(limit & 0xff);
  raw += static_cast<char>(limit >> 8);
  raw += static_cast<char>(page & 0xff);
  raw += static_cast<char>(page >> 8);
  return base64url_encode(raw);
}

Result<PageToken> decode_page_token(std::string_view text) {
  auto raw = base64url_decode(text);
  if (!raw) return raw.error();
  const std::string& b = raw.value();
  // Go's binary.Read: nothing read → EOF, a partial struct → unexpected EOF.
  if (b.empty()) return fail(Errc::invalid_argument, "EOF");
  if (b.size() < 4) return fail(Errc::invalid_argument, "unexpected EOF");
  auto u = [&](size_t k) { return static_cast<std::uint16_t>(static_cast<unsigned char>(b[k])); };
  PageToken tok;
  tok.limit = static_cast<std::uint16_t>(u(0) | (u(1) << 8));
  tok.page = static_cast<std::uint16_t>(u(2) | (u(3) << 8));
  return tok;
}

Status validate_page_token(const PageToken& tok, std::uint16_t limit) {
  if (tok.limit != limit) {
    return fail(Errc::invalid_argument, "token limit must be " + std::to_string(limit));
  }
  if (tok.page == 0) return fail(Errc::invalid_argument, "token page must be greater than zero");
  return ok();
}

}  // namespace fleet::api
