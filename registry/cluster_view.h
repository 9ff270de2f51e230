#pragma once
// ClusterView: a watch-fed copy of what the API's listings show (units, schedules, unit states,
// reasons), so that GET /fleet/v1/units and /state need not read the whole cluster from etcd for
// every listing (10,000 units: 270-670 ms a listing, most of it that read; issue #14). A
// Reflector over the registry prefix underneath (list in pages, watch, re-list after
// compaction); each change is decoded once as it arrives, and sorted snapshots are built only
// when read, once per change of the listed records, and shared with every page of a listing.
//
// Consistency is that of a direct read (linearizable, so a listing shows every write that
// finished before it began, through any fleetd): a read first asks the store for its current
// revision (a one-key range, the cheapest linearizable request) and serves only once the copy
// reflects the store at that revision, i.e. when
//   - the watch has delivered it; or
//   - the store shows that nothing under the prefix changed since the copy's revision: no key
//     modified since, and as many keys as the copy holds (a deletion shows in the count). This
//     covers revisions spent by writes outside the prefix (an etcd shared with other users),
//     which no event of ours announces. It is asked after `settle`, as it makes etcd read the
//     whole prefix (though it answers with at most one key).
// Otherwise the read waits for the watch, up to `catch_up` in all, and then answers nullptr: the
// caller reads directly, as before.
//
// Lazy: following starts at the first read (which the copy cannot serve yet: nullptr) and stops,
// dropping the copy, after `idle` without a read, so that fleetds nobody lists through do not all
// watch the whole cluster.
//
// Loop affinity: everything on the store's io_context thread; any number of concurrent reads.

#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

#include "registry/kv.h"
#include "registry/records.h"

namespace fleet::registry {

class KeyLayout;

struct ClusterViewOptions {
  // Stop following (and drop the copy) after this long without a read.
  std::chrono::milliseconds idle{std::chrono::minutes(5)};
  // How long a read behind the store waits for the watch before asking the store whether
  // anything under the prefix changed at all.
  std::chrono::milliseconds settle{5};
  // The longest a read waits for the copy in all before the caller reads directly.
  std::chrono::milliseconds catch_up{100};
};

class ClusterView {
 public:
  // Borrows `kv` and `keys`, which must outlive the view.
  ClusterView(KvStore& kv, const KeyLayout& keys, ClusterViewOptions opts = {});
  ~ClusterView();  // stops following
  ClusterView(const ClusterView&) = delete;
  ClusterView& operator=(const ClusterView&) = delete;

  // Every unit with schedules, states and reasons (as Registry::units_snapshot(nullopt)) as of
  // the store's revision at the call or later; nullptr when the copy cannot serve (not
  // following yet, still listing, or behind for longer than catch_up). Fails only when the
  // store's revision cannot be read.
  Task<Result<std::shared_ptr<const UnitsSnapshot>>> units();
  // Every unit state sorted by unit then machine (as Registry::list_states()); the same rules.
  Task<Result<std::shared_ptr<const std::vector<UnitStateRecord>>>> states();

  // Stops following and drops the copy; the next read starts again.
  void stop();

  bool following() const;
  // The store revision the copy is known to reflect; 0 while not following or still listing.
  Revision revision() const;
  // Re-lists after compaction since following started.
  std::size_t relists() const;

  // What reads got, for tests and logs.
  struct Counters {
    std::size_t served = 0;    // from the copy
    std::size_t unserved = 0;  // nullptr: read directly
    std::size_t checks = 0;    // asked the store whether the prefix changed
    std::size_t starts = 0;    // times following started
  };
  const Counters& counters() const { return counters_; }

  // One period of following (cluster_view.cpp).
  struct Follow;

 private:
  Task<Result<std::shared_ptr<Follow>>> ready();

  KvStore& kv_;
  const KeyLayout& keys_;
  ClusterViewOptions opts_;
  std::shared_ptr<Follow> follow_;
  Counters counters_;
};

}  // namespace fleet::registry
