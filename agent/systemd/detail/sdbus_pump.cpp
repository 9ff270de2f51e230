#include "agent/systemd/detail/sdbus_pump.h"

#include <poll.h>
#include <sdbus-c++/sdbus-c++.h>
#include <time.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace fleet::agent::detail {

namespace asio = boost::asio;

SdbusPump::SdbusPump(asio::any_io_executor ex, sdbus::IConnection& conn, ErrorHandler on_error)
    : ex_(ex),
      conn_(conn),
      on_error_(std::move(on_error)),
      // dup: the descriptor object closes its fd, the connection keeps its own.
      fd_(ex, ::dup(conn.getEventLoopPollData().fd)),
      timer_(ex) {}

SdbusPump::~SdbusPump() { stop(); }

void SdbusPump::stop() {
  stopped_ = true;
  boost::system::error_code ec;
  fd_.cancel(ec);
  timer_.cancel();
}

void SdbusPump::kick() {
  if (kick_posted_ || stopped_) return;
  kick_posted_ = true;
  asio::post(ex_, [weak = weak_from_this()] {
    if (auto self = weak.lock()) {
      self->kick_posted_ = false;
      self->arm();
    }
  });
}

void SdbusPump::arm() {
  if (stopped_) return;
  sdbus::IConnection::PollData pd{};
  try {
    // sd-bus may already hold queued messages that poll would never report: drain first.
    while (conn_.processPendingRequest()) {
    }
    pd = conn_.getEventLoopPollData();
  } catch (const sdbus::Error& e) {
    stop();
    on_error_(e.getName() + ": " + e.getMessage());
    return;
  }
  // Exactly one armed set of waits: stale completions see a newer generation and return.
  ++generation_;
  boost::system::error_code ec;
  fd_.cancel(ec);
  timer_.cancel();
  auto on_ready = [weak = weak_from_this(), gen = generation_](boost::system::error_code e) {
    auto self = weak.lock();
    if (!self || e == asio::error::operation_aborted || gen != self->generation_) return;
    self->arm();
  };
  if (pd.events & POLLIN) fd_.async_wait(asio::posix::stream_descriptor::wait_read, on_ready);
  if (pd.events & POLLOUT) fd_.async_wait(asio::posix::stream_descriptor::wait_write, on_ready);
  if (pd.timeout_usec != UINT64_MAX) {
    // timeout_usec is absolute CLOCK_MONOTONIC; convert to a relative wait.
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t now_us =
        static_cast<uint64_t>(now.tv_sec) * 1000000u + static_cast<uint64_t>(now.tv_nsec) / 1000u;
    uint64_t rel = pd.timeout_usec > now_us ? pd.timeout_usec - now_us : 0;
    timer_.expires_after(std::chrono::microseconds(rel));
    timer_.async_wait(on_ready);
  }
}

void Notifier::notify() {
  for (auto* t : waiters_) t->cancel();
}

Task<bool> Notifier::wait(std::function<bool()> pred,
                          std::chrono::steady_clock::time_point deadline) {
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) co_return false;
    asio::steady_timer t(ex_, deadline);
    // Unregisters even if this frame is destroyed while suspended.
    struct Registration {
      std::list<asio::steady_timer*>& list;
      std::list<asio::steady_timer*>::iterator it;
      ~Registration() { list.erase(it); }
    } reg{waiters_, waiters_.insert(waiters_.end(), &t)};
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  co_return true;
}

}  // namespace fleet::agent::detail
