#pragma once
// fleetctl's real entry point (run_fleetctl + HttpApiClient) against an in-process fleetd
// (MemoryKv registry, the real API server on a unix socket and TCP, engine, agent over
// FakeUnitManager). Unit files come from a FakeSystem; its sleeps are real so blocking commands
// wait on the real server's state changes. The server backend of the command scenarios
// (command_scenarios.h), and the fixture of the tests only a real server can answer.

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/fake_unit_manager.h"
#include "api/http_client.h"
#include "api/server/unit_inspector.h"
#include "common/log.h"
#include "common/testing/temp_dir.h"
#include "fleetctl/cli.h"
#include "fleetctl/test_support.h"
#include "fleetd/testing/in_process_fleetd.h"
#include "tests/harness/wait.h"

namespace fleet::fleetctl::testing {

using fleetd::testing::InProcessFleetd;
using fleetd::testing::InProcessOptions;

class SleepingSystem : public FakeSystem {
 public:
  void sleep(std::chrono::milliseconds d) override {
    FakeSystem::sleep(d);
    std::this_thread::sleep_for(d);
  }
};

inline InProcessOptions options_in(const std::string& dir,
                                   const std::function<void(InProcessOptions&)>& tweak) {
  InProcessOptions o;
  o.dir = dir;
  o.tcp = true;
  if (tweak) tweak(o);
  return o;
}

class ServerFleetctl {
 public:
  fleet::testing::TempDir dir{"fleetctl-cli"};
  InProcessOptions options;
  InProcessFleetd fleetd;
  SleepingSystem sys;

  explicit ServerFleetctl(const std::function<void(InProcessOptions&)>& tweak = {})
      : options(options_in(dir.path.string(), tweak)), fleetd(options) {
    log::set_level(log::Level::warn);  // the daemon's info lines would drown test failures
    REQUIRE(fleetd.start());
    sys.env["FLEETCTL_ENDPOINT"] = fleetd.unix_endpoint();
  }

  // Waits until the machine is announced and the engine leads, so commands can converge.
  void wait_ready() {
    REQUIRE(fleet::testing::wait_until([&] { return fleetd.machine_announced(); },
                                       std::chrono::seconds(10)));
    REQUIRE(fleet::testing::wait_until([&] { return fleetd.engine_leader(); },
                                       std::chrono::seconds(10)));
  }

  RunResult run(const std::vector<std::string>& args) {
    return run_captured(args, sys, http_client_factory(), std::chrono::milliseconds(20));
  }

  void file(const std::string& path, std::string text) { sys.files[path] = std::move(text); }

  // The machine as fleetctl names it in its lines: `<id8>.../<ip>`.
  std::string legend() const {
    return options.machine_id.substr(0, 8) + ".../" + options.public_ip;
  }

  // The unit as the API reports it, asked for over a connection of its own.
  std::optional<api::Unit> unit(const std::string& name) {
    api::HttpClientOptions o;
    auto endpoint = api::parse_endpoint(fleetd.unix_endpoint());
    REQUIRE(endpoint);
    o.endpoint = endpoint.value();
    auto client = api::HttpApiClient::create(o);
    REQUIRE(client);
    auto got = client.value()->get_unit(name);
    REQUIRE(got);
    return got.value();
  }

  // The unit as the fake systemd sees it: "active/running", or "" when it is not loaded there.
  std::string systemd_state(const std::string& unit) {
    auto listed = fleetd.run_task(fleetd.units().list({unit}));
    if (!listed || listed.value().empty() || listed.value()[0].load_state != "loaded") return "";
    return listed.value()[0].active_state + "/" + listed.value()[0].sub_state;
  }

  // The engine finds out by itself that no machine has the unit's metadata.
  void unplaceable(const std::string&, const std::string&) {}

  void set_status(const std::string& unit, api::CommandOutput out) {
    fleetd.on_loop([&] { fleetd.inspector().set_status(unit, fleetd.machine_id(), out); });
  }
  void set_journal(const std::string& unit, std::vector<std::string> pieces) {
    fleetd.on_loop([&] { fleetd.inspector().set_journal(unit, fleetd.machine_id(), pieces); });
  }
  void fail_inspection(std::optional<Error> e) {
    fleetd.on_loop([&] { fleetd.inspector().set_failure(e); });
  }
  bool journal_requested(const std::string& unit, int lines, bool follow) {
    std::string call = "journal " + unit + " " + fleetd.machine_id() +
                       " lines=" + std::to_string(lines) + " output=short" +
                       (follow ? " follow" : "");
    auto calls = fleetd.on_loop([&] { return fleetd.inspector().calls(); });
    return std::find(calls.begin(), calls.end(), call) != calls.end();
  }
};

}  // namespace fleet::fleetctl::testing
