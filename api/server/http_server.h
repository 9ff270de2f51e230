#pragma once
// HttpServer: serves the API handler (handler.h) over HTTP/1.1 with Boost.Beast on fleetd's
// io_context: unix sockets (`unix:///var/run/fleet.sock`, mode 0660, a stale socket file is
// replaced) and TCP (`tcp://127.0.0.1:49153`), TCP optionally with TLS and client-certificate
// verification. Beast stays inside http_server.cpp.
//
// Robustness: every request has a header and body size limit; a new connection must start its
// first request (after the TLS handshake, itself bounded by `header_timeout`) within
// `header_timeout`, a keep-alive connection its next one within `idle_timeout`; from its first
// byte a request has `header_timeout` for its header and `request_timeout` in all. A malformed
// request gets a 4xx JSON error and its connection is closed. Unix-socket and TCP connections are
// counted apart, at most `max_connections` each, so TCP clients never lock out the local socket;
// when a kind is full, its oldest connection that is waiting for a request (idle, then still
// reading a header) is closed to make room, and only when every one is answering a request do new
// ones wait in the kernel backlog. A streamed response (journal --follow) ends as soon as its
// client goes away, even while the stream has nothing to send.
// Loop affinity: construct, start() and stop() on the io_context thread.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/schema.h"
#include "api/server/api_context.h"
#include "common/result.h"

namespace boost::asio {
class io_context;
}

namespace fleet::api::server {

struct TlsOptions {
  std::string cert_file;  // PEM server certificate (chain)
  std::string key_file;   // PEM private key
  std::string ca_file;    // PEM CA bundle for client certificates; empty = no client auth
  // With a CA: reject clients without a certificate signed by it (fleet never verified).
  bool require_client_cert = true;
};

struct HttpServerOptions {
  // "unix:///path", "tcp://host:port" (port 0 = any free port; see endpoints()) or "fd://N"
  // (an already listening unix or TCP socket, e.g. from systemd socket activation; adopted,
  // and its socket file is left alone).
  std::vector<std::string> listen;
  std::optional<TlsOptions> tls;  // applies to every tcp:// endpoint
  std::size_t body_limit = kMaxRequestBodyBytes;
  std::size_t header_limit = 16 * 1024;
  std::chrono::milliseconds header_timeout{10000};   // first byte, TLS handshake, and the header
  std::chrono::milliseconds request_timeout{30000};  // one whole request, from its first byte
  std::chrono::milliseconds idle_timeout{120000};    // keep-alive wait for the next request
  std::chrono::milliseconds write_timeout{30000};    // per response (per chunk when streaming)
  std::size_t max_connections = 256;                 // per kind: unix sockets, TCP
  int unix_socket_mode = 0660;
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, ApiContext& ctx, HttpServerOptions opts);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds every endpoint and starts accepting. Errc::invalid_argument for a malformed endpoint
  // or TLS file, Errc::already_exists when a live server owns a unix socket path,
  // Errc::unavailable when an address cannot be bound. Nothing is left listening on failure.
  Status start();
  // Stops accepting and closes every connection; removes the unix socket files it created.
  void stop();

  // The bound endpoints, with real ports (e.g. "tcp://127.0.0.1:41234").
  std::vector<std::string> endpoints() const;
  std::size_t connection_count() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace fleet::api::server
