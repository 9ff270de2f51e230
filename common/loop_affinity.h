#pragma once
// LoopAffinity: a debug check that loop-only code runs on its loop's thread. An object whose
// methods must run on the io_context thread (agent, engine, lease keeper) binds to the first
// thread that checks, which is the one running its loop (run() checks first), and every later
// check from another thread aborts in debug builds: the bug it catches is a call from a foreign
// thread (a test harness, a signal thread) that should have been posted to the loop. Compiled
// out with NDEBUG.

#include <cassert>
#include <thread>

namespace fleet {

class LoopAffinity {
 public:
  void check() {
#ifndef NDEBUG
    const auto me = std::this_thread::get_id();
    if (owner_ == std::thread::id()) owner_ = me;
    assert(owner_ == me && "loop-only code called off its loop's thread");
#endif
  }

 private:
  std::thread::id owner_;
};

}  // namespace fleet
