#pragma once
// systemd socket activation: the listening sockets systemd passes (LISTEN_FDS and LISTEN_PID,
// read with sd_listen_fds) become API listeners, and an api_listen address systemd already
// listens on is not bound a second time. So the shipped fleet.socket works alone (api_listen
// empty) and next to the default api_listen, which names the same /var/run/fleet.sock.

#include <string>
#include <vector>

namespace fleet::fleetd {

struct InheritedSocket {
  int fd = -1;
  std::string address;  // "unix:///run/fleet.sock", "tcp://127.0.0.1:8080"; empty if unknown
};

// The sockets passed to this process, in order (fd 3, 4, …); empty when not socket-activated.
// Clears LISTEN_* from the environment, so children (journal readers) do not see them.
std::vector<InheritedSocket> take_inherited_sockets();

// The listen specs for the API server: every inherited socket as fd://N, then each configured
// address no inherited socket already serves. Unix paths are compared after resolving
// symlinks (/var/run is /run on Debian), TCP addresses as host:port.
std::vector<std::string> listen_specs(const std::vector<std::string>& configured,
                                      const std::vector<InheritedSocket>& inherited);

}  // namespace fleet::fleetd
