// `fleetctl fd-forward SOCKET`: copies stdin to a unix socket and the socket to stdout, so that
// a fleet client can tunnel HTTP to a remote /var/run/fleet.sock over `ssh host fleetctl
// fd-forward /var/run/fleet.sock`. Works on the process's real stdio.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fleetctl/command.h"

namespace fleet::fleetctl {

namespace {

bool copy_once(int from, int to, bool& eof) {
  char buf[16384];
  ssize_t n = ::read(from, buf, sizeof buf);
  if (n == 0) {
    eof = true;
    return true;
  }
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  for (ssize_t off = 0; off < n;) {
    ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += w;
  }
  return true;
}

int run(CommandContext& ctx) {
  if (ctx.args.size() != 1) {
    ctx.io.err << "Provide a single argument\n";
    return kExitFailure;
  }
  const std::string& path = ctx.args[0];
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    ctx.io.err << "Unable to use \"" << path << "\" as unix address: path too long\n";
    return kExitFailure;
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    // fleet exits 0 here; a failed dial is a failure, so we exit 1.
    ctx.io.err << "Failed dialing remote address: dial unix " << path << ": "
               << std::strerror(errno) << "\n";
    if (fd >= 0) ::close(fd);
    return kExitFailure;
  }
  bool in_eof = false;
  bool sock_eof = false;
  while (!in_eof && !sock_eof) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    bool okay = true;
    if (fds[0].revents & (POLLIN | POLLHUP)) okay &= copy_once(STDIN_FILENO, fd, in_eof);
    if (fds[1].revents & (POLLIN | POLLHUP)) okay &= copy_once(fd, STDOUT_FILENO, sock_eof);
    if (!okay) {
      ctx.io.err << "Encountered error during copy: " << std::strerror(errno) << "\n";
      ::close(fd);
      return kExitFailure;
    }
  }
  ::close(fd);
  return kExitOk;
}

}  // namespace

Command fd_forward_command() {
  Command c;
  c.name = "fd-forward";
  c.usage = "SOCKET";
  c.summary = "Proxy stdin and stdout to a unix domain socket";
  c.description =
      "fd-forward connects stdin and stdout to a unix domain socket. It is used by fleet "
      "clients that tunnel the API over SSH.";
  c.needs_api = false;
  c.hidden = true;
  c.run = &run;
  return c;
}

}  // namespace fleet::fleetctl
