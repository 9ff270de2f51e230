// Every fleetctl command through run_fleetctl and HttpApiClient against the real API server on
// the in-memory registry, with an engine scheduling and an agent "running" units in memory: the
// command scenarios (shared with the FakeApiClient suite) and what only a real server answers.
#include <nlohmann/json.hpp>
#include <string>

#include "fleetctl/testing/cli_server_fixture.h"
#include "fleetctl/testing/command_scenarios.h"
#include "fleetctl/unit_source.h"

using namespace fleet;
using fleet::fleetctl::testing::contains;
using fleet::fleetctl::testing::InProcessOptions;
using fleet::fleetctl::testing::kHello;
using fleet::fleetctl::testing::ServerFleetctl;

// At global scope so test names read "...<ServerBackend>".
struct ServerBackend : ServerFleetctl {
  static constexpr bool kFake = false;
};

FLEET_FLEETCTL_SCENARIOS(ServerBackend);

namespace {

const std::string kOn = " on 2c9d0e4b.../127.0.0.1\n";

}  // namespace

TEST_CASE("listings print tables with chosen fields and full IDs or JSON") {
  ServerFleetctl f([](InProcessOptions& o) {
    o.metadata = {{"region", "earth"}, {"disk", "ssd"}};
  });
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

TEST_CASE("start of many units creates the new ones and keeps or replaces the registered ones") {
  ServerFleetctl f;
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
    CHECK(f.systemd_state(name) == "active/running");
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
    CHECK(f.systemd_state("many" + std::to_string(i) + ".service") == "inactive/dead");

  // Many units go in one batch request each way; an unknown one is skipped and named.
  std::vector<std::string> destroy{"destroy", "nope.service"};
  destroy.insert(destroy.end(), args.begin() + 2, args.end());
  auto d = f.run(destroy);
  CHECK(d.code == 0);
  CHECK(d.err == "Unit nope.service not found in registry, skipping\n");
  for (int i = 0; i < 12; ++i) {
    std::string name = "many" + std::to_string(i) + ".service";
    CHECK(contains(d.out, "Destroyed " + name + "\n"));
    CHECK(testing::wait_until([&] { return f.systemd_state(name).empty(); },
                              std::chrono::seconds(10)));
  }
  CHECK(f.run({"list-unit-files", "--no-legend"}).out == "");
}

TEST_CASE("list-unit-files shows from the basic view what the options say") {
  ServerFleetctl f;
  f.wait_ready();
  const std::string every =
      "[Unit]\nDescription=On every machine\n[Service]\nExecStart=/bin/true\n[X-Fleet]\n"
      "Global=true\n";
  f.file("every.service", every);
  f.file("hello.service", kHello);
  f.file("plain.service", "[Service]\nExecStart=/bin/true\n");
  REQUIRE(f.run({"start", "every.service", "hello.service"}).code == 0);
  REQUIRE(f.run({"submit", "plain.service"}).code == 0);
  const auto hash = [](const std::string& text) {
    return fleetctl::unit_hash(fleetctl::parse_unit_text(text).value());
  };
  const std::string hello_desc =
      fleetctl::unit_description(fleetctl::parse_unit_text(kHello).value());
  REQUIRE_FALSE(hello_desc.empty());
  auto r = f.run({"list-unit-files", "--full", "--no-legend",
                  "--fields=unit,hash,global,desc,dstate,state,target"});
  CHECK(r.code == 0);
  std::string cells;  // the columns' padding (runs of tabs) aside
  for (char c : r.out)
    if (c != '\t' || cells.empty() || cells.back() != '\t') cells += c;
  CHECK(cells == "every.service\t" + hash(every) +
                     "\ttrue\tOn every machine\tlaunched\t-\tglobal\n"
                     "hello.service\t" +
                     hash(kHello) + "\tfalse\t" + hello_desc + "\tlaunched\tlaunched\t" +
                     f.fleetd.machine_id() + "/127.0.0.1\nplain.service\t" +
                     hash("[Service]\nExecStart=/bin/true\n") +
                     "\tfalse\t-\tinactive\tinactive\t-\n");
  // JSON output still carries whole units.
  auto j = nlohmann::json::parse(f.run({"list-unit-files", "--format=json"}).out);
  REQUIRE(j.size() == 3);
  CHECK(j[0]["options"].size() == 3);
  CHECK_FALSE(j[0].contains("hash"));
}

TEST_CASE("starting and waiting for many units, a global one among them, from unit summaries") {
  ServerFleetctl f;
  f.wait_ready();
  std::vector<std::string> start{"start"};
  for (int i = 0; i < 8; ++i) {
    const std::string name = "w" + std::to_string(i) + ".service";
    f.file(name, "[Service]\nExecStart=/bin/sleep " + std::to_string(200 + i) + "\n");
    start.push_back(name);
  }
  f.file("g.service", "[Service]\nExecStart=/bin/true\n[X-Fleet]\nGlobal=true\n");
  start.push_back("g.service");
  std::vector<std::string> submit = start;
  submit[0] = "submit";
  REQUIRE(f.run(submit).code == 0);  // registered: start only changes desired states
  auto r = f.run(start);
  CHECK(r.code == 0);
  CHECK(contains(r.out, "Triggered global unit g.service start\n"));
  for (int i = 0; i < 8; ++i)
    CHECK(contains(r.out, "Unit w" + std::to_string(i) + ".service launched" + kOn));
}

TEST_CASE("the TCP endpoint serves the same API") {
  ServerFleetctl f;
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
  ServerFleetctl f;
  const std::string sock = f.dir.path.string() + "/absent.sock";
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

TEST_CASE("updating a template's instances with --replace never ends in 409") {
  ServerFleetctl f;
  f.wait_ready();
  f.file("web@.service", "[Service]\nExecStart=/bin/sleep 100\n");
  REQUIRE(f.run({"start", "web@1.service", "web@2.service"}).code == 0);
  f.file("web@.service", "[Service]\nExecStart=/bin/sleep 200\n");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"submit", "--replace", "web@.service"},
           {"start", "--replace", "web@1.service", "web@2.service"},
           {"start", "--replace", "web@1.service"},
           {"load", "--replace", "web@2.service"},
           {"submit", "--replace", "web@1.service"}}) {
    auto r = f.run(args);
    CAPTURE(args[0]);
    CAPTURE(args.back());
    CHECK_FALSE(contains(r.err, "409"));
    CHECK_FALSE(contains(r.err, "must provide DesiredState"));
  }
  CHECK(f.run({"cat", "web@1.service"}).out == "[Service]\nExecStart=/bin/sleep 200\n");
  CHECK(f.systemd_state("web@1.service") == "active/running");
}
