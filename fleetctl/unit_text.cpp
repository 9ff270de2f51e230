// fleetctl's unit-file seam (unit_source.h), delegating to the unitfile library.
#include <algorithm>

#include "fleetctl/unit_source.h"
#include "unitfile/requirements.h"
#include "unitfile/unit_file.h"
#include "unitfile/unit_name.h"

namespace fleet::fleetctl {

namespace {

std::vector<unitfile::UnitOption> to_unitfile(const Options& options) {
  std::vector<unitfile::UnitOption> out;
  out.reserve(options.size());
  for (const auto& o : options) out.push_back({o.section, o.name, o.value});
  return out;
}

Options from_unitfile(const std::vector<unitfile::UnitOption>& options) {
  Options out;
  out.reserve(options.size());
  for (const auto& o : options) out.push_back({o.section, o.name, o.value});
  return out;
}

}  // namespace

// The unitfile library is the one implementation of fleet's unit-file rules; fleetctl only
// converts between its option type and the API's.
Result<Options> parse_unit_text(std::string_view text) {
  auto file = unitfile::UnitFile::parse(text);
  if (!file) return file.error();
  return from_unitfile(file.value().options());
}

std::string serialize_unit(const Options& options) {
  return unitfile::serialize_options(to_unitfile(options));
}

std::string unit_hash(const Options& options) {
  return unitfile::sha1_hex(serialize_unit(options));
}

std::string unit_description(const Options& options) {
  return unitfile::UnitFile::from_options(to_unitfile(options)).description();
}

std::vector<std::string> unknown_xfleet_keys(const Options& options) {
  return unitfile::requirements_of(unitfile::UnitFile::from_options(to_unitfile(options)), "")
      .unknown_keys;
}

Status validate_unit_options(const Options& options) {
  return unitfile::validate_options(unitfile::UnitFile::from_options(to_unitfile(options)), "");
}

UnitSource default_unit_source() { return UnitSource{&parse_unit_text, &validate_unit_options}; }

Status validate_unit_name(std::string_view name) { return unitfile::validate_unit_name(name); }

std::optional<UnitNameInfo> unit_name_info(std::string_view name) {
  auto parsed = unitfile::parse_unit_name(name);
  if (!parsed) return std::nullopt;
  UnitNameInfo info;
  info.full_name = parsed->full_name;
  info.name = parsed->name;
  info.prefix = parsed->prefix;
  info.suffix = parsed->suffix;
  info.template_name = parsed->template_name;
  info.instance = parsed->instance;
  return info;
}

std::string append_default_unit_type(std::string_view arg) {
  static constexpr std::string_view kSuffixes[] = {".service", ".socket", ".timer",    ".path",
                                                   ".device",  ".mount",  ".automount"};
  for (auto s : kSuffixes) {
    if (arg.ends_with(s)) return std::string(arg);
  }
  return std::string(arg) + ".service";
}

namespace {

std::string_view base_name(std::string_view arg) {
  auto slash = arg.rfind('/');
  return slash == std::string_view::npos ? arg : arg.substr(slash + 1);
}

}  // namespace

std::string mangle_unit_name(std::string_view arg) {
  return append_default_unit_type(base_name(arg));
}

Status check_unit_argument(std::string_view arg) {
  if (!base_name(arg).empty()) return ok();
  return fail(Errc::invalid_argument,
              "invalid unit name \"" + std::string(arg) + "\": unit name cannot be empty");
}

}  // namespace fleet::fleetctl
