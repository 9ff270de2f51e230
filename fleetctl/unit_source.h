#pragma once
// The unit-file knowledge fleetctl needs before it talks to the API: parse a local file into
// options, validate them, serialize/hash them, and fleet's unit-name rules.
//
// Seam: commands only parse and validate through UnitSource, so tests can substitute their own.
// default_unit_source() and the helpers below delegate to the unitfile library, the project's
// one implementation of fleet's unit-file rules.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/schema.h"
#include "common/result.h"

namespace fleet::fleetctl {

using Options = std::vector<api::UnitOption>;

struct UnitSource {
  // Text of a unit file → ordered options. Errors name the line: `line 3: <why>`.
  std::function<Result<Options>(std::string_view text)> parse;
  // fleet's ValidateOptions, errors verbatim.
  std::function<Status(const Options&)> validate;
};

UnitSource default_unit_source();

// --- parsing, validation and hashing, through unitfile ---
Result<Options> parse_unit_text(std::string_view text);
Status validate_unit_options(const Options& options);

// Canonical text: what `fleetctl cat` prints and what the hash is taken of.
std::string serialize_unit(const Options& options);
// SHA1 hex of the canonical text.
std::string unit_hash(const Options& options);
// First [Unit] Description, or "".
std::string unit_description(const Options& options);
// [X-Fleet] keys fleet does not know, in order of first appearance (fleetctl only warns).
std::vector<std::string> unknown_xfleet_keys(const Options& options);

// fleet's ValidateName.
Status validate_unit_name(std::string_view name);

// Parts of a unit name (prefix, instance, type); nullopt when the name has no '.'.
struct UnitNameInfo {
  std::string full_name;
  std::string name;           // without suffix
  std::string prefix;         // before the first '@'
  std::string suffix;         // from the last '.', e.g. ".service"
  std::string template_name;  // "foo@.service" when the name has an '@'
  std::string instance;       // after the first '@'
  bool is_instance() const { return !instance.empty(); }
  bool is_template() const { return !template_name.empty() && instance.empty(); }
};
std::optional<UnitNameInfo> unit_name_info(std::string_view name);

// fleetctl's argument → unit name: basename, plus ".service" unless the name already ends in
// .service/.socket/.timer/.path/.device/.mount/.automount.
std::string mangle_unit_name(std::string_view arg);
// Errc::invalid_argument for an argument whose basename is empty ("", "dir/"): mangled it would
// become ".service", a name fleet's rules accept, so `destroy ''` would delete that unit.
Status check_unit_argument(std::string_view arg);
// The same suffix rule applied to a path (`foo` → `foo.service`).
std::string append_default_unit_type(std::string_view arg);

}  // namespace fleet::fleetctl
