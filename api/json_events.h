#pragma once
// A strict JSON (RFC 8259) parser that reports what it reads to a handler, with the method names
// of nlohmann's SAX interface, and builds no values: strings are decoded into one reused
// buffer, numbers are only checked. It is what reads listing pages (page_reader.cpp): nlohmann's
// own lexer copies a string byte by byte and was a quarter of `fleetctl list-units`' CPU at
// 10,000 units. The input must be valid UTF-8 (callers repair it first, as Go's decoder would).
//
// Handler: null(), boolean(bool), number_float(double, const std::string&) for every number,
// string(std::string&), start_object(std::size_t), key(std::string&), end_object(),
// start_array(std::size_t), end_array(); each returns false to stop.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/utf8.h"

namespace fleet::api {

template <class Handler>
class JsonEvents {
 public:
  JsonEvents(std::string_view text, Handler& handler) : text_(text), h_(handler) {}

  // True when the text is exactly one JSON value and the handler took every event. False on a
  // syntax error (error() says what and where) or when the handler stopped (error() empty).
  bool run() {
    enum class Next { value, key, after_value } next = Next::value;
    for (;;) {
      skip_space();
      if (next == Next::key) {
        if (!read_string()) return false;
        if (!h_.key(buf_)) return false;
        skip_space();
        if (!consume(':')) return fail("expected ':' after an object key");
        next = Next::value;
      } else if (next == Next::after_value) {
        if (open_.empty()) return pos_ == text_.size() || fail("unexpected text after the value");
        const char close = open_.back() == '{' ? '}' : ']';
        if (consume(',')) {
          next = open_.back() == '{' ? Next::key : Next::value;
        } else if (consume(close)) {
          open_.pop_back();
          if (!(close == '}' ? h_.end_object() : h_.end_array())) return false;
        } else {
          return fail(close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
        }
      } else {
        if (pos_ == text_.size()) return fail("unexpected end of input; expected a value");
        const char c = text_[pos_];
        if (c == '{' || c == '[') {
          ++pos_;
          const char close = c == '{' ? '}' : ']';
          if (!(c == '{' ? h_.start_object(kUnknownSize) : h_.start_array(kUnknownSize)))
            return false;
          skip_space();
          if (consume(close)) {
            if (!(close == '}' ? h_.end_object() : h_.end_array())) return false;
            next = Next::after_value;
          } else {
            open_.push_back(c);
            next = c == '{' ? Next::key : Next::value;
          }
          continue;
        }
        if (c == '"') {
          if (!read_string() || !h_.string(buf_)) return false;
        } else if (literal("true")) {
          if (!h_.boolean(true)) return false;
        } else if (literal("false")) {
          if (!h_.boolean(false)) return false;
        } else if (literal("null")) {
          if (!h_.null()) return false;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
          if (!read_number() || !h_.number_float(0.0, no_text_)) return false;
        } else {
          return fail("unexpected character; expected a value");
        }
        next = Next::after_value;
      }
    }
  }

  const std::string& error() const { return error_; }

 private:
  static constexpr std::size_t kUnknownSize = static_cast<std::size_t>(-1);

  bool fail(const char* what) {
    error_ = std::string("syntax error at byte ") + std::to_string(pos_) + ": " + what;
    return false;
  }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r' || text_[pos_] == '\t'))
      ++pos_;
  }

  bool consume(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  bool digits() {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }

  bool read_number() {
    consume('-');
    if (!consume('0') && !digits()) return fail("invalid number");
    if (consume('.') && !digits()) return fail("invalid number: no digits after '.'");
    if (consume('e') || consume('E')) {
      if (!consume('+')) consume('-');
      if (!digits()) return fail("invalid number: no digits in the exponent");
    }
    return true;
  }

  bool hex4(char32_t& out) {
    if (text_.size() - pos_ < 4) return fail("truncated \\u escape");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      out <<= 4;
      if (c >= '0' && c <= '9') {
        out |= static_cast<char32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        out |= static_cast<char32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        out |= static_cast<char32_t>(c - 'A' + 10);
      } else {
        return fail("invalid \\u escape");
      }
    }
    return true;
  }

  bool escape() {
    if (pos_ == text_.size()) return fail("unterminated string");
    const char c = text_[pos_++];
    switch (c) {
      case '"':
      case '\\':
      case '/':
        buf_ += c;
        return true;
      case 'b':
        buf_ += '\b';
        return true;
      case 'f':
        buf_ += '\f';
        return true;
      case 'n':
        buf_ += '\n';
        return true;
      case 'r':
        buf_ += '\r';
        return true;
      case 't':
        buf_ += '\t';
        return true;
      case 'u':
        break;
      default:
        return fail("invalid escape in string");
    }
    char32_t cp = 0;
    if (!hex4(cp)) return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return fail("lone low surrogate in \\u escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      char32_t low = 0;
      if (!literal("\\u") || !hex4(low) || low < 0xDC00 || low > 0xDFFF)
        return fail("a high surrogate must be followed by a low surrogate");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    append_utf8(buf_, cp);
    return true;
  }

  // The string at pos_ (which must start with '"') into buf_.
  bool read_string() {
    if (!consume('"')) return fail("expected a string");
    buf_.clear();
    for (;;) {
      const std::size_t start = pos_;
      while (pos_ < text_.size() && text_[pos_] != '"' && text_[pos_] != '\\' &&
             static_cast<unsigned char>(text_[pos_]) >= 0x20)
        ++pos_;
      buf_.append(text_, start, pos_ - start);
      if (pos_ == text_.size()) return fail("unterminated string");
      const char c = text_[pos_++];
      if (c == '"') return true;
      if (c != '\\') {
        --pos_;
        return fail("control character in string");
      }
      if (!escape()) return false;
    }
  }

  std::string_view text_;
  Handler& h_;
  std::size_t pos_ = 0;
  std::vector<char> open_;  // '{' and '[' of the containers around pos_
  std::string buf_;
  std::string error_;
  const std::string no_text_;
};

}  // namespace fleet::api
