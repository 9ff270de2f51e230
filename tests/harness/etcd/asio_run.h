#pragma once
// Driving coroutines from a test's thread: run a Task to completion on the test's io_context
// (other spawned work, e.g. watchers, keeps running meanwhile), with a deadline.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>

namespace fleet::testing {

namespace detail {
template <class T>
boost::asio::awaitable<void> store_into(boost::asio::awaitable<T> task, std::optional<T>& out) {
  out.emplace(co_await std::move(task));
}
}  // namespace detail

// Runs `ioc` until `done()` holds; throws std::runtime_error when `timeout` passes first.
template <class Pred>
void run_until(boost::asio::io_context& ioc, Pred&& done,
               std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) throw std::runtime_error("run_until: timed out");
    if (ioc.stopped()) ioc.restart();
    ioc.run_one_for(std::min<std::chrono::steady_clock::duration>(deadline - now,
                                                                  std::chrono::milliseconds(100)));
  }
}

// Spawns `task` on `ioc`; `*done` becomes true when it finishes (exceptions are rethrown by run).
inline void spawn(boost::asio::io_context& ioc, boost::asio::awaitable<void> task,
                  bool* done = nullptr) {
  boost::asio::co_spawn(ioc, std::move(task), [done](std::exception_ptr e) {
    if (done) *done = true;
    if (e) std::rethrow_exception(e);
  });
}

// Spawns `task`; the returned optional is filled when it finishes.
template <class T>
std::shared_ptr<std::optional<T>> spawn_result(boost::asio::io_context& ioc,
                                               boost::asio::awaitable<T> task) {
  auto out = std::make_shared<std::optional<T>>();
  spawn(ioc,
        [](boost::asio::awaitable<T> t,
           std::shared_ptr<std::optional<T>> o) -> boost::asio::awaitable<void> {
          o->emplace(co_await std::move(t));
        }(std::move(task), out));
  return out;
}

// Runs `task` to completion and returns its value.
template <class T>
T run(boost::asio::io_context& ioc, boost::asio::awaitable<T> task,
      std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  std::optional<T> out;
  bool finished = false;
  spawn(ioc, detail::store_into(std::move(task), out), &finished);
  run_until(
      ioc, [&] { return finished; }, timeout);
  return std::move(*out);
}

}  // namespace fleet::testing
