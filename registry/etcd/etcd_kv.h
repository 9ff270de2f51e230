#pragma once
// EtcdKv: the production KvStore, speaking etcd v3's JSON gateway (/v3/kv/*, /v3/lease/*,
// /v3/watch) over HTTP/1.1 keep-alive connections (Boost.Beast; TLS optional).
//
// Fail-over: calls go to the last endpoint that worked; a refused connection, a member without a
// leader ("no leader" 503, fast thanks to the Grpc-Metadata-hasleader header) or a stale pooled
// connection moves on to the next endpoint and retries within the call's deadline. Reads also
// retry after a lost connection or other 503; a write whose request may have reached a member
// that then failed is NOT retried: it returns Errc::timeout/unavailable and its outcome is unknown
// (callers re-read). Watches reconnect on their own and resume from the last revision + 1.
//
// Loop affinity: construct, call and destroy on the io_context's thread; the EtcdKv must outlive
// the calls it starts (watchers may outlive it).

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "registry/kv.h"

namespace boost::asio {
class io_context;
}

namespace fleet::registry {

struct EtcdConfig {
  std::vector<std::string> endpoints;               // "http(s)://host:port"; "host:port" means http
  std::chrono::milliseconds request_timeout{2500};  // deadline of every unary call
  std::string username, password;                   // empty = no auth
  std::string ca_file, cert_file, key_file;         // TLS (https endpoints); empty CA = system
  std::size_t max_txn_ops = 128;
  // Unary requests in flight at once (each holds a connection); more wait for a slot within their
  // deadline. Without a cap, a burst of calls (thousands of lease keep-alives falling due
  // together, a plan written in many txns) opened as many TCP connections at once: connects
  // timed out in the listen backlog and the retries made it worse (issue #14: 5,000 simulated
  // agents on one client). Up to as many idle connections are kept for reuse.
  std::size_t max_in_flight = 32;
  // Lease keep-alives skip that queue but have a bound of their own: at most this many
  // keep-alive requests at once; those falling due meanwhile go together in the next one
  // (keepalive_lane.h).
  std::size_t max_keepalive_requests = 32;
  // Called after every unary request with its operation ("range", "txn", "put", "keepalive",
  // ...: the last part of the gateway path), its duration and whether it succeeded (metrics).
  std::function<void(std::string_view op, double seconds, bool ok)> on_request = {};
};

namespace etcd {
class Transport;
class KeepAliveLane;
}  // namespace etcd

class EtcdKv final : public KvStore {
 public:
  // Fails with Errc::invalid_argument on a malformed endpoint or unreadable TLS files.
  static Result<std::unique_ptr<EtcdKv>> create(boost::asio::io_context& ioc, EtcdConfig config);
  ~EtcdKv() override;
  EtcdKv(const EtcdKv&) = delete;
  EtcdKv& operator=(const EtcdKv&) = delete;

  Task<Result<RangeResponse>> range(RangeRequest req) override;
  Task<Result<TxnResponse>> txn(TxnRequest req) override;
  Task<Result<Revision>> put(std::string key, std::string value, LeaseId lease = 0) override;
  Task<Result<std::int64_t>> del(std::string key, std::string range_end = {}) override;

  Task<Result<LeaseId>> lease_grant(std::chrono::seconds ttl) override;
  Task<Result<std::chrono::seconds>> lease_keepalive(LeaseId id) override;
  Task<Status> lease_revoke(LeaseId id) override;

  std::unique_ptr<Watcher> watch(WatchRequest req) override;

  std::size_t max_txn_ops() const override { return max_txn_ops_; }

  // Not part of KvStore: drops history up to `rev` (watchers from older revisions then see
  // WatchBatch::compact_revision).
  Task<Status> compact(Revision rev);

 private:
  EtcdKv(boost::asio::io_context& ioc, std::shared_ptr<etcd::Transport> transport,
         const EtcdConfig& config);

  std::shared_ptr<etcd::Transport> transport_;
  std::unique_ptr<etcd::KeepAliveLane> keepalives_;
  std::size_t max_txn_ops_;
};

}  // namespace fleet::registry
