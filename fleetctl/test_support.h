#pragma once
// Test fixture for command tests: runs fleetctl in-process against FakeApiClient, FakeSystem
// and captured output.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/fake_client.h"
#include "api/forwarding_client.h"
#include "fleetctl/cli.h"

namespace fleet::fleetctl::testing {

// Forwards to a client the test owns (the CLI wants to own its client).
class BorrowedClient : public api::ForwardingClient {
 public:
  using ForwardingClient::ForwardingClient;
};

struct RunResult {
  int code = 0;
  std::string out;
  std::string err;
};

// Runs fleetctl in-process with the clients `make_client` gives, capturing what it prints.
inline RunResult run_captured(const std::vector<std::string>& args, System& sys,
                              ClientFactory make_client,
                              std::optional<std::chrono::milliseconds> poll_interval = {}) {
  BufferOutput buf;
  CliEnv env{buf.output(), sys, std::move(make_client)};
  if (poll_interval) env.poll_interval = *poll_interval;
  int code = run_fleetctl(args, env);
  return {code, buf.out(), buf.err()};
}

class Fleetctl {
 public:
  api::FakeApiClient api;
  FakeSystem sys;
  GlobalOptions last_global;  // what the client factory saw

  RunResult run(const std::vector<std::string>& args) {
    return run_captured(
        args, sys,
        [this](const GlobalOptions& g, std::ostream&) -> Result<std::unique_ptr<api::ApiClient>> {
          last_global = g;
          return std::unique_ptr<api::ApiClient>(new BorrowedClient(api));
        });
  }

  // A unit file on the fake file system.
  void file(const std::string& path, std::string text) { sys.files[path] = std::move(text); }
};

inline const char* kHello = "[Unit]\nDescription=Hello\n\n[Service]\nExecStart=/bin/sleep 100\n";

}  // namespace fleet::fleetctl::testing
