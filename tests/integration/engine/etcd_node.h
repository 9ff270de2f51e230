#pragma once
// One simulated fleetd process for engine tests and benchmarks: its own io_context on its own
// thread, its own EtcdKv client and Registry. pause() stops the thread (the "process" freezes:
// no keep-alives, no writes), resume() lets it go on. call() runs a coroutine on the node's loop
// and waits for its result, so tests touch a node's objects only from its own thread.
//
// SimMachines: machines that only announce themselves under a lease (LeaseKeeper +
// Registry::put_machine, as the agent does), keep it alive and report unit states.

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "registry/etcd/etcd_kv.h"
#include "registry/lease_keeper.h"
#include "registry/registry.h"

namespace fleet::testing {

class EtcdNode {
 public:
  explicit EtcdNode(std::vector<std::string> endpoints, std::string prefix = "/fleet/",
                    std::size_t max_txn_ops = 128,
                    std::chrono::milliseconds request_timeout = std::chrono::milliseconds(2500))
      : kv_(make_kv(io_, std::move(endpoints), max_txn_ops, request_timeout)),
        reg_(*kv_, registry::KeyLayout(std::move(prefix))) {
    start();
  }
  ~EtcdNode() {
    if (thread_.joinable()) {
      guard_.reset();
      io_.stop();
      thread_.join();
    }
  }
  EtcdNode(const EtcdNode&) = delete;
  EtcdNode& operator=(const EtcdNode&) = delete;

  registry::Registry& reg() { return reg_; }
  registry::EtcdKv& kv() { return *kv_; }
  boost::asio::io_context& io() { return io_; }

  // Freezes the loop: nothing of this node runs until resume().
  void pause() {
    io_.stop();
    thread_.join();
  }
  void resume() {
    io_.restart();
    start();
  }

  // Runs `task` on the node's loop and returns its value; throws when `timeout` passes first.
  template <class T>
  T call(registry::Task<T> task, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    // Results have no default constructor, so no use_future: a promise filled by a wrapper.
    auto prom = std::make_shared<std::promise<T>>();
    auto fut = prom->get_future();
    boost::asio::co_spawn(
        io_,
        [](registry::Task<T> t, std::shared_ptr<std::promise<T>> p) -> registry::Task<void> {
          try {
            if constexpr (std::is_void_v<T>) {
              co_await std::move(t);
              p->set_value();
            } else {
              p->set_value(co_await std::move(t));
            }
          } catch (...) {
            p->set_exception(std::current_exception());
          }
        }(std::move(task), prom),
        boost::asio::detached);
    if (fut.wait_for(timeout) != std::future_status::ready)
      throw std::runtime_error("EtcdNode::call timed out");
    return fut.get();
  }

  // Runs `fn` on the node's loop and returns its value (for reading loop-owned state).
  template <class Fn>
  auto on_loop(Fn fn) -> decltype(fn()) {
    using T = decltype(fn());
    return call([](Fn f) -> registry::Task<T> { co_return f(); }(std::move(fn)));
  }

  // Starts `task` on the loop; `done` becomes true when it ends.
  void spawn(registry::Task<void> task, std::shared_ptr<std::atomic<bool>> done = nullptr) {
    boost::asio::co_spawn(io_, std::move(task), [done](std::exception_ptr) {
      if (done) *done = true;
    });
  }

 private:
  static std::unique_ptr<registry::EtcdKv> make_kv(boost::asio::io_context& io,
                                                   std::vector<std::string> endpoints,
                                                   std::size_t max_txn_ops,
                                                   std::chrono::milliseconds request_timeout) {
    registry::EtcdConfig config;
    config.request_timeout = request_timeout;
    config.endpoints = std::move(endpoints);
    config.max_txn_ops = max_txn_ops;
    auto kv = registry::EtcdKv::create(io, std::move(config));
    if (!kv) throw std::runtime_error(kv.error().describe());
    return std::move(kv).value();
  }
  void start() {
    thread_ = std::thread([this] { io_.run(); });
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_{
      io_.get_executor()};
  std::unique_ptr<registry::EtcdKv> kv_;
  registry::Registry reg_;
  std::thread thread_;
};

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
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    auto wait = [&](Machine& m) {
      while (!*m.done && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    };
    for (auto& [id, m] : machines_) wait(*m);
    for (auto& m : retired_) wait(*m);
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
