#pragma once
// --tunnel for API access: an OpenSSH child process (`ssh -N -L <local socket>:<remote>`) forwards
// a private local unix socket to the API endpoint as seen from the tunnel host, and the HTTP
// client talks to that socket. fleet ran `fleetctl fd-forward` over its own SSH client instead;
// OpenSSH's stream-local forwarding does the same without needing fleetctl on the remote PATH.

#include <memory>
#include <string>
#include <vector>

#include "api/client.h"
#include "api/http_client.h"
#include "fleetctl/command.h"

namespace fleet::fleetctl {

// The ssh command line for a tunnel (tunnel is `host:port`, as normalised by the CLI).
std::vector<std::string> tunnel_ssh_argv(const GlobalOptions& g, const api::Endpoint& remote,
                                         const std::string& local_socket);

// Starts the tunnel and returns an ApiClient that uses it; the ssh child is ended (by its pid)
// when the client is destroyed. Errors: https endpoints, ssh failing or not forwarding within
// --ssh-timeout.
Result<std::unique_ptr<api::ApiClient>> open_tunnel_client(const GlobalOptions& g,
                                                           const api::HttpClientOptions& opts);

}  // namespace fleet::fleetctl
