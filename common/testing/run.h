#pragma once
// Test-only: driving coroutines from synchronous test code. Nothing here sleeps: the io_context
// runs handler by handler until the awaited result (or predicate) is there, bounded by a deadline
// so a hung test fails instead of hanging.
//
// What a failure looks like, the same for every helper:
// - a deadline passing: run_until() returns false (assert on it, REQUIRE or CHECK_FALSE);
//   run_sync() throws std::runtime_error, having no value to return;
// - an exception escaping a coroutine started here (spawn() or run_sync()): it is rethrown out of
//   whichever call is running the io_context at that moment, so a failing background coroutine
//   fails the test at once instead of leaving an error nobody reads.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace fleet::testing {

// Runs `io` one handler at a time until `pred()` holds or `timeout` passes; returns whether it
// held. `pred` must be about work done on `io`: when `io` has run out of work nothing can change
// it any more, so that returns at once. Safe to call repeatedly (restarts a stopped io_context).
template <class Pred>
[[nodiscard]] bool run_until(boost::asio::io_context& io, Pred&& pred,
                             std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    if (io.run_one_until(deadline) == 0 && io.stopped()) return pred();
  }
  return true;
}

// The eventual outcome of a coroutine started with spawn(): `done` once it finished, with its
// value (an exception is rethrown instead, see above).
template <class T>
struct Spawned {
  std::optional<T> value;
  bool done = false;
};
template <>
struct Spawned<void> {
  bool done = false;
};

namespace detail {
template <class T>
boost::asio::awaitable<void> store_result(boost::asio::awaitable<T> a,
                                          std::shared_ptr<Spawned<T>> out) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(a);
  } else {
    out->value.emplace(co_await std::move(a));
  }
}
}  // namespace detail

// Starts `a` on `io` (it runs when the io_context is run) and returns its eventual outcome.
template <class T>
std::shared_ptr<Spawned<T>> spawn(boost::asio::io_context& io, boost::asio::awaitable<T> a) {
  auto out = std::make_shared<Spawned<T>>();
  // Through a void wrapper: co_spawn's (exception_ptr, T) handler would need a default T.
  boost::asio::co_spawn(io, detail::store_result(std::move(a), out), [out](std::exception_ptr e) {
    out->done = true;
    if (e) std::rethrow_exception(e);
  });
  return out;
}

// Runs `a` to completion on `io` (other work on `io` keeps running meanwhile) and returns its
// value. Throws std::runtime_error when it has not finished within `timeout`.
template <class T>
T run_sync(boost::asio::io_context& io, boost::asio::awaitable<T> a,
           std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto s = spawn(io, std::move(a));
  if (!run_until(
          io, [&] { return s->done; }, timeout))
    throw std::runtime_error("run_sync: coroutine did not finish before the deadline");
  if constexpr (!std::is_void_v<T>) return std::move(*s->value);
}

}  // namespace fleet::testing
