#pragma once
// One simulated fleetd process for engine tests and benchmarks: its own io_context on its own
// thread, its own EtcdKv client and Registry. pause() stops the thread (the "process" freezes:
// no keep-alives, no writes), resume() lets it go on. call() runs a coroutine on the node's loop
// and waits for its result, so tests touch a node's objects only from its own thread.

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "registry/etcd/etcd_kv.h"
#include "registry/registry.h"

namespace fleet::testing {

class EtcdNode {
 public:
  explicit EtcdNode(std::vector<std::string> endpoints, std::string prefix = "/fleet/",
                    std::size_t max_txn_ops = 128,
                    std::chrono::milliseconds request_timeout = std::chrono::milliseconds(2500),
                    std::size_t max_in_flight = registry::EtcdConfig{}.max_in_flight)
      : kv_(make_kv(io_, std::move(endpoints), max_txn_ops, request_timeout, max_in_flight)),
        reg_(*kv_, std::move(prefix)) {
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
                                                   std::chrono::milliseconds request_timeout,
                                                   std::size_t max_in_flight) {
    registry::EtcdConfig config;
    config.request_timeout = request_timeout;
    config.endpoints = std::move(endpoints);
    config.max_txn_ops = max_txn_ops;
    config.max_in_flight = max_in_flight;
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

}  // namespace fleet::testing
