#pragma once
// Reflector: follows every key under one prefix of a KvStore and keeps a local copy of them, like
// a Kubernetes informer. The engine reflects the whole cluster prefix, an agent only its own
// machine's keys.
//
// It lists the prefix, then watches from the list's revision + 1, applying each event to its
// cache and handing the consumer the changes. When the watch ends because the history it needs
// was compacted, it lists again and emits the difference between its cache and the new listing
// (a put for every new or changed key, a del for every vanished key), so the consumer never
// misses a change: after each batch, cache() equals the store's keys under the prefix at
// revision(). Changes in a batch are in revision order; intermediate states may be skipped
// only across such a re-list.
//
// Pull-based and single-consumer: one coroutine calls next() (or run()) at a time, on the
// store's loop. Transient failures (unavailable, timeout, a broken watch) are retried inside
// next() with capped exponential backoff and logged; the consumer only sees changes.

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/backoff.h"
#include "registry/kv.h"

namespace fleet::registry {

struct Change {
  enum class Type { put, del };
  Type type = Type::put;
  // put: the new key-value. del: the key and the revision it was seen gone at (the deletion's
  // revision, or the re-list's revision when found by a re-list).
  KeyValue kv;
};

struct ReflectorBatch {
  enum class Kind {
    initial,  // the first listing: every key as a put (possibly none)
    update,   // from the watch
    resync,   // differences found by a re-list after compaction
  };
  Kind kind = Kind::update;
  std::vector<Change> changes;
  Revision revision = 0;  // the cache now reflects the store at this revision
};

struct ReflectorOptions {
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
};

class Reflector {
 public:
  // Borrows `kv`, which must outlive the reflector.
  Reflector(KvStore& kv, std::string prefix, ReflectorOptions opts = {});
  ~Reflector();
  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;

  // Suspends until there are changes and returns them, already applied to cache(). The first
  // call returns the initial listing. Update and resync batches are never empty. Fails only
  // with Errc::cancelled: after cancel(), or when the awaiting operation is cancelled (a later
  // call resumes where it left off without losing changes).
  Task<Result<ReflectorBatch>> next();

  // Calls `on_batch` with every batch until cancelled; returns the cancellation status.
  Task<Status> run(std::function<void(const ReflectorBatch&)> on_batch);

  // Makes the pending and every later next() return Errc::cancelled.
  void cancel();

  // Keys per range of a listing (list, then re-list after compaction).
  static constexpr std::int64_t kListPage = 10000;

  // Every key under the prefix at revision(), with its mod_revision. Only what a re-list needs
  // to find the differences: every consumer decodes the changes as they come, and a second copy
  // of every value (or of every key in a KeyValue) cost the engine ~60 MiB at 100,000 units.
  const std::map<std::string, Revision>& cache() const { return cache_; }
  const std::string& prefix() const { return prefix_; }
  Revision revision() const { return revision_; }
  bool synced() const { return revision_ != 0; }
  std::size_t relists() const { return relists_; }

 private:
  struct Waiter;
  Task<Status> backoff();
  Task<Result<ReflectorBatch>> list(ReflectorBatch::Kind kind);
  Task<Result<RangeResponse>> list_pages();
  ReflectorBatch replace_cache(RangeResponse listing, ReflectorBatch::Kind kind);
  void apply(const WatchBatch& b, ReflectorBatch& out);

  KvStore& kv_;
  std::string prefix_;
  ReflectorOptions opts_;
  std::map<std::string, Revision> cache_;
  Revision revision_ = 0;
  std::unique_ptr<Watcher> watcher_;
  Backoff backoff_{opts_.initial_backoff, opts_.max_backoff};
  std::size_t relists_ = 0;
  bool cancelled_ = false;
  std::unique_ptr<Waiter> waiter_;
};

}  // namespace fleet::registry
