#pragma once
// HttpApiClient: ApiClient over HTTP/1.1 (Boost.Beast, kept inside http_client.cpp). Endpoints:
//   unix:///var/run/fleet.sock (default; also file://), http://host:port[/prefix],
//   https://host:port[/prefix] (TLS: --ca-file verifies the server, --cert-file/--key-file
//   present a client certificate).
// One keep-alive connection is reused across calls and re-opened once if the server closed it.
// Calls are synchronous (fleetctl is a short-lived CLI); every request has a deadline except the
// body of a followed journal stream.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "api/client.h"

namespace fleet::api {

struct Endpoint {
  enum class Kind { unix_socket, http, https };
  Kind kind = Kind::unix_socket;
  std::string socket_path;  // unix
  std::string host;         // http(s)
  std::string port;         // http(s); "80"/"443" when absent
  std::string base_path;    // "/fleet/v1/" or "<prefix>/fleet/v1/"
  std::string url;          // the endpoint as given (first of a comma list)
};

// Parses fleetctl's --endpoint the way fleet does. Only the first of a
// comma-separated list is used; then `*warning` is set to
// `multiple endpoints provided but only the first (<u>) is used`. Errors: `URL scheme undefined`,
// `unable to connect to host "<h>" with scheme "unix"`, `unsupported URL scheme "<s>"`.
Result<Endpoint> parse_endpoint(std::string_view text, std::string* warning = nullptr);

// Every endpoint of a comma-separated --endpoint list (fleet accepted a list but used only the
// first), in order; the first that fails to parse is the error.
Result<std::vector<Endpoint>> parse_endpoints(std::string_view text);

struct HttpClientOptions {
  Endpoint endpoint;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::chrono::milliseconds request_timeout{3000};
  // Tried in turn when `endpoint` cannot be connected to (--endpoint=a,b,c); the first that
  // answers is used from then on. A request that reached a server is never sent again elsewhere.
  std::vector<Endpoint> fallbacks = {};  // last: positional initialisers stay valid
};

class HttpApiClient : public ApiClient {
 public:
  // Fails only on a TLS set-up error (unreadable CA/cert/key file); connecting happens lazily.
  static Result<std::unique_ptr<HttpApiClient>> create(HttpClientOptions opts);
  ~HttpApiClient() override;

  Result<std::vector<Unit>> list_units() override;
  Result<std::vector<Unit>> list_unit_summaries() override;
  Result<std::optional<Unit>> get_unit(const std::string& name) override;
  Status create_unit(const Unit& unit) override;
  Status set_desired_state(const std::string& name, std::string_view state) override;
  Status destroy_unit(const std::string& name) override;
  Result<std::vector<Status>> set_desired_states(
      const std::vector<std::pair<std::string, std::string>>& changes) override;
  Result<std::vector<Status>> destroy_units(const std::vector<std::string>& names) override;
  Result<std::vector<Status>> create_units(const std::vector<Unit>& units) override;
  Result<std::vector<UnitState>> list_unit_states(const StateFilter& filter) override;
  Result<std::vector<Machine>> list_machines() override;
  Status set_maintenance(const std::string& machine, std::string_view action, bool force) override;
  Result<RebootStatus> reboot_status() override;
  Result<std::vector<Rollout>> list_rollouts() override;
  Result<std::optional<Rollout>> get_rollout(const std::string& name) override;
  Result<Rollout> start_rollout(const RolloutRequest& request) override;
  Status abort_rollout(const std::string& name) override;
  Status start_reboot(const std::vector<std::string>& machines, int max_unavailable,
                      std::int64_t timeout_seconds) override;
  Status reboot_lock(std::string_view action, const std::string& machine, int max) override;
  Result<CommandOutput> unit_status(const std::string& name,
                                    const std::string& machine_id) override;
  Result<CommandOutput> unit_journal(const std::string& name, const JournalOptions& opts,
                                     const std::function<bool(std::string_view)>& sink) override;
  Status events(const EventQuery& q, const std::function<bool(const Event&)>& sink) override;

  struct Impl;

 private:
  explicit HttpApiClient(std::unique_ptr<Impl> impl);
  // One batch request; nullopt when the server does not know the route.
  Result<std::optional<std::vector<Status>>> batch(const std::string& verb, const UnitPage& body,
                                                   std::size_t count);
  std::unique_ptr<Impl> impl_;
};

// Percent-encodes a path segment or query value (unit names may hold `\` and `@`).
std::string url_escape(std::string_view s);

}  // namespace fleet::api
