#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

#include "fleetctl/test_support.h"
#include "fleetctl/unit_actions.h"

using namespace fleet;
using namespace fleet::fleetctl;
using fleet::fleetctl::testing::Fleetctl;
using fleet::fleetctl::testing::kHello;

namespace {

const std::string kM1 = "113f16a7e7c04e0ba8ee3f0ab0a7ab31";
const std::string kOn = " on 113f16a7.../172.17.8.103\n";

struct Cluster : Fleetctl {
  Cluster() {
    api.add_machine({kM1, "172.17.8.103", {}, ""});
    file("hello.service", kHello);
  }
};

bool has_call(const Fleetctl& f, const std::string& call) {
  const auto& calls = f.api.calls();
  return std::find(calls.begin(), calls.end(), call) != calls.end();
}

}  // namespace

TEST_CASE("commands without units say so and succeed") {
  Cluster c;
  for (const char* cmd : {"submit", "load", "start", "stop", "unload", "destroy", "restart"}) {
    auto r = c.run({cmd});
    CHECK(r.code == 0);
    CHECK(r.err == "No units given\n");
  }
}

TEST_CASE("submit creates a unit from a local file and waits for it") {
  Cluster c;
  auto r = c.run({"submit", "hello.service"});
  CHECK(r.code == 0);
  CHECK(r.out == "Unit hello.service inactive\n");
  CHECK(r.err == "");
  auto u = c.api.unit("hello.service");
  REQUIRE(u);
  CHECK(u->desired_state == "inactive");
  CHECK(serialize_unit(u->options) == kHello);
  // Idempotent: nothing happens the second time.
  auto again = c.run({"submit", "hello"});
  CHECK(again.code == 0);
  CHECK(again.out == "");
  CHECK(c.api.calls().size() == 1);
}

TEST_CASE("submit warns when the registry differs and --replace replaces") {
  Cluster c;
  REQUIRE(c.run({"submit", "hello.service"}).code == 0);
  c.file("hello.service", "[Service]\nExecStart=/bin/sleep 200\n");
  auto warn = c.run({"submit", "hello.service"});
  CHECK(warn.code == 0);
  CHECK(warn.err ==
        "WARNING: Unit hello.service in registry differs from local unit file hello.service. Add "
        "--replace to override.\n");
  auto replaced = c.run({"submit", "--replace", "hello.service"});
  CHECK(replaced.code == 0);
  CHECK(replaced.out == "Unit hello.service inactive\n");
  CHECK(serialize_unit(c.api.unit("hello.service")->options) ==
        "[Service]\nExecStart=/bin/sleep 200\n");
  auto same = c.run({"submit", "--replace", "hello.service"});
  CHECK(same.out == "Found same Unit(hello.service) in Registry, nothing to do\n");
}

TEST_CASE("--replace refuses to cross states and needs a local file") {
  Cluster c;
  REQUIRE(c.run({"start", "hello.service"}).code == 0);
  c.file("hello.service", "[Service]\nExecStart=/bin/sleep 200\n");
  auto r = c.run({"submit", "--replace", "hello.service"});
  CHECK(r.code == 0);
  CHECK(r.err ==
        "Warning: can not replace Unit(hello.service) in state 'launched', use the appropriate "
        "command\n");
  c.sys.files.erase("hello.service");
  auto missing = c.run({"start", "--replace", "hello.service"});
  CHECK(missing.code == 1);
  CHECK(missing.err ==
        "Error creating units: error Unit hello.service does not seem to be a template unit\n");
}

TEST_CASE("creation errors name the unit and the problem") {
  Cluster c;
  auto none = c.run({"submit", "nope.service"});
  CHECK(none.code == 1);
  CHECK(none.err ==
        "Error creating units: unable to find Unit(nope.service) in Registry or on filesystem\n");
  c.file("bad.service", "[Unit]\nDescription=x\nnonsense\n");
  auto bad = c.run({"submit", "bad.service"});
  CHECK(bad.code == 1);
  CHECK(bad.err ==
        "Error creating units: failed getting Unit(bad.service) from file: line 3: unexpected "
        "newline encountered while parsing option name\n");
  c.file("bad name.service", kHello);
  auto name = c.run({"submit", "bad name.service"});
  CHECK(name.code == 1);
  CHECK(name.err == "Error creating units: invalid character ' ' in unit name\n");
  c.file("pin.service", "[X-Fleet]\nMachineID=abc\nConflicts=x.service\n");
  auto opts = c.run({"submit", "pin.service"});
  CHECK(opts.code == 1);
  CHECK(opts.err == "Error creating units: MachineID cannot be used with Conflicts\n");
  c.file("odd.service", "[X-Fleet]\nColour=blue\n");
  auto odd = c.run({"submit", "odd.service"});
  CHECK(odd.code == 0);
  CHECK(odd.err == "Unit odd.service: unrecognized requirement in [X-Fleet] section: \"Colour\"\n");
}

TEST_CASE("start submits, launches and waits, printing fleet's lines") {
  Cluster c;
  auto r = c.run({"start", "hello.service"});
  CHECK(r.code == 0);
  CHECK(r.err == "");
  CHECK(r.out == "Unit hello.service inactive\nUnit hello.service launched" + kOn);
  CHECK(c.api.unit("hello.service")->current_state == "launched");
  auto again = c.run({"start", "hello.service"});
  CHECK(again.code == 0);
  CHECK(again.out == "");
}

TEST_CASE("start --no-block only triggers") {
  Cluster c;
  auto r = c.run({"start", "--no-block", "hello.service"});
  CHECK(r.code == 0);
  CHECK(r.out == "Unit hello.service inactive\nTriggered unit hello.service start\n");
}

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

TEST_CASE("template instances come from the registry's template, next to a path argument") {
  Cluster c;
  c.file("units/web@.service", "[Service]\nExecStart=/bin/web %i\n");
  REQUIRE(c.run({"submit", "units/web@.service"}).code == 0);
  c.sys.files.clear();
  auto r = c.run({"load", "--no-block", "units/web@8080.service"});
  CHECK(r.code == 0);
  CHECK(r.out == "Unit web@8080.service inactive\nTriggered unit web@8080.service load\n");
  CHECK(c.api.unit("web@8080.service")->options == c.api.unit("web@.service")->options);
  auto missing = c.run({"start", "db@1.service"});
  CHECK(missing.code == 1);
  CHECK(missing.err ==
        "Error creating units: failed getting Unit(db@1.service) from template: unable to find "
        "template Unit(db@.service) in Registry or on filesystem\n");
}

TEST_CASE("a template itself cannot be started") {
  Cluster c;
  c.file("example@.service", kHello);
  auto r = c.run({"start", "example@.service"});
  CHECK(r.code == 1);
  CHECK(r.err ==
        "Error starting units: googleapi: Error 400: cannot activate template "
        "\"example@.service\"\n");
}

TEST_CASE("load waits for loaded") {
  Cluster c;
  auto r = c.run({"load", "hello"});
  CHECK(r.code == 0);
  CHECK(r.out == "Unit hello.service inactive\nUnit hello.service loaded" + kOn);
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

TEST_CASE("an unschedulable unit is reported with the engine's reason") {
  Cluster c;
  REQUIRE(c.run({"submit", "hello.service"}).code == 0);
  c.api.set_unschedulable("hello.service", "no machine has metadata region=mars");
  auto r = c.run({"start", "hello.service"});
  CHECK(r.code == 1);
  CHECK(r.err ==
        "Error waiting for units: unit hello.service cannot be scheduled: no machine has metadata "
        "region=mars\nError waiting for unit states, exit status: 1\n");
  CHECK(c.sys.sleeps == 7);  // one full attempt
}

TEST_CASE("global units are triggered, never waited on") {
  Cluster c;
  c.file("g.service", "[Service]\nExecStart=/bin/true\n[X-Fleet]\nGlobal=true\n");
  auto r = c.run({"start", "g.service"});
  CHECK(r.code == 0);
  CHECK(r.out == "Unit g.service \nTriggered global unit g.service start\n");
  auto stop = c.run({"stop", "g.service"});
  CHECK(stop.out == "Triggered global unit g.service stop\n");
  CHECK(stop.err == "Successfully stopped units [].\n");
}

TEST_CASE("stop and unload") {
  Cluster c;
  REQUIRE(c.run({"start", "hello.service"}).code == 0);
  auto stop = c.run({"stop", "hello.service", "nope.service"});
  CHECK(stop.code == 0);
  CHECK(stop.out == "Unit hello.service loaded" + kOn);
  CHECK(stop.err ==
        "Unit nope.service not found in registry, skipping\n"
        "Successfully stopped units [hello.service].\n");
  auto unload = c.run({"unload", "hello.service"});
  CHECK(unload.code == 0);
  CHECK(unload.out == "Unit hello.service inactive\n");
  CHECK(unload.err == "Successfully unloaded units [hello.service].\n");
  auto inactive = c.run({"stop", "hello.service"});
  CHECK(inactive.code == 1);
  CHECK(inactive.err == "Unable to stop unit hello.service in state inactive\n");
  auto none = c.run({"unload", "nope"});
  CHECK(none.code == 0);
  CHECK(none.err ==
        "Unit nope.service not found in registry, skipping\nUnits not found in registry\n");
}

TEST_CASE("stop --no-block triggers") {
  Cluster c;
  REQUIRE(c.run({"start", "hello.service"}).code == 0);
  auto r = c.run({"stop", "--no-block", "hello.service"});
  CHECK(r.out == "Triggered unit hello.service stop\n");
  CHECK(r.err == "Successfully stopped units [hello.service].\n");
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

TEST_CASE("cat prints the canonical unit file") {
  Cluster c;
  c.file("hello.service",
         "# comment\n[Unit]\nDescription = Hello\n\n\n[Service]\nExecStart=/bin/sleep 100\n");
  REQUIRE(c.run({"submit", "hello.service"}).code == 0);
  auto r = c.run({"cat", "hello"});
  CHECK(r.code == 0);
  CHECK(r.out == kHello);
  auto missing = c.run({"cat", "nope.service"});
  CHECK(missing.code == 1);
  CHECK(missing.err == "Unit nope.service not found\n");
  auto two = c.run({"cat", "a", "b"});
  CHECK(two.code == 1);
  CHECK(two.err == "One unit file must be provided\n");
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

TEST_CASE("status and journal come from the API") {
  Cluster c;
  REQUIRE(c.run({"start", "hello.service"}).code == 0);
  c.api.set_status("hello.service", {"● hello.service\n   Active: active (running)\n", 0});
  auto st = c.run({"status", "hello.service"});
  CHECK(st.code == 0);
  CHECK(st.out == "● hello.service\n   Active: active (running)\n");
  c.api.set_status("hello.service", {"dead\n", 3});
  CHECK(c.run({"status", "hello.service"}).code == 3);
  c.api.set_journal("hello.service", "Hello, World!\n");
  auto j = c.run({"journal", "-f", "--lines", "5", "hello.service"});
  CHECK(j.code == 0);
  CHECK(j.out == "Hello, World!\n");
  CHECK(has_call(c, "journal hello.service lines=5 follow"));
  auto missing = c.run({"status", "nope.service"});
  CHECK(missing.code == 1);
  CHECK(missing.err == "Unit nope.service does not exist.\n");
  REQUIRE(c.run({"unload", "hello.service"}).code == 0);
  auto unloaded = c.run({"status", "hello.service"});
  CHECK(unloaded.code == 1);
  CHECK(unloaded.err == "Unit hello.service does not appear to be loaded.\n");
  auto jr = c.run({"journal", "hello.service"});
  CHECK(jr.code == 1);
  CHECK(jr.err == "Unit hello.service does not appear to be running.\n");
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

TEST_CASE("an instance that differs from its local template is kept with a warning") {
  Cluster c;
  c.file("example@.service", "[Service]\nExecStart=/bin/echo one\n");
  REQUIRE(c.run({"submit", "example@1.service"}).code == 0);
  c.file("example@.service", "[Service]\nExecStart=/bin/echo two\n");
  auto r = c.run({"submit", "example@1.service"});
  CHECK(r.code == 0);
  CHECK(r.err ==
        "WARNING: Unit example@1.service in registry differs from local template unit file "
        "example@1.service. Add --replace to override.\n");
  auto replaced = c.run({"submit", "--replace", "example@1.service"});
  CHECK(replaced.code == 0);
  CHECK(serialize_unit(c.api.unit("example@1.service")->options) ==
        "[Service]\nExecStart=/bin/echo two\n");
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
