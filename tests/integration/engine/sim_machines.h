#pragma once
// SimMachines: machines that only announce themselves under a lease (LeaseKeeper +
// Registry::put_machine, as the agent does), keep it alive and report unit states, all on one
// EtcdNode (one etcd client for all of them, so 1,000 machines cost 1,000 leases, not clients).

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "registry/lease_keeper.h"
#include "tests/harness/wait.h"
#include "tests/integration/engine/etcd_node.h"

namespace fleet::testing {

// Runs fn(0..n-1) with at most `parallel` calls in flight on the current loop; returns when all
// have finished. `fn` returns Task<void> and must not throw.
template <class Fn>
registry::Task<void> parallel_for(std::size_t n, std::size_t parallel, Fn fn) {
  auto ex = co_await boost::asio::this_coro::executor;
  std::size_t next = 0;
  std::size_t running = std::min(parallel, n);
  boost::asio::steady_timer all_done(ex, std::chrono::steady_clock::time_point::max());
  auto worker = [&]() -> registry::Task<void> {
    while (next < n) co_await fn(next++);
  };
  for (std::size_t w = 0, workers = running; w < workers; ++w)
    boost::asio::co_spawn(ex, worker(), [&](std::exception_ptr) {
      if (--running == 0) all_done.cancel();
    });
  if (running > 0) co_await all_done.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
}

// Simulated machines on one node (one KV client for all of them).
class SimMachines {
 public:
  SimMachines(EtcdNode& node, std::chrono::seconds ttl) : node_(node), ttl_(ttl) {}
  ~SimMachines() {
    try {
      stop_all();
    } catch (...) {
    }
  }
  SimMachines(const SimMachines&) = delete;
  SimMachines& operator=(const SimMachines&) = delete;

  // Grants a lease, announces the machine under it and keeps the lease alive.
  void add(const std::string& id, std::map<std::string, std::string> metadata = {}) {
    node_.call(announce(id, std::move(metadata)));
  }

  // Announces many machines concurrently (`parallel` at a time) from the node's one client.
  void add_many(const std::vector<std::string>& ids, std::size_t parallel = 16) {
    node_.call(announce_many(ids, parallel), std::chrono::seconds(120));
  }

  // The machine stops renewing its lease (a crashed host): it vanishes when etcd expires it.
  void stop_heartbeat(const std::string& id) {
    node_.on_loop([&] {
      machines_.at(id)->keeper.stop();
      return 0;
    });
  }
  // The lease is revoked at once (the host's keys vanish now).
  fleet::Status revoke(const std::string& id) { return node_.call(revoke_task(id)); }
  // Revokes many leases concurrently (`parallel` requests in flight).
  fleet::Status revoke_many(const std::vector<std::string>& ids, std::size_t parallel = 16) {
    return node_.call(revoke_many_task(ids, parallel), std::chrono::seconds(60));
  }
  registry::LeaseId lease(const std::string& id) {
    return node_.on_loop([&] { return machines_.at(id)->keeper.id(); });
  }
  // Reports "active/running" for every unit assigned to the machine, under its lease.
  fleet::Status report(const std::string& id) { return node_.call(report_task(id)); }

  void stop_all() {
    node_.on_loop([&] {
      for (auto& [id, m] : machines_) m->keeper.stop();
      for (auto& m : retired_) m->keeper.stop();
      return 0;
    });
    const bool stopped = fleet::testing::wait_until(
        [&] {
          for (auto& [id, m] : machines_)
            if (!*m->done) return false;
          for (auto& m : retired_)
            if (!*m->done) return false;
          return true;
        },
        std::chrono::seconds(10), std::chrono::milliseconds(5));
    // Called from destructors too: a keeper still running after 10 s is a bug worth a crash.
    if (!stopped) throw std::runtime_error("simulated machines did not stop within 10 s");
  }

 private:
  struct Machine {
    Machine(registry::KvStore& kv, std::chrono::seconds ttl)
        : keeper(kv, registry::LeaseKeeperOptions{ttl, std::chrono::milliseconds(0),
                                                  std::chrono::milliseconds(100),
                                                  std::chrono::milliseconds(2000)}) {}
    registry::LeaseKeeper keeper;
    std::shared_ptr<std::atomic<bool>> done = std::make_shared<std::atomic<bool>>(false);
  };

  registry::Task<void> announce(std::string id, std::map<std::string, std::string> metadata) {
    auto m = std::make_unique<Machine>(node_.kv(), ttl_);
    auto granted = co_await m->keeper.grant();
    if (!granted) throw std::runtime_error("lease grant: " + granted.error().describe());
    registry::MachineRecord rec;
    rec.id = id;
    rec.public_ip = "127.0.0.1";
    rec.metadata = std::move(metadata);
    rec.version = "sim";
    auto st = co_await node_.reg().put_machine(rec, granted.value());
    if (!st) throw std::runtime_error("announce: " + st.error().describe());
    node_.spawn(
        [](registry::LeaseKeeper& k) -> registry::Task<void> { (void)co_await k.run(); }(m->keeper),
        m->done);
    // A machine announced again keeps its old (stopped) keeper alive until the end.
    if (auto it = machines_.find(id); it != machines_.end())
      retired_.push_back(std::move(it->second));
    machines_[id] = std::move(m);
  }

  registry::Task<void> announce_many(std::vector<std::string> ids, std::size_t parallel) {
    std::string failure;
    co_await parallel_for(ids.size(), parallel, [&](std::size_t i) -> registry::Task<void> {
      try {
        co_await announce(ids[i], {});
      } catch (const std::exception& e) {
        failure = e.what();
      }
    });
    if (!failure.empty()) throw std::runtime_error(failure);
  }

  registry::Task<fleet::Status> revoke_many_task(std::vector<std::string> ids,
                                                 std::size_t parallel) {
    fleet::Status result = fleet::ok();
    co_await parallel_for(ids.size(), parallel, [&](std::size_t i) -> registry::Task<void> {
      auto st = co_await machines_.at(ids[i])->keeper.revoke();
      if (!st) result = st;
    });
    co_return result;
  }

  registry::Task<fleet::Status> revoke_task(std::string id) {
    co_return co_await machines_.at(id)->keeper.revoke();
  }

  registry::Task<fleet::Status> report_task(std::string id) {
    auto assigned = co_await node_.reg().list_assignments(id);
    if (!assigned) co_return fleet::outcome::failure(assigned.error());
    std::vector<registry::UnitStateRecord> states;
    for (const auto& a : assigned.value())
      states.push_back({a.unit, id, a.hash, "loaded", "active", "running"});
    co_return co_await node_.reg().put_states(states, machines_.at(id)->keeper.id());
  }

  EtcdNode& node_;
  std::chrono::seconds ttl_;
  std::map<std::string, std::unique_ptr<Machine>> machines_;  // touched on the node's loop only
  std::vector<std::unique_ptr<Machine>> retired_;
};

}  // namespace fleet::testing
