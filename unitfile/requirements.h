#pragma once
// fleet's [X-Fleet] scheduling requirements, their submit-time validation
// and the pairwise Conflicts/Replaces relations the engine and agent evaluate.

#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "unitfile/unit_file.h"

namespace fleet::unitfile {

// Admission limits, which fleet does not have: every scheduling pass matches each Conflicts and
// Replaces glob against unit names, and one match costs up to the glob's length times the name's.
// A unit name has at most kMaxUnitNameBytes (256), so no real glob or MachineOf value is longer.
// validate_options() refuses units over them; a stored glob over kMaxGlobBytes (from an older
// version) matches nothing.
inline constexpr std::size_t kMaxGlobBytes = 256;
inline constexpr std::size_t kMaxRequirementValues = 64;  // per key: Conflicts, Replaces, MachineOf

inline bool within_glob_limit(std::string_view pattern) { return pattern.size() <= kMaxGlobBytes; }

struct Requirements {
  // Required machine: first value of MachineID, else X-ConditionMachineID, else
  // X-ConditionMachineBootID. A machine matches on its full ID or its 8-char short ID.
  std::string machine_id;
  // True when one of those keys is present, even with an empty value (fleet then requires a
  // machine with ID "", i.e. the unit is unschedulable, and validation treats it as set).
  bool has_machine_id = false;
  // MachineOf: X-ConditionMachineOf values then MachineOf values (exact names, deduplicated).
  std::vector<std::string> peers;
  // MachineMetadata: key -> allowed values (OR); keys ANDed. Only exact `k=v` with non-empty k, v.
  std::map<std::string, std::set<std::string>> metadata;
  // Conflicts globs: X-Conflicts then Conflicts, each value split on white space, deduplicated.
  std::vector<std::string> conflicts;
  // Replaces globs (not white-space split), deduplicated.
  std::vector<std::string> replaces;
  // Last Global value is truthy.
  bool global = false;
  // fleet++: last StopOnDisconnect value is truthy. The agent stops such a unit itself when it
  // cannot renew its machine lease in time, before the engine may start it elsewhere, and starts
  // it again only once it is back in touch with the registry and still has the unit.
  bool stop_on_disconnect = false;
  // [X-Fleet] keys fleet does not know, in order of first appearance (fleetctl only warns).
  std::vector<std::string> unknown_keys;
};

// Requirements of `unit` when submitted as `unit_name`. Every [X-Fleet] value is multi-value
// split, then %n %N %p %i are substituted in that order from `unit_name` (only when it contains
// a '.'; %i is empty for non-instances). Never fails: malformed values are ignored as fleet does.
Requirements requirements_of(const UnitFile& unit, std::string_view unit_name);

// fleet's ValidateOptions, first failure only, Errc::invalid_argument with fleet's text:
// re-parse of the canonical form ("line N: line too long (max 2048 bytes)"), then the limits
// above ("Conflicts has 65 values, at most 64 allowed", "Replaces value of 300 bytes, at most 256
// allowed"), then `unresolvable requirements: peer "p" matches conflict "c"` / `... matches
// replace "r"`, then the forbidden combinations ("MachineID cannot be used with Peers", ...).
// Unlike fleet (which validates before naming the unit and so never substitutes specifiers),
// checks run on the substituted requirements of `unit_name`, i.e. what the engine will use.
[[nodiscard]] Status validate_options(const UnitFile& unit, std::string_view unit_name);

// Symmetric conflict: a pattern of `a` matches `b_name` or a pattern of `b` matches
// `a_name`. A unit never conflicts with itself (equal names). Malformed globs never match.
bool conflicts_with(const Requirements& a, std::string_view a_name, const Requirements& b,
                    std::string_view b_name);

// One of `r`'s Replaces globs matches `other_name`.
bool replaces(const Requirements& r, std::string_view other_name);

// A required MachineID matches a machine by its full ID or its 8-character short ID.
bool machine_id_matches(std::string_view required, std::string_view machine_id);

// Every required metadata key is present on the machine with one of the allowed values (exact,
// case-sensitive). No metadata requirement matches every machine.
bool metadata_matches(const Requirements& r,
                      const std::map<std::string, std::string, std::less<>>& machine_metadata);

}  // namespace fleet::unitfile
