#pragma once
// fleetctl's real entry point (run_fleetctl + HttpApiClient) against an in-process fleetd
// (MemoryKv registry, the real API server on a unix socket and TCP, engine, agent over
// FakeUnitManager). Unit files come from a FakeSystem; its sleeps are real so blocking commands
// wait on the real server's state changes.

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "fleetctl/cli.h"
#include "fleetd/testing/in_process_fleetd.h"
#include "tests/harness/wait.h"

namespace fleet::cli_test {

using fleetd::testing::InProcessFleetd;
using fleetd::testing::InProcessOptions;

class SleepingSystem : public fleetctl::FakeSystem {
 public:
  void sleep(std::chrono::milliseconds d) override {
    FakeSystem::sleep(d);
    std::this_thread::sleep_for(d);
  }
};

struct RunResult {
  int code = 0;
  std::string out;
  std::string err;
};

inline std::string make_temp_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "fleetctl-cli-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

inline InProcessOptions options_in(const std::string& dir,
                                   const std::function<void(InProcessOptions&)>& tweak) {
  InProcessOptions o;
  o.dir = dir;
  o.tcp = true;
  if (tweak) tweak(o);
  return o;
}

struct CliFixture {
  std::string dir = make_temp_dir();
  InProcessFleetd fleetd;
  SleepingSystem sys;

  explicit CliFixture(const std::function<void(InProcessOptions&)>& tweak = {})
      : fleetd(options_in(dir, tweak)) {
    log::set_level(log::Level::warn);  // the daemon's info lines would drown test failures
    REQUIRE(fleetd.start());
    sys.env["FLEETCTL_ENDPOINT"] = fleetd.unix_endpoint();
  }
  ~CliFixture() {
    fleetd.stop();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  // Waits until the machine is announced and the engine leads, so commands can converge.
  void wait_ready() {
    REQUIRE(
        testing::wait_until([&] { return fleetd.machine_announced(); }, std::chrono::seconds(10)));
    REQUIRE(testing::wait_until([&] { return fleetd.engine_leader(); }, std::chrono::seconds(10)));
  }

  RunResult run(const std::vector<std::string>& args) {
    fleetctl::BufferOutput buf;
    fleetctl::CliEnv env{buf.output(), sys, fleetctl::http_client_factory()};
    env.poll_interval = std::chrono::milliseconds(20);
    int code = fleetctl::run_fleetctl(args, env);
    return {code, buf.out(), buf.err()};
  }

  void file(const std::string& path, std::string text) { sys.files[path] = std::move(text); }
};

inline const char* kHello = "[Unit]\nDescription=Hello\n\n[Service]\nExecStart=/bin/sleep 100\n";

}  // namespace fleet::cli_test
