#include "fleetd/inspector/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>

#include "common/backoff.h"

extern char** environ;

namespace fleet::fleetd {

namespace net = boost::asio;
using net::awaitable;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

int decode_status(int st) {
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return 255;
}

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

// Reaps `pid` if it has exited: its exit code, or nullopt while it runs. A pid that is not our
// child any more (ECHILD) counts as reaped with an unknown status.
std::optional<int> try_reap(pid_t pid) {
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &st, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid) return decode_status(st);
  if (r < 0) return 255;
  return std::nullopt;
}

// Waits for `pid` to become reapable: on its pidfd when there is one, else by polling.
awaitable<void> await_exit(net::any_io_executor ex, pid_t pid,
                           std::optional<net::posix::stream_descriptor>& pidfd) {
  if (pidfd) {
    auto [ec] = co_await pidfd->async_wait(net::posix::stream_descriptor::wait_read, use_tuple);
    if (!ec) co_return;
    if (ec == net::error::operation_aborted) co_return;
  }
  // Fallback polling: 10 ms doubling up to 500 ms (a killed child is gone in the first ticks).
  net::steady_timer timer(ex);
  Backoff poll(std::chrono::milliseconds(10), std::chrono::milliseconds(500));
  while (true) {
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
        info.si_pid != 0)
      co_return;
    timer.expires_after(poll.next());
    auto [ec] = co_await timer.async_wait(use_tuple);
    if (ec) co_return;
  }
}

// Reaps a killed child after its Subprocess is gone, so no zombie is left behind.
awaitable<void> reap_in_background(net::any_io_executor ex, pid_t pid,
                                   std::optional<net::posix::stream_descriptor> pidfd) {
  while (!try_reap(pid)) co_await await_exit(ex, pid, pidfd);
}

}  // namespace

struct Subprocess::Impl {
  net::any_io_executor ex;
  pid_t pid = -1;
  net::posix::stream_descriptor out;
  std::optional<net::posix::stream_descriptor> pidfd;
  std::optional<int> exit_code;
  bool eof = false;

  Impl(net::any_io_executor e, pid_t p, int out_fd) : ex(std::move(e)), pid(p), out(ex, out_fd) {}
};

Subprocess::Subprocess(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Subprocess>> Subprocess::spawn(net::any_io_executor ex,
                                                      std::vector<std::string> argv) {
  if (argv.empty()) return fail(Errc::invalid_argument, "empty command line");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return fail(Errc::internal, std::string("pipe: ") + std::strerror(errno));

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  ::posix_spawn_file_actions_init(&fa);
  ::posix_spawnattr_init(&attr);
  ::posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  ::posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  ::posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  ::posix_spawnattr_setsigmask(&attr, &none);
  ::posix_spawnattr_setsigdefault(&attr, &all);
  ::posix_spawnattr_setpgroup(&attr, 0);
  ::posix_spawnattr_setflags(
      &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
  ::posix_spawn_file_actions_destroy(&fa);
  ::posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return fail(rc == ENOENT ? Errc::not_found : Errc::internal,
                argv[0] + ": " + std::strerror(rc));
  }
  auto impl = std::make_unique<Impl>(ex, pid, fds[0]);
  if (int pfd = open_pidfd(pid); pfd >= 0) impl->pidfd.emplace(ex, pfd);
  return std::unique_ptr<Subprocess>(new Subprocess(std::move(impl)));
}

Subprocess::~Subprocess() {
  if (!impl_) return;
  // A child that exited may have left members of its group holding the pipe open.
  if (!impl_->exit_code || !impl_->eof) kill(SIGKILL);
  if (impl_->exit_code) return;
  if (auto code = try_reap(impl_->pid)) return;
  net::co_spawn(impl_->ex, reap_in_background(impl_->ex, impl_->pid, std::move(impl_->pidfd)),
                net::detached);
}

awaitable<Result<std::optional<std::string>>> Subprocess::read_some() {
  if (impl_->eof) co_return std::optional<std::string>();
  if (!impl_->out.is_open()) co_return fail(Errc::cancelled, "output closed");
  std::string buf(kReadChunk, '\0');
  auto [ec, n] = co_await impl_->out.async_read_some(net::buffer(buf), use_tuple);
  if (ec == net::error::eof) {
    impl_->eof = true;
    co_return std::optional<std::string>();
  }
  if (ec == net::error::operation_aborted || ec == net::error::bad_descriptor)
    co_return fail(Errc::cancelled, "output closed");
  if (ec) co_return fail(Errc::internal, "reading child output: " + ec.message());
  buf.resize(n);
  co_return std::optional<std::string>(std::move(buf));
}

awaitable<Result<int>> Subprocess::wait() {
  while (!impl_->exit_code) {
    if (auto code = try_reap(impl_->pid)) {
      impl_->exit_code = code;
      impl_->pidfd.reset();
      break;
    }
    co_await await_exit(impl_->ex, impl_->pid, impl_->pidfd);
  }
  co_return *impl_->exit_code;
}

void Subprocess::kill(int sig) {
  // The group id is the child's pid (POSIX_SPAWN_SETPGROUP with 0); it stays reserved while
  // any member lives, so signalling it cannot hit an unrelated process.
  if (::kill(-impl_->pid, sig) != 0 && !impl_->exit_code) ::kill(impl_->pid, sig);
}

void Subprocess::close_output() {
  boost::system::error_code ec;
  impl_->out.close(ec);
}

pid_t Subprocess::pid() const { return impl_->pid; }

std::optional<int> Subprocess::exit_code() const { return impl_->exit_code; }

awaitable<Result<SubprocessResult>> Subprocess::run(net::any_io_executor ex,
                                                    std::vector<std::string> argv,
                                                    std::chrono::milliseconds deadline,
                                                    std::size_t max_output) {
  auto spawned = spawn(ex, std::move(argv));
  if (!spawned) co_return spawned.error();
  std::unique_ptr<Subprocess> child = std::move(spawned).value();
  SubprocessResult res;
  // Shared with the timer handler, which may run after this frame is gone (a completion
  // already queued when we cancel): `done` tells it the child is no longer there.
  struct Watch {
    Subprocess* child;
    bool done = false;
    bool timed_out = false;
  };
  auto watch = std::make_shared<Watch>(Watch{child.get()});
  net::steady_timer timer(ex);
  timer.expires_after(deadline);
  timer.async_wait([watch](boost::system::error_code ec) {
    if (ec || watch->done) return;
    watch->timed_out = true;
    watch->child->kill(SIGKILL);
    watch->child->close_output();
  });
  while (true) {
    auto piece = co_await child->read_some();
    if (!piece || !piece.value()) break;
    const std::string& s = *piece.value();
    std::size_t room = max_output - std::min(max_output, res.output.size());
    if (s.size() > room) res.truncated = true;
    res.output.append(s, 0, std::min(room, s.size()));
  }
  auto code = co_await child->wait();
  watch->done = true;
  timer.cancel();
  res.timed_out = watch->timed_out;
  if (!code) co_return code.error();
  res.exit_code = code.value();
  co_return res;
}

}  // namespace fleet::fleetd
