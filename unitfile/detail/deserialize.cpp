#include "unitfile/detail/deserialize.h"

#include <algorithm>
#include <optional>
#include <string>
#include <variant>

#include "unitfile/detail/go_text.h"

// go-systemd's lexer (github.com/coreos/go-systemd unit/deserialize.go, as vendored by
// github.com/coreos/fleet) is a chain of steps reading from a 4096-byte bufio.Reader. Before each
// step, when at least 2048 bytes are buffered, it peeks at the next 2048 and fails with "line too
// long" when none of them is CR or LF. Which runs of 2048 bytes it catches therefore depends on
// how full its buffer is at each step: a first line of exactly 2048 bytes passes (the first check
// comes after one byte was read), a run that starts while the buffer holds less than 2048 bytes
// is never looked at. Fleet rejects exactly what this check catches, in fleetctl and again in its
// API (ValidateOptions re-parses the serialized unit), so the reader's buffer is modelled here:
// positions only, the bytes are always the text's.

namespace fleet::unitfile::detail {
namespace {

constexpr std::size_t kBufferBytes = 4096;  // bufio's default size
constexpr std::size_t kUtfMax = 4;

bool is_comment(char c) { return c == '#' || c == ';'; }

bool ends_with(std::string_view s, char c) { return !s.empty() && s.back() == c; }

std::size_t line_number(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  return 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + offset, '\n'));
}

// Go utf8.FullRune: `p` starts with a complete encoding, or with bytes that can never become one.
bool full_rune(std::string_view p) {
  if (p.empty()) return false;
  auto b0 = static_cast<unsigned char>(p[0]);
  std::size_t need = 1;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  }
  if (p.size() >= need) return true;
  auto b1 = static_cast<unsigned char>(p.size() > 1 ? p[1] : 0x80);
  if (p.size() > 1 && (b1 < lo || b1 > hi)) return true;
  auto b2 = static_cast<unsigned char>(p.size() > 2 ? p[2] : 0x80);
  return p.size() > 2 && (b2 < 0x80 || b2 > 0xBF);
}

// bufio.Reader over strings.Reader: `pos` is the offset of its read index, `filled` of its write
// index. A fill slides the unread bytes to the front and reads as many as fit.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  std::size_t pos() const { return pos_; }
  std::size_t buffered() const { return filled_ - pos_; }
  bool at_eof() const { return pos_ >= text_.size(); }

  // Peek(2048) finds neither CR nor LF.
  bool long_line_ahead() const {
    if (buffered() < kMaxLineBytes) return false;
    return text_.substr(pos_, kMaxLineBytes).find_first_of("\r\n") == std::string_view::npos;
  }

  // ReadRune; nullopt at end of input.
  std::optional<DecodedRune> read_rune() {
    while (pos_ + kUtfMax > filled_ && !full_rune(text_.substr(pos_, filled_ - pos_)) &&
           buffered() < kBufferBytes && fill() > 0) {
    }
    if (pos_ == filled_) return std::nullopt;
    DecodedRune d = decode_rune(text_.substr(0, filled_), pos_);
    pos_ += d.width;
    last_width_ = d.width;
    return d;
  }
  void unread_rune() { pos_ -= last_width_; }

  // ReadBytes(delim): up to and including `delim`, or the rest; `found` says which.
  std::string_view read_bytes(char delim, bool& found) {
    const std::size_t start = pos_;
    std::size_t scanned = pos_;
    while (true) {
      std::size_t at = text_.substr(0, filled_).find(delim, scanned);
      if (at != std::string_view::npos) {
        pos_ = at + 1;
        found = true;
        return text_.substr(start, pos_ - start);
      }
      scanned = filled_;
      if (buffered() >= kBufferBytes) {
        pos_ = filled_;  // ErrBufferFull: ReadBytes keeps the fragment and reads on
        continue;
      }
      if (fill() == 0) {
        pos_ = filled_;
        found = false;
        return text_.substr(start, pos_ - start);
      }
    }
  }

 private:
  std::size_t fill() {
    std::size_t n = std::min(text_.size() - filled_, kBufferBytes - buffered());
    filled_ += n;
    return n;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t filled_ = 0;
  std::size_t last_width_ = 0;
};

// The lexer's steps, named after go-systemd's functions.
struct NextSection {};
struct SectionName {};
struct SectionSuffix {
  std::string section;
};
struct NextSectionOrOption {
  std::string section;
};
struct IgnoreLine {
  std::optional<std::string> section;  // where to go on: NextSectionOrOption, or NextSection
};
struct OptionName {
  std::string section;
};
struct OptionValue {
  std::string section;
  std::string name;
  std::string partial;
};
struct Done {};
using Step = std::variant<NextSection, SectionName, SectionSuffix, NextSectionOrOption, IgnoreLine,
                          OptionName, OptionValue, Done>;

struct Failure {
  std::size_t line_offset;  // offset whose line number the message names
  std::string what;
};

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text), in_(text) {}

  std::optional<Failure> run() {
    Step step = NextSection{};
    while (!std::holds_alternative<Done>(step)) {
      if (in_.long_line_ahead()) {
        return Failure{in_.pos(),
                       "line too long (max " + std::to_string(kMaxLineBytes) + " bytes)"};
      }
      auto next = std::visit([this](auto& s) { return advance(s); }, step);
      if (!next) return std::move(failure_);
      step = std::move(*next);
    }
    return std::nullopt;
  }

  std::vector<UnitOption>& options() { return options_; }

 private:
  using Next = std::optional<Step>;  // nullopt: failed, failure_ says why

  Next failed(std::size_t offset, std::string what) {
    failure_ = Failure{offset, std::move(what)};
    return std::nullopt;
  }

  // toEOL: the line without its '\n', and without one '\r' before it (Go trims '\r' first, so
  // "a\r\n" yields "a\r" and only a CR at the very end of the text is dropped).
  std::string_view to_eol(bool& eof) {
    bool found = false;
    std::string_view line = in_.read_bytes('\n', found);
    eof = !found;
    if (ends_with(line, '\r')) line.remove_suffix(1);
    if (ends_with(line, '\n')) line.remove_suffix(1);
    return line;
  }

  Next advance(NextSection&) {
    auto r = in_.read_rune();
    if (!r) return Done{};
    if (r->valid && r->rune == '[') return SectionName{};
    if (r->valid && is_comment(static_cast<char>(r->rune))) return IgnoreLine{};
    return NextSection{};
  }

  Next advance(SectionName&) {
    std::size_t open = in_.pos() - 1;
    bool found = false;
    std::string_view sec = in_.read_bytes(']', found);
    if (!found) return failed(open, "unable to find end of section");
    sec.remove_suffix(1);
    header_ = open;
    return SectionSuffix{std::string(sec)};
  }

  Next advance(SectionSuffix& s) {
    bool eof = false;
    std::string_view garbage = go_trim_space(to_eol(eof));
    if (!garbage.empty()) {
      // go-systemd printed `found garbage after section name : [120]` (an unset field and a
      // byte slice); the name and the text are more use.
      return failed(header_, "found garbage after section name " + go_quote(s.section) + ": " +
                                 go_quote(garbage));
    }
    return NextSectionOrOption{std::move(s.section)};
  }

  Next advance(IgnoreLine& s) {
    bool eof = false;
    while (true) {
      std::string_view line = to_eol(eof);
      if (ends_with(line, ' ')) line.remove_suffix(1);
      if (!ends_with(line, '\\')) break;
    }
    if (s.section) return NextSectionOrOption{std::move(*s.section)};
    return NextSection{};
  }

  Next advance(NextSectionOrOption& s) {
    auto r = in_.read_rune();
    if (!r) return Done{};
    if (r->valid && is_go_space(r->rune)) return std::move(s);
    if (r->valid && r->rune == '[') return SectionName{};
    if (r->valid && is_comment(static_cast<char>(r->rune))) {
      return IgnoreLine{std::move(s.section)};
    }
    in_.unread_rune();
    return OptionName{std::move(s.section)};
  }

  Next advance(OptionName& s) {
    std::size_t start = in_.pos();
    std::string name;
    while (true) {
      std::size_t at = in_.pos();
      auto r = in_.read_rune();
      // go-systemd returned io.EOF itself, printed as a bare "EOF".
      if (!r) return failed(start, "unexpected end of file while parsing option name");
      if (r->rune == '\n' || r->rune == '\r') {
        return failed(at, "unexpected newline encountered while parsing option name");
      }
      if (r->rune == '=') break;
      // Go's WriteRune re-encodes each rune, so invalid bytes in a name become U+FFFD.
      append_utf8(name, r->rune);
    }
    return OptionValue{std::move(s.section), std::string(go_trim_space(name)), {}};
  }

  Next advance(OptionValue& s) {
    bool eof = false;
    std::string_view line = to_eol(eof);
    if (!go_trim_space(line).empty()) {
      s.partial.append(line);
      if (ends_with(line, '\\')) {
        if (!eof) s.partial += '\n';
        return std::move(s);  // a continuation is a step of its own
      }
    }
    // A kept trailing newline means a continuation was ended by a blank line; go-systemd keeps
    // exactly one.
    bool keep_newline = ends_with(s.partial, '\n');
    std::string value(go_trim_space(s.partial));
    if (keep_newline) value += '\n';
    options_.push_back(UnitOption{s.section, std::move(s.name), std::move(value)});
    return NextSectionOrOption{std::move(s.section)};
  }

  Next advance(Done&) { return Done{}; }

  std::string_view text_;
  Reader in_;
  std::size_t header_ = 0;  // offset of the last '[' that opened a section header
  std::optional<Failure> failure_;
  std::vector<UnitOption> options_;
};

}  // namespace

Result<std::vector<UnitOption>> deserialize(std::string_view text) {
  if (text.size() > kMaxFileBytes) {
    return fail(Errc::invalid_argument, "unit file too large (" + std::to_string(text.size()) +
                                            " bytes, max " + std::to_string(kMaxFileBytes) +
                                            " bytes)");
  }
  Lexer lexer(text);
  if (auto failure = lexer.run()) {
    return fail(
        Errc::invalid_argument,
        "line " + std::to_string(line_number(text, failure->line_offset)) + ": " + failure->what);
  }
  return std::move(lexer.options());
}

}  // namespace fleet::unitfile::detail
