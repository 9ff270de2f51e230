#pragma once
// Test-only: simulated time. advance_clock() moves fleet::Clock (common/clock.h) forward in
// steps and runs every handler each step makes ready, so timers fire in deadline order as they
// would in real time, only without the wait: a 60 s lease TTL passes in microseconds. Code that
// re-arms a timer relative to now() sees time move step by step, so a keepalive every 3 s still
// runs every 3 s of simulated time when the clock is advanced by minutes.
//
// Real time keeps passing underneath (Clock is steady_clock plus the advanced offset), so
// anything waiting on real I/O still completes.

#include <boost/asio/io_context.hpp>
#include <chrono>

#include "common/clock.h"

namespace fleet::testing {

// Moves the clock forward by `by`, `step` at a time, running what is ready on `io` after each.
inline void advance_clock(boost::asio::io_context& io, Clock::duration by,
                          Clock::duration step = std::chrono::milliseconds(10)) {
  while (by.count() > 0) {
    auto d = std::min(by, step);
    detail::advance_clock(d);
    by -= d;
    if (io.stopped()) io.restart();
    // The reactor armed its timerfd in real time for the earliest deadline it knew; a timer due
    // at the earliest possible instant makes it re-arm from the advanced clock, so every timer
    // due now fires in this poll (in deadline order).
    Timer poke(io, Timer::time_point::min());
    poke.async_wait([](const boost::system::error_code&) {});
    io.poll();
  }
}

}  // namespace fleet::testing
