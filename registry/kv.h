#pragma once
// KvStore: the key-value contract the registry is built on. It is etcd v3's data model (MVCC
// revisions, leases, multi-op transactions, watches from a revision) so that one typed Registry
// (registry.h) runs unchanged on the production backend (EtcdKv, registry/etcd/) and on the
// in-memory backend (MemoryKv) used by unit tests and `fleetd --dev`. Both backends pass the same
// contract suite (registry/testing/kv_contract.h).
//
// Loop affinity: every method is called from, and completes on, the process's single io_context
// thread. Every method may suspend. Failures are values:
//   Errc::unavailable  backend unreachable / no leader / no quorum (retrying may help)
//   Errc::timeout      the call's deadline passed; the outcome of a write is then unknown
//   Errc::not_found    lease does not exist (expired or revoked)
//   Errc::invalid_argument  malformed request (empty key, duplicate key in one txn, ...)
//   Errc::cancelled    the watcher was cancelled
// A transaction whose compares fail is not an error: TxnResponse::succeeded is false.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace fleet::registry {

template <class T>
using Task = boost::asio::awaitable<T>;

using Revision = std::int64_t;
using LeaseId = std::int64_t;  // 0 = no lease

// The range end that selects every key starting with `prefix` (etcd's prefix rule).
std::string prefix_end(std::string_view prefix);

struct KeyValue {
  std::string key;
  std::string value;
  Revision create_revision = 0;
  Revision mod_revision = 0;
  std::int64_t version = 0;
  LeaseId lease = 0;
  bool operator==(const KeyValue&) const = default;
};

// A single key when range_end is empty, else the half-open range [key, range_end).
struct RangeRequest {
  std::string key;
  std::string range_end;
  std::int64_t limit = 0;  // 0 = no limit
  Revision revision = 0;   // 0 = latest; older revisions may be compacted
  bool keys_only = false;
  bool count_only = false;
  bool serializable = false;  // may be served by a member without quorum (possibly stale)
  // When non-zero, only keys last modified at or after this revision are returned (and limit
  // applies to those), while `count` still counts every key in the range: etcd's rule. The
  // server reads the whole range for it, but the answer stays small (ClusterView's check that
  // nothing under a prefix changed since a revision).
  Revision min_mod_revision = 0;
};

struct RangeResponse {
  std::vector<KeyValue> kvs;  // sorted by key
  std::int64_t count = 0;     // number of keys in the range, ignoring limit
  bool more = false;
  Revision revision = 0;  // store revision the read was served at
};

struct Compare {
  enum class Target { version, create_revision, mod_revision, value, lease };
  enum class Result { equal, greater, less, not_equal };
  std::string key;
  Target target = Target::version;
  Result result = Result::equal;
  std::int64_t number = 0;  // for version/create/mod/lease targets
  std::string value;        // for the value target

  static Compare absent(std::string key) {  // key does not exist
    return {std::move(key), Target::create_revision, Result::equal, 0, {}};
  }
  static Compare mod_revision_is(std::string key, Revision r) {
    return {std::move(key), Target::mod_revision, Result::equal, r, {}};
  }
  static Compare value_is(std::string key, std::string v) {
    return {std::move(key), Target::value, Result::equal, 0, std::move(v)};
  }
  static Compare lease_is(std::string key, LeaseId l) {
    return {std::move(key), Target::lease, Result::equal, l, {}};
  }
};

struct Op {
  enum class Kind { put, del, range };
  Kind kind = Kind::range;
  std::string key;
  std::string range_end;  // del/range only
  std::string value;      // put only
  LeaseId lease = 0;      // put only

  static Op put(std::string k, std::string v, LeaseId lease = 0) {
    return {Kind::put, std::move(k), {}, std::move(v), lease};
  }
  static Op del(std::string k, std::string range_end = {}) {
    return {Kind::del, std::move(k), std::move(range_end), {}, 0};
  }
  static Op get(std::string k, std::string range_end = {}) {
    return {Kind::range, std::move(k), std::move(range_end), {}, 0};
  }
};

struct OpResult {
  Op::Kind kind = Op::Kind::range;
  RangeResponse range;       // range ops
  std::int64_t deleted = 0;  // del ops
};

struct TxnRequest {
  std::vector<Compare> compare;  // all must hold (AND)
  std::vector<Op> success;
  std::vector<Op> failure;
};

struct TxnResponse {
  bool succeeded = false;
  Revision revision = 0;
  std::vector<OpResult> results;  // of the branch that ran
};

struct Event {
  enum class Type { put, del };
  Type type = Type::put;
  KeyValue kv;  // for del: key and mod_revision (the deletion's revision)
  std::optional<KeyValue> prev_kv;
};

struct WatchRequest {
  std::string key;
  std::string range_end;
  Revision start_revision = 0;  // 0 = from now
  bool prev_kv = false;
};

struct WatchBatch {
  std::vector<Event> events;  // in revision order; never empty unless compacted or progress
  Revision revision = 0;      // store revision this batch was sent at (progress marker)
  // When non-zero, events from start_revision are gone (compaction): the watcher has ended and
  // the caller must re-read the range and watch again from the read's revision + 1.
  Revision compact_revision = 0;
};

// A pull-based stream of watch events. It survives backend fail-over on its own (resuming from
// the last delivered revision + 1, so no event is lost or repeated); it only ends on compaction
// (WatchBatch::compact_revision) or cancel().
class Watcher {
 public:
  virtual ~Watcher() = default;
  // Suspends until the next batch. Errc::cancelled after cancel().
  virtual Task<Result<WatchBatch>> next() = 0;
  virtual void cancel() = 0;
};

class KvStore {
 public:
  virtual ~KvStore() = default;

  virtual Task<Result<RangeResponse>> range(RangeRequest req) = 0;
  virtual Task<Result<TxnResponse>> txn(TxnRequest req) = 0;
  // Convenience for single-op writes; same semantics as a one-op txn without compares.
  virtual Task<Result<Revision>> put(std::string key, std::string value, LeaseId lease = 0) = 0;
  virtual Task<Result<std::int64_t>> del(std::string key, std::string range_end = {}) = 0;

  virtual Task<Result<LeaseId>> lease_grant(std::chrono::seconds ttl) = 0;
  // Returns the remaining TTL; Errc::not_found once the lease has expired or was revoked.
  virtual Task<Result<std::chrono::seconds>> lease_keepalive(LeaseId id) = 0;
  virtual Task<Status> lease_revoke(LeaseId id) = 0;

  virtual std::unique_ptr<Watcher> watch(WatchRequest req) = 0;

  // Largest number of ops one txn may hold (etcd's --max-txn-ops, 128 by default).
  virtual std::size_t max_txn_ops() const = 0;
};

// Runs `ops` unconditionally in as few transactions as `kv` allows (max_txn_ops() each), several
// in flight (run_txns): the keys must be distinct. The first failure is returned; the other
// transactions may have been applied.
Task<Status> write_in_chunks(KvStore& kv, std::vector<Op> ops);

// Runs txns that touch distinct keys with up to `in_flight` at once, so that etcd commits them
// together instead of paying a round trip and a WAL fsync per txn (500 units created, changed or
// destroyed through the API: 8 txns one after the other took 250-350 ms on a loaded 2-core
// machine). One result per txn, in order.
Task<std::vector<Result<TxnResponse>>> run_txns(KvStore& kv, std::vector<TxnRequest> txns,
                                                std::size_t in_flight = 8);

}  // namespace fleet::registry
