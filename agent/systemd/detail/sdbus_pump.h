#pragma once
// Drives an sdbus::IConnection from an io_context, and a broadcast
// wake-up used by coroutines waiting for D-Bus replies and signals. Folder-private.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>

#include "agent/unit_manager.h"

namespace sdbus {
class IConnection;
}

namespace fleet::agent::detail {

// Watches the bus fd and sd-bus's next timeout; dispatches every pending message on the loop.
// Shared ownership so handlers already queued on the loop can tell the pump is gone.
class SdbusPump : public std::enable_shared_from_this<SdbusPump> {
 public:
  using ErrorHandler = std::function<void(const std::string&)>;
  SdbusPump(boost::asio::any_io_executor ex, sdbus::IConnection& conn, ErrorHandler on_error);
  ~SdbusPump();

  // Dispatches what is queued and re-arms the waits. Must not be called from inside an sdbus
  // callback (use kick()).
  void arm();
  // Re-arms soon, from the loop: after issuing calls, so queued output and new reply timeouts
  // are picked up. Coalesced.
  void kick();
  void stop();

 private:
  boost::asio::any_io_executor ex_;
  sdbus::IConnection& conn_;
  ErrorHandler on_error_;
  boost::asio::posix::stream_descriptor fd_;
  boost::asio::steady_timer timer_;
  uint64_t generation_ = 0;
  bool kick_posted_ = false;
  bool stopped_ = false;
};

// Condition-variable-like wake-up for coroutines on one loop thread.
class Notifier {
 public:
  explicit Notifier(boost::asio::any_io_executor ex) : ex_(std::move(ex)) {}
  // Wakes every waiter so it re-checks its predicate.
  void notify();
  // Suspends until pred() is true (returns true) or the deadline passes (returns pred()).
  Task<bool> wait(std::function<bool()> pred, std::chrono::steady_clock::time_point deadline);

 private:
  boost::asio::any_io_executor ex_;
  std::list<boost::asio::steady_timer*> waiters_;
};

}  // namespace fleet::agent::detail
