#pragma once
// MemoryKv: a complete in-memory KvStore with etcd v3's semantics, for unit tests and
// `fleetd --dev`. It passes the same contract suite as EtcdKv (registry/testing/kv_contract.h).
//
// What it models, as etcd does:
// - one global revision (starting at 1) bumped once per write txn that changes something;
//   create_revision / mod_revision / version per key, version restarting after delete+recreate;
// - an MVCC history: ranges and watches at older revisions until compact(rev) removes them
//   (range below the compaction -> invalid_argument "required revision has been compacted",
//   watch from below it -> a WatchBatch with compact_revision set, after which the watcher ends),
//   or until automatic compaction does (MemoryKvOptions: history_limit, retention);
// - leases with real TTLs (at least Options::min_lease_ttl, like etcd's minimum) expired by a
//   steady_timer on the executor; expiry and revoke delete the lease's keys in one revision;
// - lazy watchers: a watcher reads the history when next() is called, so a watcher that falls
//   behind a compaction is ended with compact_revision, like etcd's unsynced watchers.
// Everything runs on the given executor's single thread; no locks.
//
// Test hooks (not part of KvStore): expire_lease(), set_available(false) (every call fails with
// Errc::unavailable and watchers stall until it is set back, as in an etcd fail-over), and
// fail_next() to fail a number of calls with a chosen code.

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstddef>
#include <memory>

#include "registry/kv.h"

namespace fleet::registry {

struct MemoryKvOptions {
  std::size_t max_txn_ops = 128;
  // etcd raises a smaller TTL to 1.5 election timeouts rounded up: 2 s with default settings.
  std::chrono::seconds min_lease_ttl{2};
  // When non-zero, history older than this many revisions is compacted automatically (as etcd's
  // --auto-compaction-mode=revision), even what a lagging watcher has yet to read (it then ends
  // with compact_revision, as etcd's would).
  Revision history_limit = 0;
  // When non-zero, every write also compacts what nobody needs any more: revisions older than
  // the last `retention` ones that no live watcher has yet to deliver. Memory then follows the
  // live data instead of the number of writes (replacing a large unit 200 times keeps about
  // `retention` old copies, not 200).
  Revision retention = 0;
  // Watch batches hold at most this many events (never splitting one revision).
  std::size_t max_batch_events = 1000;
};

// For a store that lives as long as a daemon (`fleetd --dev`): automatic compaction keeps a short
// window plus what live watchers need, with a hard bound for a watcher that stops reading.
MemoryKvOptions long_running_options();

class MemoryKv final : public KvStore {
 public:
  explicit MemoryKv(boost::asio::any_io_executor ex, MemoryKvOptions opts = {});
  ~MemoryKv() override;
  MemoryKv(const MemoryKv&) = delete;
  MemoryKv& operator=(const MemoryKv&) = delete;

  Task<Result<RangeResponse>> range(RangeRequest req) override;
  Task<Result<TxnResponse>> txn(TxnRequest req) override;
  Task<Result<Revision>> put(std::string key, std::string value, LeaseId lease = 0) override;
  Task<Result<std::int64_t>> del(std::string key, std::string range_end = {}) override;
  Task<Result<LeaseId>> lease_grant(std::chrono::seconds ttl) override;
  Task<Result<std::chrono::seconds>> lease_keepalive(LeaseId id) override;
  Task<Status> lease_revoke(LeaseId id) override;
  std::unique_ptr<Watcher> watch(WatchRequest req) override;
  std::size_t max_txn_ops() const override;

  // Discards history before `rev` (etcd's compaction). invalid_argument when rev is in the
  // future or not above the previous compaction. Synchronous: it cannot be unavailable.
  Status compact(Revision rev);
  Revision revision() const;
  Revision compact_revision() const;

  // --- test hooks ---
  // Expires a lease now, as if its TTL had run out. False when no such lease exists.
  bool expire_lease(LeaseId id);
  // While false, every call fails with Errc::unavailable and watchers deliver nothing (they
  // resume, losing nothing, once available again). Leases keep expiring meanwhile, as on a
  // server the client cannot reach.
  void set_available(bool available);
  // The next `count` calls (of any kind) fail with `code` without effect.
  void fail_next(int count, Errc code = Errc::unavailable);
  std::size_t lease_count() const;
  std::size_t watcher_count() const;
  // What the history holds now: key records (live values, old values and deletion markers) and
  // buffered watch events, and the bytes of the values in both.
  struct Footprint {
    std::size_t records = 0;
    std::size_t events = 0;
    std::size_t value_bytes = 0;
  };
  Footprint footprint() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace fleet::registry
