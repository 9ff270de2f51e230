// fleetctl's commands against FakeApiClient: the command scenarios (shared with the real server's
// suite, cli_server_test.cpp) and what only the fake can stage (manual convergence, injected
// failures, several machines, counted polls and calls).
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "fleetctl/test_support.h"
#include "fleetctl/testing/command_scenarios.h"
#include "fleetctl/unit_actions.h"

using namespace fleet;
using namespace fleet::fleetctl;
using fleet::fleetctl::testing::Fleetctl;
using fleet::fleetctl::testing::kHello;

namespace {

const std::string kM1 = "113f16a7e7c04e0ba8ee3f0ab0a7ab31";
const std::string kOn = " on 113f16a7.../172.17.8.103\n";

bool has_call(const Fleetctl& f, const std::string& call) {
  const auto& calls = f.api.calls();
  return std::find(calls.begin(), calls.end(), call) != calls.end();
}

}  // namespace

// At global scope so test names read "...<FakeBackend>". One machine; the fake converges at once.
struct FakeBackend : Fleetctl {
  static constexpr bool kFake = true;

  FakeBackend() { api.add_machine({kM1, "172.17.8.103", {}, ""}); }

  void wait_ready() {}
  std::string legend() const { return "113f16a7.../172.17.8.103"; }
  std::optional<api::Unit> unit(const std::string& name) { return api.unit(name); }
  std::string systemd_state(const std::string& name) {
    auto states = api.list_unit_states({kM1, name});
    if (!states || states.value().empty() || states.value()[0].systemd_load_state != "loaded")
      return "";
    return states.value()[0].systemd_active_state + "/" + states.value()[0].systemd_sub_state;
  }
  // The fake does not evaluate [X-Fleet]: it is told the engine's verdict. The unit does not
  // exist yet, so the verdict is given each time fleetctl asks for it.
  void unplaceable(const std::string& unit, const std::string& reason) {
    api.on_get_unit([unit, reason](api::FakeApiClient& a, const std::string& name) {
      if (name == unit) a.set_unschedulable(name, reason);
    });
  }
  void set_status(const std::string& name, api::CommandOutput out) {
    api.set_status(name, std::move(out));
  }
  void set_journal(const std::string& name, const std::vector<std::string>& pieces) {
    api.set_journal(name, std::accumulate(pieces.begin(), pieces.end(), std::string()));
  }
  void fail_inspection(const std::optional<Error>& e) {
    if (e) {
      api.set_failure("unit_status", *e);
    } else {
      api.clear_failure("unit_status");
    }
  }
  bool journal_requested(const std::string& name, int lines, bool follow) {
    return has_call(
        *this, "journal " + name + " lines=" + std::to_string(lines) + (follow ? " follow" : ""));
  }
};

FLEET_FLEETCTL_SCENARIOS(FakeBackend);

namespace {

// The fake backend with hello.service as a local file.
struct Cluster : FakeBackend {
  Cluster() { file("hello.service", kHello); }
};

}  // namespace

TEST_CASE("template instances come from a local template file") {
  Cluster c;
  const std::string tmpl = "[Service]\nExecStart=/bin/echo %i\n";
  c.file("example@.service", tmpl);
  auto r = c.run({"start", "example@1.service", "example@2.service", "example@3"});
  CHECK(r.code == 0);
  CHECK(r.out ==
        "Unit example@1.service inactive\nUnit example@2.service inactive\n"
        "Unit example@3.service inactive\nUnit example@1.service launched" +
            kOn + "Unit example@2.service launched" + kOn + "Unit example@3.service launched" +
            kOn);
  CHECK(serialize_unit(c.api.unit("example@2.service")->options) == tmpl);
  CHECK_FALSE(c.api.unit("example@.service"));
}

TEST_CASE("blocking gives up after --block-attempts") {
  Cluster c;
  c.api.set_converge(api::FakeApiClient::Converge::manual);
  auto r = c.run({"start", "--block-attempts=2", "hello.service"});
  CHECK(r.code == 1);
  CHECK(r.out == "Unit hello.service inactive\n");
  CHECK(r.err ==
        "Error waiting for units: timed out waiting for unit hello.service to report state "
        "launched\nError waiting for unit states, exit status: 1\n");
  CHECK(c.sys.sleeps == 15);  // 2 attempts x 8 polls, a sleep between polls
}

TEST_CASE("blocking follows state changes over time") {
  Cluster c;
  c.api.set_converge(api::FakeApiClient::Converge::manual);
  c.sys.on_sleep = [&](int n) {
    if (n == 3) {
      c.api.set_current_state("hello.service", "launched", kM1);
      c.api.put_unit_state({"hello.service", "", kM1, "loaded", "activating", "start"});
    }
    if (n == 5) c.api.put_unit_state({"hello.service", "", kM1, "loaded", "active", "running"});
  };
  auto r = c.run({"start", "hello.service"});
  CHECK(r.code == 0);
  CHECK(r.out == "Unit hello.service inactive\nUnit hello.service launched" + kOn);
  CHECK(c.sys.sleeps == 5);
}

TEST_CASE("on a terminal a wait redraws its counts in place and ends with a summary") {
  Cluster c;
  c.file("other.service", kHello);
  REQUIRE(c.run({"submit", "hello.service", "other.service"}).code == 0);
  c.api.set_converge(api::FakeApiClient::Converge::manual);
  c.sys.on_sleep = [&](int n) {
    if (n == 1) c.api.set_current_state("hello.service", "loaded", kM1);
    if (n == 6) c.api.set_current_state("other.service", "loaded", kM1);
  };
  c.sys.stdout_terminal = true;
  auto r = c.run({"load", "hello.service", "other.service"});
  CHECK(r.code == 0);
  const std::string erase = "\r\033[K";
  CHECK(r.out == erase + "Waiting for 2 units to be loaded: 0 done, 2 pending, 0 failed (0s)" +
                     erase + "Unit hello.service loaded" + kOn + erase +
                     "Waiting for 2 units to be loaded: 1 done, 1 pending, 0 failed (0s)" + erase +
                     "Waiting for 2 units to be loaded: 1 done, 1 pending, 0 failed (0s)" + erase +
                     "Waiting for 2 units to be loaded: 1 done, 1 pending, 0 failed (0s)" + erase +
                     "Waiting for 2 units to be loaded: 1 done, 1 pending, 0 failed (1s)" + erase +
                     "Waiting for 2 units to be loaded: 1 done, 1 pending, 0 failed (1s)" + erase +
                     "Unit other.service loaded" + kOn + "2 units: 2 loaded, 0 failed (1s)\n");
  CHECK(r.err == "");

  // Not a terminal: fleet's lines only.
  c.api.set_converge(api::FakeApiClient::Converge::instant);
  c.sys.on_sleep = nullptr;
  c.sys.stdout_terminal = false;
  REQUIRE(c.run({"unload", "hello.service", "other.service"}).code == 0);
  auto plain = c.run({"load", "hello.service", "other.service"});
  CHECK(plain.out == "Unit hello.service loaded" + kOn + "Unit other.service loaded" + kOn);
}

TEST_CASE("a unit systemd fails to start is reported") {
  Cluster c;
  c.api.set_converge(api::FakeApiClient::Converge::manual);
  c.sys.on_sleep = [&](int n) {
    if (n == 1) {
      c.api.set_current_state("hello.service", "launched", kM1);
      c.api.put_unit_state({"hello.service", "", kM1, "loaded", "failed", "failed"});
    }
  };
  auto r = c.run({"start", "hello.service"});
  CHECK(r.code == 1);
  CHECK(r.err ==
        "Error waiting for units: Unit hello.service failed in systemd: failed (failed)\n"
        "Error waiting for systemd unit states, err: 1\n");
}

TEST_CASE("destroy removes units and reports API errors") {
  Cluster c;
  REQUIRE(c.run({"start", "hello.service"}).code == 0);
  auto r = c.run({"destroy", "hello.service"});
  CHECK(r.code == 0);
  CHECK(r.out == "Destroyed hello.service\n");
  CHECK_FALSE(c.api.unit("hello.service"));
  REQUIRE(c.run({"submit", "hello.service"}).code == 0);
  c.api.set_failure("destroy_unit", Error{Errc::internal, "googleapi: Error 500: boom"});
  auto fail = c.run({"destroy", "hello.service"});
  CHECK(fail.code == 1);
  CHECK(fail.err == "Error destroying units: googleapi: Error 500: boom\n");
}

TEST_CASE("an empty unit name is refused before any API call") {
  // '' used to be mangled into ".service": `destroy ''` deleted a unit of that name.
  Cluster c;
  api::Unit dot;
  dot.name = ".service";
  dot.desired_state = "inactive";
  c.api.put_unit(dot);
  for (const char* cmd : {"destroy", "submit", "load", "start", "stop", "unload", "restart", "cat",
                          "status", "journal"}) {
    CAPTURE(cmd);
    for (std::string arg : {"", "units/"}) {
      auto r = c.run({cmd, "hello.service", arg});
      CHECK(r.code == 1);
      CHECK(r.out == "");
      CHECK(r.err == "Error: invalid unit name \"" + arg + "\": unit name cannot be empty\n");
    }
  }
  CHECK(c.api.calls().empty());
  CHECK(c.api.unit(".service"));
}

TEST_CASE("restart stops then starts a launched unit and starts a loaded one") {
  Cluster c;
  REQUIRE(c.run({"start", "hello.service"}).code == 0);
  auto r = c.run({"restart", "hello.service"});
  CHECK(r.code == 0);
  CHECK(r.out == "Unit hello.service loaded" + kOn + "Unit hello.service launched" + kOn);
  CHECK(has_call(c, "set hello.service loaded"));
  REQUIRE(c.run({"stop", "hello.service"}).code == 0);
  auto from_loaded = c.run({"restart", "hello.service"});
  CHECK(from_loaded.out == "Unit hello.service launched" + kOn);
  REQUIRE(c.run({"unload", "hello.service"}).code == 0);
  auto inactive = c.run({"restart", "hello.service"});
  CHECK(inactive.code == 0);
  CHECK(inactive.err == "Unable to restart unit hello.service in state inactive\n");
}

TEST_CASE("status of a global unit asks every machine that runs it") {
  Cluster c;
  c.api.add_machine({"m2", "172.17.8.104", {}, ""});
  c.file("g.service", "[Service]\nExecStart=/bin/true\n[X-Fleet]\nGlobal=true\n");
  REQUIRE(c.run({"start", "g.service"}).code == 0);
  c.api.clear_unit_states("g.service");
  auto none = c.run({"status", "g.service"});
  CHECK(none.code == 1);
  CHECK(none.err == "Unit g.service does not appear to be loaded.\n");
  c.api.put_unit_state({"g.service", "", kM1, "loaded", "active", "running"});
  c.api.put_unit_state({"g.service", "", "m2", "loaded", "active", "running"});
  c.api.set_status("g.service@" + kM1, {"on m1\n", 0});
  c.api.set_status("g.service@m2", {"on m2\n", 0});
  auto both = c.run({"status", "g.service"});
  CHECK(both.code == 0);
  CHECK(both.out == "on m1\n\non m2\n");
  c.api.set_status("g.service@" + kM1, {"dead\n", 3});
  auto first_fails = c.run({"status", "g.service"});
  CHECK(first_fails.code == 3);
  CHECK(first_fails.out == "dead\n");
}

TEST_CASE("ssh runs OpenSSH against the machine of a unit or a machine prefix") {
  Cluster c;
  REQUIRE(c.run({"start", "hello.service"}).code == 0);
  auto r = c.run({"ssh", "hello.service", "echo", "-n", "foo"});
  CHECK(r.code == 1);  // FakeSystem refuses to exec
  REQUIRE(c.sys.execs.size() == 1);
  const auto& argv = c.sys.execs[0];
  CHECK(argv.front() == "ssh");
  CHECK(argv[argv.size() - 3] == "172.17.8.103");
  CHECK(argv.back() == "echo -n foo");
  REQUIRE(c.run({"ssh", "--ssh-port=2222", "-A", "113f"}).code == 1);
  const auto& m = c.sys.execs[1];
  CHECK(std::find(m.begin(), m.end(), "2222") != m.end());
  CHECK(std::find(m.begin(), m.end(), "-A") != m.end());
  CHECK(m.back() == "172.17.8.103");
  auto none = c.run({"ssh", "zzz"});
  CHECK(none.err == "Unable to proceed: could not find matching unit or machine\n");
  auto both = c.run({"ssh", "--machine=113f", "--unit=hello.service"});
  CHECK(both.err == "Both machine and unit flags provided, please specify only one.\n");
}

TEST_CASE("restart of a global unit stops it everywhere, then launches it again") {
  Cluster c;
  c.api.add_machine({"m2", "10.0.0.2", {}, ""});
  c.file("g.service", "[Service]\nExecStart=/bin/true\n[X-Fleet]\nGlobal=true\n");
  REQUIRE(c.run({"start", "g.service"}).code == 0);
  auto r = c.run({"restart", "g.service"});
  CHECK(r.code == 0);
  CHECK(r.out == "Triggered global unit g.service restart\n");
  CHECK(has_call(c, "set g.service loaded"));
  CHECK(c.api.calls().back() == "set g.service launched");
  CHECK(c.api.list_unit_states({}).value().size() == 2);
}

TEST_CASE("destroy --no-block does not poll") {
  Cluster c;
  REQUIRE(c.run({"submit", "hello.service"}).code == 0);
  int before = c.api.get_unit_calls();
  auto r = c.run({"destroy", "--no-block", "hello"});
  CHECK(r.out == "Destroyed hello.service\n");
  CHECK(c.api.get_unit_calls() == before);
}

TEST_CASE("API errors while waiting are reported once per attempt") {
  Cluster c;
  REQUIRE(c.run({"submit", "hello.service"}).code == 0);
  // The creation check and the state change need two good GETs; the waits' polls then fail.
  int gets = 0;
  c.api.on_get_unit([&](api::FakeApiClient& api, const std::string&) {
    if (++gets == 3) api.set_failure("get_unit", Error{Errc::unavailable, "connection refused"});
  });
  auto r = c.run({"start", "--block-attempts=2", "hello.service"});
  CHECK(r.code == 1);
  CHECK(r.err ==
        "Error retrieving Unit(hello.service) from Registry: connection refused\n"
        "Error retrieving Unit(hello.service) from Registry: connection refused\n"
        "Error waiting for units: timed out waiting for unit hello.service to report state "
        "launched\nError waiting for unit states, exit status: 1\n");
}

TEST_CASE("status of a unit that should run but does not shows its recent events") {
  Cluster c;
  c.api.set_converge(api::FakeApiClient::Converge::manual);
  REQUIRE(c.run({"start", "--no-block", "hello.service"}).code == 0);
  c.api.add_event({7, "2026-12-06T09:00:00.000Z", "unschedulable", "hello.service", "",
                   "no machine has region=mars"});
  c.api.add_event({8, "2026-12-06T09:00:01.000Z", "scheduled", "other.service", kM1, "x"});
  auto r = c.run({"status", "hello.service"});
  CHECK(r.code == 1);
  CHECK(r.err ==
        "Unit hello.service does not appear to be loaded.\n"
        "Recent events (fleetctl events hello.service):\n"
        "  2026-12-06T09:00:00.000Z  unschedulable  -  no machine has region=mars\n");
}
