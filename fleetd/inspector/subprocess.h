#pragma once
// Subprocess: a child process whose output is read on the io_context without blocking it
// (systemctl status / journalctl for the API's unit inspection).
//
// The child gets stdin from /dev/null, stdout and stderr into one pipe (what a terminal shows),
// no inherited file descriptors beyond 0-2 (a leaked client socket would keep connections
// open), default signal dispositions, and its own process group so that killing it also kills
// whatever it started (`sh -c` children would otherwise keep the pipe open).
//
// Exit is observed through a pidfd (Linux >= 5.3) made readable by the kernel when the child
// exits, or by polling waitpid(WNOHANG) on a timer where pidfd_open is unavailable; never
// SIGCHLD. Destroying a Subprocess whose child still runs kills the group with SIGKILL and
// reaps the child in the background on the same executor.
//
// Loop affinity: construct, call and destroy on the executor's thread. At most one read_some()
// and one wait() may be outstanding at a time.

#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace fleet::fleetd {

struct SubprocessResult {
  std::string output;      // stdout and stderr interleaved, truncated at `max_output`
  int exit_code = 0;       // the child's exit status; 128 + N when killed by signal N
  bool timed_out = false;  // killed at the deadline (exit_code is then 128 + SIGKILL)
  bool truncated = false;  // output exceeded `max_output`; the rest was discarded
};

class Subprocess {
 public:
  // Starts argv[0] (searched in PATH when it has no '/') with the arguments argv[1..].
  // Errc::invalid_argument for an empty argv, Errc::not_found when the program does not exist,
  // Errc::internal when pipes or the spawn itself fail.
  [[nodiscard]] static Result<std::unique_ptr<Subprocess>> spawn(boost::asio::any_io_executor ex,
                                                                 std::vector<std::string> argv);

  // Runs argv to completion collecting its output; after `deadline` the group is killed and
  // the result says timed_out. Fails only when the spawn fails.
  static boost::asio::awaitable<Result<SubprocessResult>> run(boost::asio::any_io_executor ex,
                                                              std::vector<std::string> argv,
                                                              std::chrono::milliseconds deadline,
                                                              std::size_t max_output = 1024 * 1024);

  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // The next piece of output as it arrives (at most 64 KiB); nullopt at end of output (every
  // writer closed the pipe). Errc::cancelled when close_output() or kill() interrupted it.
  boost::asio::awaitable<Result<std::optional<std::string>>> read_some();
  // Waits until the child exits and reaps it; its exit code (128 + N when killed by signal N).
  // Returns at once when it has already been reaped.
  boost::asio::awaitable<Result<int>> wait();
  // Sends `sig` to the child's whole process group (no-op once reaped).
  void kill(int sig);
  // Stops reading: pending and later read_some() calls end; the child sees EPIPE on write.
  void close_output();

  pid_t pid() const;
  // The exit code once wait() has reaped the child.
  std::optional<int> exit_code() const;

  struct Impl;

 private:
  explicit Subprocess(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fleet::fleetd
