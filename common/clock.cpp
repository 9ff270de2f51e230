#include "common/clock.h"

#include <atomic>

namespace fleet {

namespace {
std::atomic<Clock::rep> offset{0};
}  // namespace

Clock::time_point Clock::now() noexcept {
  return time_point(std::chrono::steady_clock::now().time_since_epoch() +
                    duration(offset.load(std::memory_order_relaxed)));
}

void detail::advance_clock(Clock::duration d) {
  if (d.count() > 0) offset.fetch_add(d.count(), std::memory_order_relaxed);
}

}  // namespace fleet
