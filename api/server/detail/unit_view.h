#pragma once
// Folder-private: the API's view of units, read from the registry in one consistent txn, with
// the derived current state.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "api/schema.h"
#include "api/server/api_context.h"
#include "api/server/http_message.h"
#include "registry/records.h"
#include "registry/registry.h"

namespace fleet::registry {
class Registry;
}

namespace fleet::api::server::detail {

using registry::UnitsSnapshot;

// What the first page of a listing read, for the pages after it (ApiContext::listings).
struct ListingSnapshots {
  std::shared_ptr<const UnitsSnapshot> units;
  std::chrono::steady_clock::time_point units_read;
  std::shared_ptr<const std::vector<registry::UnitStateRecord>> states;
  std::chrono::steady_clock::time_point states_read;
};

// Every unit, or only `name` (then `units` holds at most one record): Registry::units_snapshot.
inline Task<Result<UnitsSnapshot>> read_units(registry::Registry& reg,
                                              const std::optional<std::string>& name) {
  return reg.units_snapshot(name);
}

inline ListingSnapshots& listings_of(ApiContext& ctx) {
  if (!ctx.listings) ctx.listings = std::make_shared<ListingSnapshots>();
  return *ctx.listings;
}

inline bool reusable(std::chrono::steady_clock::time_point read, std::uint16_t page,
                     const ApiContext& ctx) {
  return page > 1 && std::chrono::steady_clock::now() - read < ctx.listing_reuse;
}

// Every unit for page `page` of a listing: a fresh read for page 1 (kept in ctx.listings), the
// kept snapshot for later pages while it is younger than ctx.listing_reuse (units.cpp; kept
// apart from read_units: GCC 12 warns falsely when it inlines one coroutine into the other).
Task<Result<std::shared_ptr<const UnitsSnapshot>>> units_for_page(ApiContext& ctx,
                                                                  std::uint16_t page);
// The same for every unit state, sorted by unit then machine (cluster_routes.cpp).
Task<Result<std::shared_ptr<const std::vector<registry::UnitStateRecord>>>> states_for_page(
    ApiContext& ctx, std::uint16_t page);

// The parsed contents of `hashes`, in their order, from the cache or read into it (one txn per
// max_txn_ops hashes); null for a hash without content (logged). Unparseable content is cached
// as "no options" and logged. The caller holds what it got: the cache may drop entries (it is
// cleared when full) while this fills it, even ones the same call found.
Task<Result<std::vector<std::shared_ptr<const ParsedContent>>>> load_contents(
    registry::Registry& reg, ContentCache& cache, const std::vector<std::string>& hashes);

// The API entity: options from `content` (may be null), desiredState, and for non-global units
// currentState, machineID and our addition `reason`. Global units have neither current state
// nor machine ID, in lists and in GET alike. Without `with_options`, the options are left out
// (a listing writes content->options_json instead of copying them).
Unit unit_view(const registry::UnitRecord& rec, const UnitsSnapshot& snap,
               const ParsedContent* content, bool with_options = true);

// Converts API options to unit-file options and back.
ParsedContent parse_content(std::string_view text, bool* ok);

}  // namespace fleet::api::server::detail
