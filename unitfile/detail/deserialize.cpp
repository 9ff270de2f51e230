#include "unitfile/detail/deserialize.h"

#include <algorithm>
#include <optional>
#include <string>

#include "unitfile/detail/go_text.h"

namespace fleet::unitfile::detail {
namespace {

bool is_comment(char c) { return c == '#' || c == ';'; }

bool ends_with(std::string_view s, char c) { return !s.empty() && s.back() == c; }

// A parse failure and the offset where go-systemd's lexer step that detected it began; the
// offset decides whether a long line earlier in the text is reported instead.
struct Failure {
  std::size_t offset;
  std::size_t line_offset;  // offset whose line number the message names
  std::string what;
};

// Offset of the first run of kMaxLineBytes bytes containing neither CR nor LF. go-systemd
// checks this heuristically before each lexer step (only when its read buffer is full); we reject
// every such run, which is what users observe in practice.
std::optional<std::size_t> first_long_run(std::string_view text) {
  std::size_t run_start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' || text[i] == '\n') {
      run_start = i + 1;
    } else if (i + 1 - run_start >= kMaxLineBytes) {
      return run_start;
    }
  }
  return std::nullopt;
}

std::size_t line_number(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  return 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + offset, '\n'));
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  // Runs the whole state machine; options parsed before a failure are discarded by the caller.
  std::optional<Failure> run() {
    // Outside any section: only '[' and comment starts matter; everything else is skipped.
    // Bytewise scanning is equivalent to Go's rune reads here since UTF-8 multi-byte sequences
    // never contain ASCII bytes and invalid bytes are consumed one at a time.
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == '[') return in_sections();
      if (is_comment(c)) skip_comment();
    }
    return std::nullopt;
  }

  std::vector<UnitOption>& options() { return options_; }

 private:
  // Reads to the end of the line like go-systemd's toEOL: the '\n' is consumed and dropped; a
  // '\r' is dropped only when it is the very last byte of the text (Go trims '\r' before '\n',
  // so "a\r\n" yields "a\r").
  std::string_view to_eol(bool& eof) {
    std::size_t nl = text_.find('\n', pos_);
    std::string_view line;
    if (nl == std::string_view::npos) {
      line = text_.substr(pos_);
      pos_ = text_.size();
      eof = true;
      if (ends_with(line, '\r')) line.remove_suffix(1);
    } else {
      line = text_.substr(pos_, nl - pos_);
      pos_ = nl + 1;
      eof = false;
    }
    return line;
  }

  // Comment lines continue while the line (minus one trailing space) ends with '\'.
  void skip_comment() {
    bool eof = false;
    while (true) {
      std::string_view line = to_eol(eof);
      if (ends_with(line, ' ')) line.remove_suffix(1);
      if (!ends_with(line, '\\')) return;
    }
  }

  // Entered just after a '['; handles the header and then options until the next '['.
  std::optional<Failure> in_sections() {
    while (true) {
      std::size_t open = pos_ - 1;
      std::size_t close = text_.find(']', pos_);
      if (close == std::string_view::npos) {
        return Failure{open, open, "unable to find end of section"};
      }
      std::string section(text_.substr(pos_, close - pos_));
      pos_ = close + 1;
      bool eof = false;
      std::string_view garbage = go_trim_space(to_eol(eof));
      if (!garbage.empty()) {
        return Failure{
            open, open,
            "found garbage after section name " + go_quote(section) + ": " + go_quote(garbage)};
      }
      bool next_section = false;
      if (auto f = options_until_section(section, next_section)) return f;
      if (!next_section) return std::nullopt;
    }
  }

  // Parses options of `section`; returns at EOF or after consuming the '[' of the next header.
  std::optional<Failure> options_until_section(const std::string& section, bool& next_section) {
    while (pos_ < text_.size()) {
      DecodedRune d = decode_rune(text_, pos_);
      if (d.valid && is_go_space(d.rune)) {
        pos_ += d.width;
        continue;
      }
      if (text_[pos_] == '[') {
        ++pos_;
        next_section = true;
        return std::nullopt;
      }
      if (is_comment(text_[pos_])) {
        ++pos_;
        skip_comment();
        continue;
      }
      if (auto f = option(section)) return f;
    }
    return std::nullopt;
  }

  std::optional<Failure> option(const std::string& section) {
    std::size_t start = pos_;
    std::string name;
    while (true) {
      if (pos_ >= text_.size()) {
        return Failure{start, start, "unexpected end of file while parsing option name"};
      }
      char c = text_[pos_];
      if (c == '\n' || c == '\r') {
        return Failure{start, pos_, "unexpected newline encountered while parsing option name"};
      }
      if (c == '=') {
        ++pos_;
        break;
      }
      // Go's rune loop re-encodes each rune, so invalid bytes in a name become U+FFFD.
      DecodedRune d = decode_rune(text_, pos_);
      if (d.valid) {
        name.append(text_.substr(pos_, d.width));
      } else {
        append_utf8(name, kRuneError);
      }
      pos_ += d.width;
    }

    std::string value;
    bool eof = false;
    while (true) {
      std::string_view line = to_eol(eof);
      if (go_trim_space(line).empty()) break;
      value.append(line);
      if (!ends_with(line, '\\')) break;
      if (!eof) value += '\n';
    }
    // A kept trailing newline means a continuation was ended by a blank line; go-systemd keeps
    // exactly one.
    bool keep_newline = ends_with(value, '\n');
    std::string trimmed(go_trim_space(value));
    if (keep_newline) trimmed += '\n';
    options_.push_back(UnitOption{section, std::string(go_trim_space(name)), std::move(trimmed)});
    return std::nullopt;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::vector<UnitOption> options_;
};

}  // namespace

Result<std::vector<UnitOption>> deserialize(std::string_view text) {
  if (text.size() > kMaxFileBytes) {
    return fail(Errc::invalid_argument, "unit file too large (" + std::to_string(text.size()) +
                                            " bytes, max " + std::to_string(kMaxFileBytes) +
                                            " bytes)");
  }
  auto long_run = first_long_run(text);
  Lexer lexer(text);
  auto failure = lexer.run();
  if (long_run && (!failure || failure->offset >= *long_run)) {
    return fail(Errc::invalid_argument, "line " + std::to_string(line_number(text, *long_run)) +
                                            ": line too long (max " +
                                            std::to_string(kMaxLineBytes) + " bytes)");
  }
  if (failure) {
    return fail(
        Errc::invalid_argument,
        "line " + std::to_string(line_number(text, failure->line_offset)) + ": " + failure->what);
  }
  return std::move(lexer.options());
}

}  // namespace fleet::unitfile::detail
