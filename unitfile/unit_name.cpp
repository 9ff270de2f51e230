#include "unitfile/unit_name.h"

#include <algorithm>
#include <array>

#include "unitfile/detail/go_text.h"

namespace fleet::unitfile {
namespace {

constexpr std::array<std::string_view, 13> kUnitTypes = {
    "automount", "busname",  "device", "mount", "path",   "scope", "service",
    "slice",     "snapshot", "socket", "swap",  "target", "timer"};
constexpr std::array<std::string_view, 5> kTemplateUnitTypes = {"path", "service", "socket",
                                                                "target", "timer"};

bool valid_name_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
         c == '-' || c == '_' || c == '.' || c == '\\' || c == '@';
}

Status invalid(std::string msg) { return fail(Errc::invalid_argument, std::move(msg)); }

}  // namespace

bool is_valid_unit_type(std::string_view type) {
  return std::find(kUnitTypes.begin(), kUnitTypes.end(), type) != kUnitTypes.end();
}

bool is_valid_template_unit_type(std::string_view type) {
  return std::find(kTemplateUnitTypes.begin(), kTemplateUnitTypes.end(), type) !=
         kTemplateUnitTypes.end();
}

Status validate_unit_name(std::string_view name) {
  if (name.empty()) return invalid("unit name cannot be empty");
  if (name.size() > kMaxUnitNameBytes) {
    return invalid("unit name exceeds maximum length (" + std::to_string(kMaxUnitNameBytes) + ")");
  }
  std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return invalid(R"(unit name must contain ".")");
  if (dot == name.size() - 1) return invalid(R"(unit name cannot end in ".")");
  std::string_view type = name.substr(dot + 1);
  if (!is_valid_unit_type(type)) {
    return invalid("invalid unit type: " + detail::go_quote(type));
  }
  if (name.find('@') != std::string_view::npos && !is_valid_template_unit_type(type)) {
    return invalid("invalid unit type for template: " + detail::go_quote(type));
  }
  std::string_view base = name.substr(0, dot);
  for (std::size_t i = 0; i < base.size();) {
    auto d = detail::decode_rune(base, i);
    if (!d.valid || d.width > 1 || !valid_name_char(static_cast<unsigned char>(base[i]))) {
      // Go ranges over runes, so an invalid byte is reported as U+FFFD.
      return invalid("invalid character " + detail::go_quote_rune(d.rune) + " in unit name");
    }
    i += d.width;
  }
  if (name.front() == '@') return invalid(R"(unit name cannot start in "@")");
  return ok();
}

std::optional<UnitNameInfo> parse_unit_name(std::string_view name) {
  std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return std::nullopt;
  UnitNameInfo info;
  info.full_name = name;
  info.name = name.substr(0, dot);
  info.suffix = name.substr(dot);
  std::size_t at = info.name.find('@');
  if (at == std::string::npos) {
    info.prefix = info.name;
    return info;
  }
  info.prefix = info.name.substr(0, at);
  info.template_name = info.prefix + "@" + info.suffix;
  info.instance = info.name.substr(at + 1);
  return info;
}

std::string instance_name(std::string_view template_name, std::string_view instance) {
  auto info = parse_unit_name(template_name);
  if (!info || info->template_name.empty()) return {};
  return info->prefix + "@" + std::string(instance) + info->suffix;
}

}  // namespace fleet::unitfile
