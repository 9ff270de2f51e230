#pragma once
// Test fixture for command tests: runs fleetctl in-process against FakeApiClient, FakeSystem
// and captured output.

#include <memory>
#include <string>
#include <vector>

#include "api/fake_client.h"
#include "fleetctl/cli.h"

namespace fleet::fleetctl::testing {

// Forwards to a client the test owns (the CLI wants to own its client).
class BorrowedClient : public api::ApiClient {
 public:
  explicit BorrowedClient(api::ApiClient& c) : c_(c) {}
  Result<std::vector<api::Unit>> list_units() override { return c_.list_units(); }
  Result<std::optional<api::Unit>> get_unit(const std::string& n) override {
    return c_.get_unit(n);
  }
  Status create_unit(const api::Unit& u) override { return c_.create_unit(u); }
  Status set_desired_state(const std::string& n, std::string_view s) override {
    return c_.set_desired_state(n, s);
  }
  Status destroy_unit(const std::string& n) override { return c_.destroy_unit(n); }
  Result<std::vector<api::UnitState>> list_unit_states(const api::StateFilter& f) override {
    return c_.list_unit_states(f);
  }
  Result<std::vector<api::Machine>> list_machines() override { return c_.list_machines(); }
  Result<api::CommandOutput> unit_status(const std::string& n, const std::string& m) override {
    return c_.unit_status(n, m);
  }
  Result<api::CommandOutput> unit_journal(
      const std::string& n, const api::JournalOptions& o,
      const std::function<bool(std::string_view)>& sink) override {
    return c_.unit_journal(n, o, sink);
  }

 private:
  api::ApiClient& c_;
};

struct RunResult {
  int code = 0;
  std::string out;
  std::string err;
};

class Fleetctl {
 public:
  api::FakeApiClient api;
  FakeSystem sys;
  GlobalOptions last_global;  // what the client factory saw

  RunResult run(const std::vector<std::string>& args) {
    BufferOutput buf;
    CliEnv env{
        buf.output(), sys,
        [this](const GlobalOptions& g, std::ostream&) -> Result<std::unique_ptr<api::ApiClient>> {
          last_global = g;
          return std::unique_ptr<api::ApiClient>(new BorrowedClient(api));
        }};
    int code = run_fleetctl(args, env);
    return {code, buf.out(), buf.err()};
  }

  // A unit file on the fake file system.
  void file(const std::string& path, std::string text) { sys.files[path] = std::move(text); }
};

inline const char* kHello = "[Unit]\nDescription=Hello\n\n[Service]\nExecStart=/bin/sleep 100\n";

}  // namespace fleet::fleetctl::testing
