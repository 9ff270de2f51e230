#pragma once
// Capped exponential backoff, the one retry policy of fleetd: the first delay is `initial`, each
// next one twice the last, never above `max`; reset() after a success starts over.

#include <algorithm>
#include <chrono>

namespace fleet {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
      : initial_(initial), max_(max) {}

  // The delay to wait before the next attempt.
  std::chrono::milliseconds next() {
    current_ = current_.count() == 0 ? initial_ : std::min(current_ * 2, max_);
    return current_;
  }
  void reset() { current_ = {}; }
  // The delay next() returned last (zero after reset()).
  std::chrono::milliseconds current() const { return current_; }

 private:
  std::chrono::milliseconds initial_, max_;
  std::chrono::milliseconds current_{0};
};

}  // namespace fleet
