// libFuzzer target for the unit-file parser (built with -DFLEET_FUZZ=ON and clang++; run through
// bench/fuzz/run-unitfile-fuzz). Checks the invariants that must hold for any input:
//  * parsing never crashes or trips ASan/UBSan, and failures are invalid_argument;
//  * an accepted unit's canonical form re-parses, unless a serialized line became too long
//    (trimming can join runs that a CR split in the original, e.g. "A=\r<2047 bytes>");
//  * when no value ends in '\' the canonical form is a fixed point. A value ending in '\' (from
//    "A=x\" at end of file) turns into a continuation on re-parse, so nothing is asserted then;
//  * the derived views (requirements, validation, name helpers) never crash.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "unitfile/requirements.h"
#include "unitfile/unit_file.h"
#include "unitfile/unit_name.h"

namespace {

using fleet::unitfile::UnitFile;

[[noreturn]] void die(const char* what, std::string_view detail) {
  std::fprintf(stderr, "invariant violated: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

void check_derived(const UnitFile& unit, std::string_view name) {
  auto reqs = fleet::unitfile::requirements_of(unit, name);
  (void)fleet::unitfile::validate_options(unit, name);
  (void)fleet::unitfile::conflicts_with(reqs, name, reqs, "other.service");
  (void)fleet::unitfile::replaces(reqs, "other.service");
  (void)unit.description();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  // Names: the first line of the input doubles as a unit name.
  std::string_view first_line = text.substr(0, text.find('\n'));
  (void)fleet::unitfile::validate_unit_name(first_line);
  if (auto info = fleet::unitfile::parse_unit_name(first_line)) {
    if (info->full_name != first_line) die("name info full name", first_line);
    (void)fleet::unitfile::instance_name(first_line, "x");
  }

  auto parsed = UnitFile::parse(text);
  if (!parsed) {
    if (parsed.error().code != fleet::Errc::invalid_argument) die("error code", text);
    if (parsed.error().message.rfind("line ", 0) != 0 &&
        parsed.error().message.rfind("unit file too large", 0) != 0) {
      die("error message without line", parsed.error().message);
    }
    return 0;
  }
  const UnitFile& unit = parsed.value();
  if (unit.hash().size() != 40) die("hash length", unit.hash());
  check_derived(unit, "fuzz@inst.service");
  check_derived(unit, first_line);

  const std::string& canonical = unit.serialize();
  auto again = UnitFile::parse(canonical);
  if (!again) {
    if (again.error().message.find("line too long") == std::string::npos) {
      die("canonical form does not re-parse", again.error().message);
    }
    return 0;
  }
  bool trailing_backslash = false;
  for (const auto& opt : unit.options()) {
    if (!opt.value.empty() && opt.value.back() == '\\') trailing_backslash = true;
  }
  if (!trailing_backslash) {
    if (again.value().serialize() != canonical)
      die("canonical form is not a fixed point", canonical);
    if (again.value().options().size() != unit.options().size()) die("option count", canonical);
    if (again.value().hash() != unit.hash()) die("hash changed", canonical);
  }
  return 0;
}
