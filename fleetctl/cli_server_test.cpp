// Every fleetctl command through run_fleetctl and HttpApiClient against the real API server on
// the in-memory registry, with an engine scheduling and an agent "running" units in memory.
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "agent/fake_unit_manager.h"
#include "api/server/unit_inspector.h"
#include "fleetctl/testing/cli_server_fixture.h"
#include "fleetctl/unit_source.h"

using namespace fleet;
using namespace fleet::cli_test;

namespace {

const std::string kOn = " on 2c9d0e4b.../127.0.0.1\n";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The unit as the fake systemd sees it: "active/running", or "" when it is not loaded there.
std::string systemd_state(CliFixture& f, const std::string& unit) {
  auto listed = f.fleetd.run_task(f.fleetd.units().list({unit}));
  if (!listed || listed.value().empty() || listed.value()[0].load_state != "loaded") return "";
  return listed.value()[0].active_state + "/" + listed.value()[0].sub_state;
}

}  // namespace

TEST_CASE("submit creates units and names the problem of a bad one") {
  CliFixture f;
  f.file("hello.service", kHello);
  auto r = f.run({"submit", "hello.service"});
  CHECK(r.code == 0);
  CHECK(r.out == "Unit hello.service inactive\n");
  CHECK(r.err == "");
  auto again = f.run({"submit", "hello.service"});
  CHECK(again.code == 0);
  CHECK(again.out == "");

  f.file("bad.service", "[Unit]\nDescription=x\nnonsense\n");
  auto bad = f.run({"submit", "bad.service"});
  CHECK(bad.code == 1);
  CHECK(bad.err ==
        "Error creating units: failed getting Unit(bad.service) from file: line 3: unexpected "
        "newline encountered while parsing option name\n");

  auto missing = f.run({"submit", "nope.service"});
  CHECK(missing.code == 1);
  CHECK(missing.err ==
        "Error creating units: unable to find Unit(nope.service) in Registry or on filesystem\n");

  f.file("hello.service", "[Service]\nExecStart=/bin/sleep 200\n");
  auto differs = f.run({"submit", "hello.service"});
  CHECK(differs.code == 0);
  CHECK(differs.err ==
        "WARNING: Unit hello.service in registry differs from local unit file hello.service. Add "
        "--replace to override.\n");
  CHECK(f.run({"cat", "hello.service"}).out == kHello);  // the registry kept the first
  auto replaced = f.run({"submit", "--replace", "hello.service"});
  CHECK(replaced.code == 0);
  CHECK(f.run({"cat", "hello.service"}).out == "[Service]\nExecStart=/bin/sleep 200\n");

  f.file("pin.service", "[X-Fleet]\nMachineID=abc\nConflicts=x.service\n");
  auto invalid = f.run({"submit", "pin.service"});
  CHECK(invalid.code == 1);
  CHECK(invalid.err == "Error creating units: MachineID cannot be used with Conflicts\n");
  auto listed = f.run({"list-unit-files", "--no-legend", "--fields=unit,dstate"});
  CHECK(listed.out == "hello.service\tinactive\n");
}

TEST_CASE("load and start block until the agent reports the state") {
  CliFixture f;
  f.wait_ready();
  f.file("hello.service", kHello);
  auto load = f.run({"load", "hello.service"});
  CHECK(load.code == 0);
  CHECK(load.out == "Unit hello.service inactive\nUnit hello.service loaded" + kOn);
  CHECK(systemd_state(f, "hello.service") == "inactive/dead");
  auto start = f.run({"start", "hello"});
  CHECK(start.code == 0);
  CHECK(start.out == "Unit hello.service launched" + kOn);
  CHECK(systemd_state(f, "hello.service") == "active/running");
  auto units = f.run({"list-units", "--no-legend"});
  CHECK(units.out == "hello.service\t2c9d0e4b.../127.0.0.1\tactive\trunning\n");
  auto again = f.run({"start", "hello.service"});
  CHECK(again.code == 0);
  CHECK(again.out == "");
}

TEST_CASE("--no-block only triggers and the unit still gets there") {
  CliFixture f;
  f.wait_ready();
  f.file("hello.service", kHello);
  auto r = f.run({"start", "--no-block", "hello.service"});
  CHECK(r.code == 0);
  CHECK(r.out == "Unit hello.service inactive\nTriggered unit hello.service start\n");
  CHECK(testing::wait_until([&] { return systemd_state(f, "hello.service") == "active/running"; },
                            std::chrono::seconds(5)));
  auto stop = f.run({"stop", "--no-block", "hello.service"});
  CHECK(stop.out == "Triggered unit hello.service stop\n");
  CHECK(testing::wait_until([&] { return systemd_state(f, "hello.service") == "inactive/dead"; },
                            std::chrono::seconds(5)));
  auto destroy = f.run({"destroy", "--no-block", "hello.service"});
  CHECK(destroy.out == "Destroyed hello.service\n");
  CHECK(testing::wait_until([&] { return systemd_state(f, "hello.service").empty(); },
                            std::chrono::seconds(5)));
}

TEST_CASE("stop unload and destroy walk a unit back and skip unknown ones") {
  CliFixture f;
  f.wait_ready();
  f.file("hello.service", kHello);
  REQUIRE(f.run({"start", "hello.service"}).code == 0);
  auto stop = f.run({"stop", "hello.service", "nope.service"});
  CHECK(stop.code == 0);
  CHECK(stop.out == "Unit hello.service loaded" + kOn);
  CHECK(stop.err ==
        "Unit nope.service not found in registry, skipping\n"
        "Successfully stopped units [hello.service].\n");
  CHECK(systemd_state(f, "hello.service") == "inactive/dead");
  auto unload = f.run({"unload", "hello.service"});
  CHECK(unload.code == 0);
  CHECK(unload.out == "Unit hello.service inactive\n");
  CHECK(unload.err == "Successfully unloaded units [hello.service].\n");
  CHECK(testing::wait_until([&] { return systemd_state(f, "hello.service").empty(); },
                            std::chrono::seconds(5)));
  auto inactive = f.run({"stop", "hello.service"});
  CHECK(inactive.code == 1);
  CHECK(inactive.err == "Unable to stop unit hello.service in state inactive\n");
  auto none = f.run({"unload", "nope"});
  CHECK(none.code == 0);
  CHECK(none.err ==
        "Unit nope.service not found in registry, skipping\nUnits not found in registry\n");
  auto destroy = f.run({"destroy", "hello.service", "nope.service"});
  CHECK(destroy.code == 0);
  CHECK(destroy.out == "Destroyed hello.service\n");
  CHECK(destroy.err == "Unit nope.service not found in registry, skipping\n");
  CHECK(f.run({"list-unit-files", "--no-legend"}).out == "");
  auto gone = f.run({"start", "hello.service"});  // the local file brings it back
  CHECK(gone.code == 0);
  CHECK(gone.out == "Unit hello.service inactive\nUnit hello.service launched" + kOn);
  f.sys.files.clear();
  auto unknown = f.run({"load", "other.service"});
  CHECK(unknown.code == 1);
  CHECK(unknown.err ==
        "Error creating units: unable to find Unit(other.service) in Registry or on "
        "filesystem\n");
}

TEST_CASE("a unit no machine can take is reported with the engine's reason") {
  CliFixture f([](InProcessOptions& o) { o.metadata = {{"region", "earth"}}; });
  f.wait_ready();
  f.file("mars.service",
         "[Service]\nExecStart=/bin/true\n[X-Fleet]\nMachineMetadata=region=mars\n");
  auto r = f.run({"start", "--block-attempts=3", "mars.service"});
  CHECK(r.code == 1);
  CHECK(r.out == "Unit mars.service inactive\n");
  CHECK(contains(r.err, "Error waiting for units: unit mars.service cannot be scheduled: "));
  CHECK(contains(r.err, "region=mars"));
  auto reason = f.run({"list-unit-files", "--no-legend", "--fields=unit,reason"});
  CHECK(reason.out.rfind("mars.service\t", 0) == 0);
  CHECK(contains(reason.out, "region=mars"));
  auto json = nlohmann::json::parse(f.run({"list-unit-files", "--format=json"}).out);
  REQUIRE(json.size() == 1);
  CHECK(contains(json[0].value("reason", ""), "region=mars"));
}

TEST_CASE("cat prints the canonical unit file") {
  CliFixture f;
  f.file("hello.service",
         "# comment\n[Unit]\nDescription = Hello\n\n\n[Service]\nExecStart=/bin/sleep 100\n");
  REQUIRE(f.run({"submit", "hello.service"}).code == 0);
  auto r = f.run({"cat", "hello"});
  CHECK(r.code == 0);
  CHECK(r.out == kHello);
  auto missing = f.run({"cat", "nope.service"});
  CHECK(missing.code == 1);
  CHECK(missing.err == "Unit nope.service not found\n");
  auto two = f.run({"cat", "a", "b"});
  CHECK(two.code == 1);
  CHECK(two.err == "One unit file must be provided\n");
}

TEST_CASE("status and journal are answered by the unit's machine through the API") {
  CliFixture f;
  f.wait_ready();
  f.file("hello.service", kHello);
  REQUIRE(f.run({"start", "hello.service"}).code == 0);
  const std::string m = f.fleetd.machine_id();
  f.fleetd.on_loop([&] {
    f.fleetd.inspector().set_status("hello.service", m,
                                    {"● hello.service - Hello\n   Active: active (running)\n", 0});
    f.fleetd.inspector().set_journal("hello.service", m, {"line one\n", "line two\n"});
  });
  auto st = f.run({"status", "hello.service"});
  CHECK(st.code == 0);
  CHECK(st.out == "● hello.service - Hello\n   Active: active (running)\n");
  f.fleetd.on_loop([&] {
    f.fleetd.inspector().set_status("hello.service", m, {"● hello.service\n", 3});
  });
  CHECK(f.run({"status", "hello.service"}).code == 3);
  auto j = f.run({"journal", "--lines", "5", "hello.service"});
  CHECK(j.code == 0);
  CHECK(j.out == "line one\nline two\n");
  auto calls = f.fleetd.on_loop([&] { return f.fleetd.inspector().calls(); });
  CHECK(std::find(calls.begin(), calls.end(),
                  "journal hello.service " + m + " lines=5 output=short") != calls.end());

  auto missing = f.run({"status", "nope.service"});
  CHECK(missing.code == 1);
  CHECK(missing.err == "Unit nope.service does not exist.\n");
  f.fleetd.on_loop([&] {
    f.fleetd.inspector().set_failure(Error{Errc::unavailable, "machine unreachable"});
  });
  auto down = f.run({"status", "hello.service"});
  CHECK(down.code == 1);
  CHECK(contains(down.err, "machine unreachable"));
  f.fleetd.on_loop([&] { f.fleetd.inspector().set_failure(std::nullopt); });
  REQUIRE(f.run({"unload", "hello.service"}).code == 0);
  auto unloaded = f.run({"status", "hello.service"});
  CHECK(unloaded.code == 1);
  CHECK(unloaded.err == "Unit hello.service does not appear to be loaded.\n");
  auto jr = f.run({"journal", "hello.service"});
  CHECK(jr.code == 1);
  CHECK(jr.err == "Unit hello.service does not appear to be running.\n");
}

TEST_CASE("listings print tables with chosen fields and full IDs or JSON") {
  CliFixture f([](InProcessOptions& o) { o.metadata = {{"region", "earth"}, {"disk", "ssd"}}; });
  f.wait_ready();
  f.file("hello.service", kHello);
  f.file("idle.service", "[Service]\nExecStart=/bin/true\n");
  REQUIRE(f.run({"start", "hello.service"}).code == 0);
  REQUIRE(f.run({"submit", "idle.service"}).code == 0);
  const std::string m = f.fleetd.machine_id();

  auto machines = f.run({"list-machines"});
  CHECK(machines.code == 0);
  CHECK(machines.out ==
        "MACHINE\t\tIP\t\tMETADATA\n2c9d0e4b...\t127.0.0.1\tdisk=ssd,region=earth\n");
  CHECK(f.run({"list-machines", "-l", "--no-legend"}).out ==
        m + "\t127.0.0.1\tdisk=ssd,region=earth\n");
  CHECK(f.run({"list-machines", "--fields=ip,machine", "--no-legend"}).out ==
        "127.0.0.1\t2c9d0e4b...\n");
  auto mj = nlohmann::json::parse(f.run({"list-machines", "--format=json"}).out);
  REQUIRE(mj.size() == 1);
  CHECK(mj[0]["id"] == m);
  CHECK(mj[0]["primaryIP"] == "127.0.0.1");

  auto units = f.run({"list-units"});
  CHECK(units.code == 0);
  CHECK(units.out ==
        "UNIT\t\tMACHINE\t\t\tACTIVE\tSUB\nhello.service\t2c9d0e4b.../127.0.0.1\tactive\t"
        "running\n");
  CHECK(f.run({"list-units", "--full", "--no-legend", "--fields=unit,machine"}).out ==
        "hello.service\t" + m + "/127.0.0.1\n");
  auto uj = nlohmann::json::parse(f.run({"list-units", "--format", "json"}).out);
  REQUIRE(uj.size() == 1);
  CHECK(uj[0]["name"] == "hello.service");
  CHECK(uj[0]["systemdActiveState"] == "active");

  auto files = f.run({"list-unit-files"});
  CHECK(files.code == 0);
  const std::string hello = fleetctl::unit_hash(fleetctl::parse_unit_text(kHello).value());
  const std::string idle =
      fleetctl::unit_hash(fleetctl::parse_unit_text("[Service]\nExecStart=/bin/true\n").value());
  CHECK(files.out == "UNIT\t\tHASH\tDSTATE\t\tSTATE\t\tTARGET\nhello.service\t" +
                         hello.substr(0, 7) + "\tlaunched\tlaunched\t2c9d0e4b.../127.0.0.1\n" +
                         "idle.service\t" + idle.substr(0, 7) + "\tinactive\tinactive\t-\n");
  CHECK(f.run({"list-unit-files", "--full", "--no-legend", "--fields=hash,target"}).out ==
        hello + "\t" + m + "/127.0.0.1\n" + idle + "\t-\n");
  auto fj = nlohmann::json::parse(f.run({"list-unit-files", "--format=json"}).out);
  REQUIRE(fj.size() == 2);
  CHECK(fj[0]["desiredState"] == "launched");
  CHECK(fj[1]["currentState"] == "inactive");

  auto bad = f.run({"list-units", "--fields=unit,colour"});
  CHECK(bad.code == 1);
  CHECK(contains(bad.err, "colour"));
  auto badfmt = f.run({"list-units", "--format=yaml"});
  CHECK(badfmt.code == 1);
  CHECK(contains(badfmt.err, "yaml"));
}

TEST_CASE("template instances start from a submitted template") {
  CliFixture f;
  f.wait_ready();
  f.file("example@.service", "[Service]\nExecStart=/bin/echo %i\n");
  REQUIRE(f.run({"submit", "example@.service"}).code == 0);
  f.sys.files.clear();  // the instances must come from the registry's template
  auto r = f.run({"start", "example@1.service", "example@2.service", "example@3.service",
                  "example@4.service"});
  CHECK(r.code == 0);
  CHECK(r.err == "");
  std::string created;
  std::multiset<std::string> launched;
  for (int i = 1; i <= 4; ++i) {
    created += "Unit example@" + std::to_string(i) + ".service inactive\n";
    launched.insert("Unit example@" + std::to_string(i) + ".service launched" + kOn);
  }
  // Creation lines come in argument order; "launched" lines as each unit gets there (as in
  // fleet), which under load need not be name order.
  REQUIRE(r.out.substr(0, created.size()) == created);
  std::multiset<std::string> seen;
  std::istringstream rest(r.out.substr(created.size()));
  for (std::string line; std::getline(rest, line);) seen.insert(line + "\n");
  CHECK(seen == launched);
  for (int i = 1; i <= 4; ++i)
    CHECK(systemd_state(f, "example@" + std::to_string(i) + ".service") == "active/running");
  auto listed = f.run({"list-units", "--no-legend", "--fields=unit"});
  CHECK(listed.out ==
        "example@1.service\nexample@2.service\nexample@3.service\nexample@4.service\n");
  auto tmpl = f.run({"start", "example@.service"});
  CHECK(tmpl.code == 1);
  CHECK(tmpl.err ==
        "Error starting units: googleapi: Error 400: cannot activate template "
        "\"example@.service\"\n");
  auto none = f.run({"start", "db@1.service"});
  CHECK(none.code == 1);
  CHECK(none.err ==
        "Error creating units: failed getting Unit(db@1.service) from template: unable to find "
        "template Unit(db@.service) in Registry or on filesystem\n");
}

TEST_CASE("start of many units creates the new ones and keeps or replaces the registered ones") {
  CliFixture f;
  f.wait_ready();
  std::vector<std::string> args{"start", "--replace"};
  for (int i = 0; i < 12; ++i) {
    std::string name = "many" + std::to_string(i) + ".service";
    f.file(name, "[Service]\nExecStart=/bin/sleep " + std::to_string(100 + i) + "\n");
    if (i < 6) REQUIRE(f.run({"submit", name}).code == 0);  // half of them registered already
    args.push_back(name);
  }
  f.file("many0.service", "[Service]\nExecStart=/bin/sleep 999\n");  // differs: --replace
  auto r = f.run(args);
  CHECK(r.code == 0);
  CHECK(r.err == "");
  for (int i = 0; i < 12; ++i) {
    std::string name = "many" + std::to_string(i) + ".service";
    CHECK(contains(r.out, "Unit " + name + " launched"));
    CHECK(systemd_state(f, name) == "active/running");
  }
  CHECK(contains(r.out, "Found same Unit(many1.service) in Registry, nothing to do\n"));
  CHECK(f.run({"cat", "many0.service"}).out == "[Service]\nExecStart=/bin/sleep 999\n");
  CHECK(f.run({"cat", "many11.service"}).out == "[Service]\nExecStart=/bin/sleep 111\n");

  // Stopping many: one batch request, and systemd stops every one.
  std::vector<std::string> stop{"stop"};
  stop.insert(stop.end(), args.begin() + 2, args.end());
  auto st = f.run(stop);
  CHECK(st.code == 0);
  for (int i = 0; i < 12; ++i)
    CHECK(systemd_state(f, "many" + std::to_string(i) + ".service") == "inactive/dead");

  // Many units go in one batch request each way; an unknown one is skipped and named.
  std::vector<std::string> destroy{"destroy", "nope.service"};
  destroy.insert(destroy.end(), args.begin() + 2, args.end());
  auto d = f.run(destroy);
  CHECK(d.code == 0);
  CHECK(d.err == "Unit nope.service not found in registry, skipping\n");
  for (int i = 0; i < 12; ++i) {
    std::string name = "many" + std::to_string(i) + ".service";
    CHECK(contains(d.out, "Destroyed " + name + "\n"));
    CHECK(testing::wait_until([&] { return systemd_state(f, name).empty(); },
                              std::chrono::seconds(10)));
  }
  CHECK(f.run({"list-unit-files", "--no-legend"}).out == "");
}

TEST_CASE("the TCP endpoint serves the same API") {
  CliFixture f;
  f.wait_ready();
  f.sys.env["FLEETCTL_ENDPOINT"] = f.fleetd.tcp_endpoint();
  REQUIRE(f.fleetd.tcp_endpoint().rfind("http://127.0.0.1:", 0) == 0);
  f.file("hello.service", kHello);
  auto r = f.run({"start", "hello.service"});
  CHECK(r.code == 0);
  CHECK(r.out == "Unit hello.service inactive\nUnit hello.service launched" + kOn);
  CHECK(f.run({"list-machines", "--no-legend"}).out == "2c9d0e4b...\t127.0.0.1\t-\n");
}

TEST_CASE("an unreachable daemon is reported with the endpoint tried") {
  CliFixture f;
  const std::string sock = f.dir + "/absent.sock";
  f.sys.env["FLEETCTL_ENDPOINT"] = "unix://" + sock;
  for (const char* cmd : {"list-units", "list-unit-files", "list-machines"}) {
    auto r = f.run({cmd});
    CHECK(r.code == 1);
    CHECK(contains(r.err, sock));
  }
  auto st = f.run({"status", "hello.service"});
  CHECK(st.code == 1);
  CHECK(contains(st.err, sock));
  // A TCP port nobody listens on: the server's own port after it stopped.
  std::string tcp = f.fleetd.tcp_endpoint();
  f.fleetd.stop();
  f.sys.env["FLEETCTL_ENDPOINT"] = tcp;
  auto down = f.run({"list-machines"});
  CHECK(down.code == 1);
  CHECK(contains(down.err, tcp.substr(7)));
}

TEST_CASE("unknown commands and flags exit non-zero without touching the API") {
  CliFixture f;
  auto cmd = f.run({"lst-units"});
  CHECK(cmd.code == 1);
  CHECK(contains(cmd.err, "unknown command \"lst-units\""));
  auto flag = f.run({"list-units", "--colour"});
  CHECK(flag.code == 1);
  CHECK(flag.err == "Error: unknown flag: --colour\nRun 'fleetctl help list-units' for usage.\n");
  auto global = f.run({"--bogus", "list-units"});
  CHECK(global.code == 1);
  auto version = f.run({"version"});
  CHECK(version.code == 0);
}
