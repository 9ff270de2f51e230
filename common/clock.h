#pragma once
// fleet::Clock: the steady clock every timeout, lease, backoff and periodic pass of fleetd is
// measured with, and fleet::Timer, the asio timer on it. In production it is
// std::chrono::steady_clock. Tests move it forward (common/testing/clock.h, advance_clock()) to
// run those timers on simulated time instead of waiting them out: the io_context fires every
// Timer whose deadline has passed at its next turn, in deadline order.
//
// Thread safety: now() from any thread; the offset only ever grows, so time stays monotonic.

#include <boost/asio/basic_waitable_timer.hpp>
#include <chrono>

namespace fleet {

struct Clock {
  using duration = std::chrono::steady_clock::duration;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<Clock>;
  static constexpr bool is_steady = true;

  // steady_clock::now() plus everything tests have advanced the clock by.
  static time_point now() noexcept;
};

using Timer = boost::asio::basic_waitable_timer<Clock>;

namespace detail {
// Moves Clock forward by `d` for the whole process (tests only: common/testing/clock.h).
void advance_clock(Clock::duration d);
}  // namespace detail

}  // namespace fleet
