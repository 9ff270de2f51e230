#pragma once
// ApiContext: everything the API handlers need, borrowed from the composition root (fleetd) or
// from a test. Handlers are `Task<Response> handle(const Request&, ApiContext&)` (handler.h).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/page_token.h"
#include "api/schema.h"
#include "common/result.h"
#include "common/version.h"

namespace fleet::registry {
class Registry;
class ClusterView;
}  // namespace fleet::registry
namespace fleet::metrics {
class Metrics;
}

namespace fleet::api::server {

class UnitInspector;
namespace detail {
struct ListingSnapshots;
}

struct ApiOptions {
  std::uint16_t token_limit = kPageTokenLimit;  // page size and the limit inside page tokens
  std::string version = fleet::version();       // `Server: fleetd/<version>`
};

// A unit content parsed once: contents are immutable per hash, so the parse is cached by hash.
struct ParsedContent {
  std::vector<UnitOption> options;
  bool global = false;
  std::string description = {};  // [Unit] Description=, for the basic view of a listing
  // `options` as listings write them (api::encode_options), encoded once per content rather
  // than in every page of every listing; "" when not filled (then encoded each time).
  std::string options_json = {};
};

// Bounded cache of parsed unit contents keyed by hash (cleared wholesale when full: entries are
// cheap to rebuild and the working set is the live units).
class ContentCache {
 public:
  // Sized above the 10,000 distinct contents the listing benchmark uses: a smaller cache is
  // cleared during every full listing and each page re-parses its units.
  explicit ContentCache(std::size_t capacity = 16384) : capacity_(capacity) {}
  std::shared_ptr<const ParsedContent> find(const std::string& hash) const;
  std::shared_ptr<const ParsedContent> insert(const std::string& hash, ParsedContent parsed);
  std::size_t size() const { return entries_.size(); }

 private:
  std::size_t capacity_;
  // Hashed: a listing looks up every unit's content (a 10,000-entry std::map cost a quarter of
  // fleetd's time in a 10,000-unit list-unit-files).
  std::unordered_map<std::string, std::shared_ptr<const ParsedContent>> entries_;
};

// One line of GET /readyz: `ok` false makes fleetd not ready; `detail` says why.
struct ReadinessCheck {
  std::string name;
  bool ok = false;
  std::string detail = {};
};

struct ApiContext {
  explicit ApiContext(registry::Registry& r, ApiOptions o = {})
      : registry(r), options(std::move(o)) {}

  registry::Registry& registry;
  ApiOptions options;
  // Serves /units/<name>/status and /journal; null → those answer 501.
  UnitInspector* inspector = nullptr;
  // This fleetd's machine ID. A status/journal request another fleetd proxied here
  // (`X-Fleet-Proxied` header) for a different machine gets 503 instead of being proxied again
  // (a loop through misconfigured API URLs). Empty → no check.
  std::string machine_id;
  // Request counters are recorded here and rendered by /metrics; null → /metrics shows only
  // the registry-derived gauges.
  metrics::Metrics* metrics = nullptr;
  // Checks of the local components for GET /readyz (the agent caught up, ...), beyond the
  // registry and machine checks the API makes itself. Empty → none.
  std::function<std::vector<ReadinessCheck>()> readiness;
  // False while fleetd is not registered: every request then gets 503.
  // Empty → always available.
  std::function<bool()> available;
  ContentCache contents;
  // The registry read behind the first page of /units and /state, reused by the following pages
  // (for at most `listing_reuse`), so listing N units costs one registry read instead of
  // N / page size. Page 1 always reads afresh, so a new listing never sees older data than the
  // previous one. Created on first use (detail/unit_view.h).
  std::shared_ptr<detail::ListingSnapshots> listings;
  std::chrono::milliseconds listing_reuse{5000};
  // Serves page 1 of those listings from a watch-fed copy, as consistent as a direct read
  // (registry/cluster_view.h); when it cannot serve (not following yet, behind), page 1 reads
  // directly. Null → always directly.
  registry::ClusterView* view = nullptr;
};

}  // namespace fleet::api::server
