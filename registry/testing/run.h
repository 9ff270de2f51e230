#pragma once
// Driving coroutines from synchronous doctest code, for tests only. Nothing here sleeps: the
// io_context runs handler by handler until the awaited result (or predicate) is there, bounded
// by a deadline so a hung test fails instead of hanging.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>

namespace fleet::registry::testing {

// Runs `io` one handler at a time until `pred()` holds or `timeout` passes; returns the last
// result of `pred()`. Safe to call repeatedly (restarts a stopped io_context).
template <class Pred>
bool run_until(boost::asio::io_context& io, Pred&& pred,
               std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    // 0 handlers and a stopped context: no work is left that could ever make pred() true.
    if (io.run_one_until(deadline) == 0 && io.stopped()) return pred();
  }
  return true;
}

// The eventual outcome of a coroutine started with spawn(): empty until it finishes.
template <class T>
struct Spawned {
  std::optional<T> value;
  std::exception_ptr error;
  bool done = false;
};

// Starts `a` on `io` (it runs when the io_context is run) and returns its eventual outcome.
template <class T>
boost::asio::awaitable<void> store_result(boost::asio::awaitable<T> a,
                                          std::shared_ptr<Spawned<T>> out) {
  out->value.emplace(co_await std::move(a));
}

template <class T>
std::shared_ptr<Spawned<T>> spawn(boost::asio::io_context& io, boost::asio::awaitable<T> a) {
  auto out = std::make_shared<Spawned<T>>();
  // Through a void wrapper: co_spawn's (exception_ptr, T) handler would need a default T.
  boost::asio::co_spawn(io, store_result(std::move(a), out), [out](std::exception_ptr e) {
    out->error = e;
    out->done = true;
  });
  return out;
}

inline std::shared_ptr<Spawned<bool>> spawn(boost::asio::io_context& io,
                                            boost::asio::awaitable<void> a) {
  auto out = std::make_shared<Spawned<bool>>();
  boost::asio::co_spawn(io, std::move(a), [out](std::exception_ptr e) {
    out->error = e;
    if (!e) out->value.emplace(true);
    out->done = true;
  });
  return out;
}

// Runs `a` to completion on `io` and returns its value (rethrowing its exception). Throws
// std::runtime_error when it has not finished within `timeout`.
template <class T>
T run_sync(boost::asio::io_context& io, boost::asio::awaitable<T> a,
           std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto s = spawn(io, std::move(a));
  if (!run_until(
          io, [&] { return s->done; }, timeout))
    throw std::runtime_error("run_sync: coroutine did not finish before the deadline");
  if (s->error) std::rethrow_exception(s->error);
  if constexpr (!std::is_void_v<T>) return std::move(*s->value);
}

}  // namespace fleet::registry::testing
