#include "fleetd/socket_activation.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace fleet::fleetd {

namespace {

std::string address_of(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return {};
  if (addr.ss_family == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(&addr);
    if (un->sun_path[0] == '\0') return {};  // abstract socket: no path to compare with
    return "unix://" + std::string(un->sun_path);
  }
  char host[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    return "tcp://" + std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    return "tcp://[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return {};
}

// The form two addresses are compared in.
std::string normalized(const std::string& address) {
  if (address.rfind("unix://", 0) != 0) return address;
  std::error_code ec;
  // The socket file may not exist yet (configured, not inherited): resolve what does exist.
  auto p = std::filesystem::weakly_canonical(address.substr(7), ec);
  return ec ? address : "unix://" + p.string();
}

}  // namespace

std::vector<InheritedSocket> take_inherited_sockets() {
  std::vector<InheritedSocket> out;
  const int n = sd_listen_fds(1);
  for (int i = 0; i < n; ++i) {
    const int fd = SD_LISTEN_FDS_START + i;
    out.push_back({fd, address_of(fd)});
  }
  return out;
}

std::vector<std::string> listen_specs(const std::vector<std::string>& configured,
                                      const std::vector<InheritedSocket>& inherited) {
  std::vector<std::string> out;
  std::vector<std::string> served;
  for (const auto& s : inherited) {
    out.push_back("fd://" + std::to_string(s.fd));
    if (!s.address.empty()) served.push_back(normalized(s.address));
  }
  for (const auto& c : configured) {
    if (std::find(served.begin(), served.end(), normalized(c)) == served.end()) out.push_back(c);
  }
  return out;
}

}  // namespace fleet::fleetd
