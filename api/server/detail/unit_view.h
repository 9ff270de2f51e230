#pragma once
// Folder-private: the API's view of units, read from the registry in one consistent txn, with
// the derived current state (fleet-spec §4.6 adapted to our key layout).

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "api/schema.h"
#include "api/server/api_context.h"
#include "api/server/http_message.h"
#include "registry/records.h"

namespace fleet::registry {
class Registry;
}

namespace fleet::api::server::detail {

struct UnitsSnapshot {
  std::vector<registry::UnitRecord> units;      // sorted by name
  std::map<std::string, std::string> schedule;  // unit → machine
  // (unit, machine) with a state → its systemd ActiveState
  std::map<std::pair<std::string, std::string>, std::string> reported;
  std::map<std::string, std::string> reasons;  // unit → unschedulable reason
};

// Every unit, or only `name` (then `units` holds at most one record).
Task<Result<UnitsSnapshot>> read_units(registry::Registry& reg,
                                       const std::optional<std::string>& name);

// Ensures the parsed contents of `hashes` are cached (one txn per max_txn_ops hashes). A hash
// without content or with unparseable content is cached as "no options" and logged.
Task<Status> load_contents(registry::Registry& reg, ContentCache& cache,
                           const std::vector<std::string>& hashes);

// The API entity: options from `content` (may be null), desiredState, and for non-global units
// currentState, machineID and our addition `reason`. Global units have neither current state
// nor machine ID, in lists and in GET alike (fleet-spec §14 row 24 made consistent).
Unit unit_view(const registry::UnitRecord& rec, const UnitsSnapshot& snap,
               const ParsedContent* content);

// Converts API options to unit-file options and back.
ParsedContent parse_content(std::string_view text, bool* ok);

}  // namespace fleet::api::server::detail
