#pragma once
// Unit names: fleet's validation and decomposition into prefix, template and
// instance, plus the instance-name helper used when instantiating templates.

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace fleet::unitfile {

inline constexpr std::size_t kMaxUnitNameBytes = 256;

// fleet's ValidateName: the first failing rule in fleet's order, as Errc::invalid_argument with
// fleet's exact message (e.g. `invalid unit type: "servICE"`, `invalid character ' ' in unit
// name`, `unit name cannot start in "@"`).
[[nodiscard]] Status validate_unit_name(std::string_view name);

// Unit types fleet accepts, without the dot: automount busname device mount path scope service
// slice snapshot socket swap target timer (case-sensitive).
bool is_valid_unit_type(std::string_view type);
// Types allowed for names containing '@': path service socket target timer.
bool is_valid_template_unit_type(std::string_view type);

struct UnitNameInfo {
  std::string full_name;      // foo@bar.service
  std::string name;           // foo@bar (everything before the last '.')
  std::string prefix;         // foo (before the first '@' of `name`)
  std::string suffix;         // .service (from the last '.', dot included as in fleet)
  std::string template_name;  // foo@.service; empty when `name` has no '@'
  std::string instance;       // bar (after the first '@'; may contain '@'); may be empty

  bool is_instance() const { return !instance.empty(); }
  bool is_template() const { return !template_name.empty() && !is_instance(); }
  // The type without the dot ("service").
  std::string_view unit_type() const { return std::string_view(suffix).substr(1); }
};

// nullopt when `name` has no '.' (fleet's "no info"). Does not validate.
std::optional<UnitNameInfo> parse_unit_name(std::string_view name);

// "foo@.service" + "1" -> "foo@1.service"; empty when `template_name` is not a template name
// (no '.' or no '@' before the last '.').
std::string instance_name(std::string_view template_name, std::string_view instance);

}  // namespace fleet::unitfile
