#pragma once
// A systemd unit file as fleet sees it: an ordered list of (section, name, value) options parsed
// with go-systemd's exact rules, a canonical serialization whose SHA-1 is
// the unit's identity in the registry, and a parsed view that applies fleet's [X-Fleet]
// multi-value rule. Immutable once built; cheap to copy relative to a parse.

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace fleet::unitfile {

struct UnitOption {
  std::string section;
  std::string name;
  std::string value;

  bool operator==(const UnitOption&) const = default;
};

// go-systemd's SYSTEMD_LINE_MAX: runs of this many bytes without CR/LF are rejected (as systemd
// would truncate them) where its lexer looks for them.
inline constexpr std::size_t kMaxLineBytes = 2048;
// Whole unit files above this size are rejected before parsing (fleet++ limit; fleet had none,
// but every unit is stored in etcd and copied to every agent).
inline constexpr std::size_t kMaxFileBytes = 1024 * 1024;

// SHA-1 of `data` as 40 lowercase hex characters.
std::string sha1_hex(std::string_view data);

class UnitFile {
 public:
  // section -> option name -> values, in file order ([X-Fleet] values multi-value split).
  using Values = std::vector<std::string>;
  using Contents = std::map<std::string, std::map<std::string, Values, std::less<>>, std::less<>>;

  UnitFile() : UnitFile(std::vector<UnitOption>{}) {}

  // Parses unit-file text. Errors are Errc::invalid_argument with a message naming the line,
  // e.g. "line 3: unexpected newline encountered while parsing option name". Accepts exactly
  // what go-systemd's Deserialize accepts, including its "line too long (max 2048 bytes)" check
  // (see detail/deserialize.cpp: it depends on the reader's buffer, so a first line of 2048
  // bytes passes), and rejects files above kMaxFileBytes. Invalid UTF-8 in sections and values
  // becomes U+FFFD, one per byte, as fleet stored it (fleetctl's JSON encoder did that), so the
  // hash is fleet's. Where go-systemd's text is unhelpful it is replaced: a bare "EOF" becomes
  // "unexpected end of file while parsing option name", and garbage after a header reads
  // `found garbage after section name "S": "x"` (Go printed an empty name and a byte array).
  // Empty text gives zero options. CRLF files parse, but, exactly as in go-systemd, the CR stays
  // on the line while looking for a trailing '\', so a backslash before CRLF does not continue
  // a value or comment.
  [[nodiscard]] static Result<UnitFile> parse(std::string_view text);

  // Builds a unit from options as given (API payloads); nothing is validated or trimmed.
  static UnitFile from_options(std::vector<UnitOption> options);

  const std::vector<UnitOption>& options() const { return options_; }
  const Contents& contents() const { return contents_; }

  // Canonical form: sections in order of first appearance, "[S]\n" then "name=value\n" per
  // option, one blank line between sections; empty for zero options. This is what fleet stores,
  // writes to agents' disks and prints in `fleetctl cat`.
  const std::string& serialize() const { return canonical_; }
  // SHA-1 hex of serialize(); short_hash() is its first 7 characters.
  const std::string& hash() const { return hash_; }
  std::string short_hash() const { return hash_.substr(0, 7); }

  // First [Unit] Description value, or empty.
  std::string description() const;

  // Values of `name` in `section` (empty when absent). In [X-Fleet] each raw value is split
  // with fleet's multi-value rule: `"a" "b c"` -> {a, b c}; other sections keep raw values.
  const std::vector<std::string>& values(std::string_view section, std::string_view name) const;

  // Same options in the same order (hence same hash).
  bool operator==(const UnitFile& o) const { return options_ == o.options_; }

 private:
  explicit UnitFile(std::vector<UnitOption> options);

  std::vector<UnitOption> options_;
  Contents contents_;
  std::string canonical_;
  std::string hash_;
};

// fleet's multi-value rule, exposed for tests: values starting and ending with '"' are
// split on spaces outside quotes with every quote dropped; anything else is one value.
std::vector<std::string> split_multi_value(std::string_view value);

// Canonical serialization of arbitrary options (same rules as UnitFile::serialize()).
std::string serialize_options(const std::vector<UnitOption>& options);

}  // namespace fleet::unitfile
