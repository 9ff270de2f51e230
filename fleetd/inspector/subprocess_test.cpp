// Subprocess: real children (/bin/sh -c) on an io_context that keeps serving timers meanwhile.

#include "fleetd/inspector/subprocess.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/testing/run.h"

using namespace fleet;
using namespace fleet::fleetd;
using fleet::testing::run_sync;
using fleet::testing::run_until;
using fleet::testing::spawn;
namespace net = boost::asio;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> sh(std::string script) { return {"/bin/sh", "-c", std::move(script)}; }

// True once `pid` has been reaped by someone: it no longer exists even as a zombie.
bool gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

// Members of process group `pgid` that still run. A killed member whose parent has exited is a
// zombie until PID 1 reaps it, which some container inits do late or never; a zombie runs nothing.
int running_members(pid_t pgid) {
  int n = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat)) continue;
    // After the command name in parentheses: state, ppid, pgrp.
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    char state = 0;
    pid_t ppid = 0, pgrp = 0;
    if (!(rest >> state >> ppid >> pgrp)) continue;
    if (pgrp == pgid && state != 'Z' && state != 'X') ++n;
  }
  return n;
}

// Waits for a condition that only the kernel changes (no handler of an io_context would wake us).
template <class Pred>
bool poll_until(Pred pred, std::chrono::milliseconds timeout) {
  net::io_context io;
  net::steady_timer tick(io);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    tick.expires_after(10ms);
    tick.wait();
  }
  return true;
}

// Counts timer ticks while the loop is otherwise busy with the child.
struct Ticker {
  net::steady_timer timer;
  int ticks = 0;
  bool stop = false;
  explicit Ticker(net::io_context& io) : timer(io) { arm(); }
  void arm() {
    timer.expires_after(5ms);
    timer.async_wait([this](boost::system::error_code ec) {
      if (ec || stop) return;
      ++ticks;
      arm();
    });
  }
  ~Ticker() {
    stop = true;
    timer.cancel();
  }
};

}  // namespace

TEST_CASE("run captures stdout and stderr and the exit code") {
  net::io_context io;
  auto r =
      run_sync(io, Subprocess::run(io.get_executor(), sh("echo out; echo err >&2; exit 3"), 5s));
  REQUIRE(r);
  CHECK(r.value().output == "out\nerr\n");
  CHECK(r.value().exit_code == 3);
  CHECK_FALSE(r.value().timed_out);
  CHECK_FALSE(r.value().truncated);
}

TEST_CASE("arguments are passed verbatim, without a shell") {
  net::io_context io;
  auto r = run_sync(
      io, Subprocess::run(io.get_executor(),
                          {"/bin/sh", "-c", "printf '%s|' \"$@\"", "x", "a b", "$HOME;"}, 5s));
  REQUIRE(r);
  CHECK(r.value().output == "a b|$HOME;|");
}

TEST_CASE("the loop keeps running while a child works") {
  net::io_context io;
  Ticker ticker(io);
  auto r = run_sync(io, Subprocess::run(io.get_executor(), sh("sleep 0.3; echo done"), 5s));
  REQUIRE(r);
  CHECK(r.value().output == "done\n");
  // 300 ms of child time at one tick per 5 ms: a blocked loop would show none.
  CHECK(ticker.ticks >= 10);
}

TEST_CASE("a child still running at the deadline is killed with everything it started") {
  net::io_context io;
  auto start = std::chrono::steady_clock::now();
  // The background sleep keeps the pipe open: only killing the whole group ends the output.
  auto r =
      run_sync(io, Subprocess::run(io.get_executor(),
                                   sh("echo started; sleep 30 & sleep 30; echo never"), 200ms));
  auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(r);
  CHECK(r.value().timed_out);
  CHECK(r.value().output == "started\n");
  CHECK(r.value().exit_code == 128 + SIGKILL);
  CHECK(took < 5s);
}

TEST_CASE("output beyond the limit is dropped and reported") {
  net::io_context io;
  auto r = run_sync(io, Subprocess::run(io.get_executor(), sh("printf 0123456789"), 5s, 4));
  REQUIRE(r);
  CHECK(r.value().output == "0123");
  CHECK(r.value().truncated);
  CHECK(r.value().exit_code == 0);
}

TEST_CASE("a missing program is not_found") {
  net::io_context io;
  auto p = Subprocess::spawn(io.get_executor(), {"/nonexistent/fleet-test-program"});
  REQUIRE_FALSE(p);
  CHECK(p.error().code == Errc::not_found);
  auto q = Subprocess::spawn(io.get_executor(), {});
  REQUIRE_FALSE(q);
  CHECK(q.error().code == Errc::invalid_argument);
}

TEST_CASE("programs are looked up in PATH") {
  net::io_context io;
  auto r = run_sync(io, Subprocess::run(io.get_executor(), {"sh", "-c", "echo hi"}, 5s));
  REQUIRE(r);
  CHECK(r.value().output == "hi\n");
}

TEST_CASE("the child inherits no descriptors beyond stdin, stdout and stderr") {
  net::io_context io;
  auto r = run_sync(io, Subprocess::run(io.get_executor(), sh("ls /proc/self/fd"), 5s));
  REQUIRE(r);
  // 0, 1, 2 and the descriptor ls opened to read the directory.
  CHECK(r.value().output == "0\n1\n2\n3\n");
}

TEST_CASE("output is read piece by piece as the child writes") {
  net::io_context io;
  auto p = Subprocess::spawn(io.get_executor(), sh("echo one; exec sleep 30"));
  REQUIRE(p);
  auto& child = *p.value();
  // The first line arrives while the child still runs.
  auto first = run_sync(io, child.read_some());
  REQUIRE(first);
  REQUIRE(first.value());
  CHECK(*first.value() == "one\n");
  CHECK_FALSE(child.exit_code());
  CHECK_FALSE(gone(child.pid()));
  child.kill(SIGTERM);
  auto end = run_sync(io, child.read_some());
  REQUIRE(end);
  CHECK_FALSE(end.value());
  auto code = run_sync(io, child.wait());
  REQUIRE(code);
  CHECK(code.value() == 128 + SIGTERM);
  CHECK(child.exit_code() == 128 + SIGTERM);
  CHECK(gone(child.pid()));
}

TEST_CASE("destroying a running subprocess kills and reaps it") {
  net::io_context io;
  // "ready" is printed after the background sleep was forked: the group has two members then.
  auto p = Subprocess::spawn(io.get_executor(), sh("sleep 30 & echo ready; sleep 30"));
  REQUIRE(p);
  pid_t pid = p.value()->pid();
  auto ready = run_sync(io, p.value()->read_some());
  REQUIRE(ready);
  REQUIRE(ready.value());
  CHECK(*ready.value() == "ready\n");
  CHECK(running_members(pid) >= 2);
  p.value().reset();
  CHECK(run_until(
      io, [&] { return gone(pid); }, 5s));
  // Nothing of the group runs any more, the background sleep included.
  CHECK(poll_until([&] { return running_members(pid) == 0; }, 5s));
}

TEST_CASE("closing the output ends a pending read, and the child is still reaped") {
  net::io_context io;
  auto p = Subprocess::spawn(io.get_executor(), sh("sleep 30"));
  REQUIRE(p);
  pid_t pid = p.value()->pid();
  std::optional<Result<std::optional<std::string>>> got;
  auto* child = p.value().get();
  auto task = spawn(io, [](Subprocess* c, auto* out) -> net::awaitable<void> {
    out->emplace(co_await c->read_some());
  }(child, &got));
  io.poll();
  CHECK_FALSE(got);
  child->close_output();
  REQUIRE(run_until(
      io, [&] { return got.has_value(); }, 5s));
  REQUIRE_FALSE(*got);
  CHECK(got->error().code == Errc::cancelled);
  p.value().reset();
  CHECK(run_until(
      io, [&] { return gone(pid); }, 5s));
}
