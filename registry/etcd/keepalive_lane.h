#pragma once
// Folder-private: EtcdKv's lane for lease keep-alives. They skip the queue of unary requests
// (EtcdConfig::max_in_flight): a keep-alive delayed past its lease's TTL costs a failover. The
// lane has its own bound instead: at most EtcdConfig::max_keepalive_requests requests at once,
// and the keep-alives that fall due meanwhile wait and go together in the next request (the
// gateway's LeaseKeepAlive is a stream: one body may carry many lease IDs). A fleetd with one or
// two leases sends each keep-alive at once, alone; thousands of leases on one client (simulated
// agents, issue #14) cost a few requests per round instead of one connection each.

#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

#include "registry/kv.h"

namespace boost::asio {
class io_context;
}

namespace fleet::registry::etcd {

class Transport;

class KeepAliveLane {
 public:
  KeepAliveLane(boost::asio::io_context& ioc, std::shared_ptr<Transport> transport,
                std::size_t max_requests);
  ~KeepAliveLane();
  KeepAliveLane(const KeepAliveLane&) = delete;
  KeepAliveLane& operator=(const KeepAliveLane&) = delete;

  // The lease's remaining TTL; Errc::not_found when it is gone; Errc::cancelled when the caller
  // stopped waiting.
  Task<Result<std::chrono::seconds>> keepalive(LeaseId id);

  // Most lease IDs one request carries. etcd 3.4 renews a lease only once its apply caught up
  // with the commits, and the leases of one stream one after the other: under writes each waits
  // for a round of apply (1,000 IDs took 1.2 s on a lightly loaded etcd and outlasted the
  // request deadline at 20,000 units, failing every lease of the batch). Renewals per second
  // are then max_keepalive_requests per round whatever the batch, so batches stay small (a
  // batch waits at most this many rounds) and the requests many.
  static constexpr std::size_t kMaxBatch = 8;

 private:
  struct State;
  struct Waiter;
  static Task<void> flush(std::shared_ptr<State> st);
  static Task<void> renew(State& st, std::vector<LeaseId> ids,
                          std::vector<std::shared_ptr<Waiter>> waiters);
  static void answer(Waiter& w, Result<std::chrono::seconds> r);
  std::shared_ptr<State> st_;
};

}  // namespace fleet::registry::etcd
