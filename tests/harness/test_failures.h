#pragma once
// How many assertions have failed so far in this test binary. The doctest main
// (tests/harness/doctest_main.cpp) counts them with a listener; a harness reads the count to notice
// that the test using it failed a CHECK, which, unlike a REQUIRE, does not unwind. In a binary
// without that main (the demo cluster) it stays 0.

#include <atomic>
#include <cstddef>

namespace fleet::testing {

inline std::atomic<std::size_t>& failed_assertions() {
  static std::atomic<std::size_t> count{0};
  return count;
}

}  // namespace fleet::testing
