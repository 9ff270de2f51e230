#pragma once
// GNU-style flag parsing with pflag's rules and messages: `--name=value`,
// `--name value`, bool flags without a value or with `=true/false`, shorthands `-l`, combined
// bool shorthands `-lf`, `--` ends the flags, flags may follow positional arguments. fleet's
// single-letter long names (`--l`, `--f`, `--A`, `--h`) are kept as aliases, and the advertised
// `-l`/`-f`/`-A` shorthands also work (a deliberate fix).

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"

namespace fleet::fleetctl {

enum class FlagType { boolean, string, integer, number };

struct FlagSpec {
  FlagSpec(std::string name_, FlagType type_, std::string default_value_, std::string usage_,
           char shorthand_ = 0, std::vector<std::string> aliases_ = {}, bool hidden_ = false)
      : name(std::move(name_)),
        type(type_),
        default_value(std::move(default_value_)),
        usage(std::move(usage_)),
        shorthand(shorthand_),
        aliases(std::move(aliases_)),
        hidden(hidden_) {}

  std::string name;  // primary long name
  FlagType type = FlagType::boolean;
  std::string default_value;  // textual; "" for bools means false
  std::string usage;
  char shorthand = 0;                // 0 = none
  std::vector<std::string> aliases;  // further long names
  bool hidden = false;               // deprecated: accepted, not listed in help
};

class FlagValues {
 public:
  void set_default(const std::string& name, std::string value) { values_[name] = std::move(value); }
  void set(const std::string& name, std::string value) {
    values_[name] = std::move(value);
    changed_.insert(name);
  }
  bool changed(const std::string& name) const { return changed_.count(name) > 0; }
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::string str(const std::string& name) const;
  bool boolean(const std::string& name) const;
  long long integer(const std::string& name) const;
  double number(const std::string& name) const;

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> changed_;
};

struct ParsedArgs {
  FlagValues flags;
  std::vector<std::string> positional;
};

// Parses `args` against `specs`. Errors (Errc::invalid_argument) use pflag's wording:
// `unknown flag: --x`, `unknown shorthand flag: 'x' in -x`, `flag needs an argument: --x`,
// `invalid argument "v" for "--x" flag: <why>`.
// With `interspersed` false, flag parsing stops at the first positional argument.
Result<ParsedArgs> parse_args(const std::vector<const FlagSpec*>& specs,
                              const std::vector<std::string>& args, bool interspersed = true);

// Go strconv.ParseBool.
std::optional<bool> parse_go_bool(std::string_view s);
// Checks a textual value against a flag type; returns the reason when invalid.
std::optional<std::string> invalid_value_reason(FlagType type, const std::string& value);

}  // namespace fleet::fleetctl
