#pragma once
// Waiting on a condition with a deadline: the only way tests wait (never a fixed sleep).

#include <chrono>
#include <thread>

namespace fleet::testing {

// Polls `pred` until it returns true or `timeout` passes; returns the last result.
template <class Pred>
bool wait_until(Pred&& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = std::chrono::milliseconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);
  }
}

}  // namespace fleet::testing
