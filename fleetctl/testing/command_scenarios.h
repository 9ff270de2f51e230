#pragma once
// fleetctl's command scenarios, written once and run on two backends: FakeApiClient
// (fleetctl/unit_commands_test.cpp, exact and fast, every poll counted) and the real API server
// with an engine and an agent in-process (fleetctl/cli_server_test.cpp, over HTTP). Both must
// print the same lines for the same steps, so the fake cannot drift from the server.
//
// How to instantiate it for a backend, in exactly one .cpp of a doctest binary:
//
//   #include "fleetctl/testing/command_scenarios.h"
//   // At global scope, so that test names read "...<ServerBackend>".
//   struct ServerBackend {
//     static constexpr bool kFake = false;  // true enables the checks only the fake can make
//                                           // (its call log and poll count: `f.api`, `f.sys`)
//     ServerBackend();                      // one machine, no units, no local files
//     fleet::fleetctl::FakeSystem sys;      // the local files fleetctl reads (or a subclass)
//     fleet::fleetctl::testing::RunResult run(const std::vector<std::string>& args);
//     void file(const std::string& path, std::string text);  // a local unit file
//     void wait_ready();                    // the machine is announced and the engine leads
//     std::string legend() const;           // `<id8>.../<ip>`: the machine in fleet's lines
//     std::optional<fleet::api::Unit> unit(const std::string& name);  // as the API reports it
//     // What systemd on the machine shows of the unit: "active/running", "inactive/dead", or ""
//     // when the unit is not loaded there.
//     std::string systemd_state(const std::string& unit);
//     // Makes a unit with `MachineMetadata=region=mars` unplaceable with `reason`: the fake is
//     // told (it does not evaluate [X-Fleet]); a real engine finds out by itself.
//     void unplaceable(const std::string& unit, const std::string& reason);
//     // What the machine answers for status and journal, and a failure of every such call.
//     void set_status(const std::string& unit, fleet::api::CommandOutput out);
//     void set_journal(const std::string& unit, std::vector<std::string> pieces);
//     void fail_inspection(std::optional<fleet::Error> e);
//     // Whether the unit's journal was asked for with these options.
//     bool journal_requested(const std::string& unit, int lines, bool follow);
//   };
//   FLEET_FLEETCTL_SCENARIOS(ServerBackend);
//
// A scenario that needs a backend's own controls (the fake's manual convergence or injected
// failures, the server's endpoints) stays in that backend's test file.

#include <doctest/doctest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fleetctl/test_support.h"
#include "fleetctl/unit_source.h"
#include "tests/harness/wait.h"

namespace fleet::fleetctl::testing {

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// " on <id8>.../<ip>\n", as a line of fleetctl names the backend's machine. (Found by argument-
// dependent lookup: both backends derive from a fixture of this namespace.)
template <class F>
std::string on(const F& f) {
  return " on " + f.legend() + "\n";
}

// Waits (the server's agent acts on its own time) until systemd shows `state` for `unit`.
template <class F>
bool systemd_reaches(F& f, const std::string& unit, const std::string& state) {
  return fleet::testing::wait_until([&] { return f.systemd_state(unit) == state; },
                                    std::chrono::seconds(10));
}

}  // namespace fleet::fleetctl::testing

TEST_CASE_TEMPLATE_DEFINE("commands without units say so and succeed", F, fleetctl_no_units) {
  F f;
  for (const char* cmd : {"submit", "load", "start", "stop", "unload", "destroy", "restart"}) {
    CAPTURE(cmd);
    auto r = f.run({cmd});
    CHECK(r.code == 0);
    CHECK(r.err == "No units given\n");
  }
}

TEST_CASE_TEMPLATE_DEFINE("submit creates a unit from a local file and waits for it", F,
                          fleetctl_submit) {
  using fleet::fleetctl::testing::kHello;
  F f;
  f.file("hello.service", kHello);
  auto r = f.run({"submit", "hello.service"});
  CHECK(r.code == 0);
  CHECK(r.out == "Unit hello.service inactive\n");
  CHECK(r.err == "");
  auto u = f.unit("hello.service");
  REQUIRE(u);
  CHECK(u->desired_state == "inactive");
  CHECK(fleet::fleetctl::serialize_unit(u->options) == kHello);
  // Idempotent: nothing happens the second time, whichever way the unit is named.
  for (const char* arg : {"hello.service", "hello"}) {
    auto again = f.run({"submit", arg});
    CHECK(again.code == 0);
    CHECK(again.out == "");
  }
  if constexpr (F::kFake) CHECK(f.api.calls().size() == 1);
}

TEST_CASE_TEMPLATE_DEFINE("submit warns when the registry differs and --replace replaces", F,
                          fleetctl_submit_replace) {
  using fleet::fleetctl::testing::kHello;
  F f;
  f.file("hello.service", kHello);
  REQUIRE(f.run({"submit", "hello.service"}).code == 0);
  f.file("hello.service", "[Service]\nExecStart=/bin/sleep 200\n");
  auto warn = f.run({"submit", "hello.service"});
  CHECK(warn.code == 0);
  CHECK(warn.err ==
        "WARNING: Unit hello.service in registry differs from local unit file hello.service. Add "
        "--replace to override.\n");
  CHECK(f.run({"cat", "hello.service"}).out == kHello);  // the registry kept the first
  auto replaced = f.run({"submit", "--replace", "hello.service"});
  CHECK(replaced.code == 0);
  CHECK(replaced.out == "Unit hello.service inactive\n");
  CHECK(fleet::fleetctl::serialize_unit(f.unit("hello.service")->options) ==
        "[Service]\nExecStart=/bin/sleep 200\n");
  CHECK(f.run({"cat", "hello.service"}).out == "[Service]\nExecStart=/bin/sleep 200\n");
  auto same = f.run({"submit", "--replace", "hello.service"});
  CHECK(same.out == "Found same Unit(hello.service) in Registry, nothing to do\n");
  auto listed = f.run({"list-unit-files", "--no-legend", "--fields=unit,dstate"});
  CHECK(listed.out == "hello.service\tinactive\n");
}

TEST_CASE_TEMPLATE_DEFINE("--replace refuses to cross states and needs a local file", F,
                          fleetctl_replace_states) {
  F f;
  f.wait_ready();
  f.file("hello.service", fleet::fleetctl::testing::kHello);
  REQUIRE(f.run({"start", "hello.service"}).code == 0);
  f.file("hello.service", "[Service]\nExecStart=/bin/sleep 200\n");
  auto r = f.run({"submit", "--replace", "hello.service"});
  CHECK(r.code == 0);
  CHECK(r.err ==
        "Warning: can not replace Unit(hello.service) in state 'launched', use the appropriate "
        "command\n");
  f.sys.files.erase("hello.service");
  auto missing = f.run({"start", "--replace", "hello.service"});
  CHECK(missing.code == 1);
  CHECK(missing.err ==
        "Error creating units: error Unit hello.service does not seem to be a template unit\n");
}

TEST_CASE_TEMPLATE_DEFINE("creation errors name the unit and the problem", F,
                          fleetctl_creation_errors) {
  using fleet::fleetctl::testing::kHello;
  F f;
  auto none = f.run({"submit", "nope.service"});
  CHECK(none.code == 1);
  CHECK(none.err ==
        "Error creating units: unable to find Unit(nope.service) in Registry or on filesystem\n");
  f.file("bad.service", "[Unit]\nDescription=x\nnonsense\n");
  auto bad = f.run({"submit", "bad.service"});
  CHECK(bad.code == 1);
  CHECK(bad.err ==
        "Error creating units: failed getting Unit(bad.service) from file: line 3: unexpected "
        "newline encountered while parsing option name\n");
  f.file("bad name.service", kHello);
  auto name = f.run({"submit", "bad name.service"});
  CHECK(name.code == 1);
  CHECK(name.err == "Error creating units: invalid character ' ' in unit name\n");
  f.file("pin.service", "[X-Fleet]\nMachineID=abc\nConflicts=x.service\n");
  auto opts = f.run({"submit", "pin.service"});
  CHECK(opts.code == 1);
  CHECK(opts.err == "Error creating units: MachineID cannot be used with Conflicts\n");
  // None of them got into the registry.
  CHECK(f.run({"list-unit-files", "--no-legend"}).out == "");
  f.file("odd.service", "[X-Fleet]\nColour=blue\n");
  auto odd = f.run({"submit", "odd.service"});
  CHECK(odd.code == 0);
  CHECK(odd.err == "Unit odd.service: unrecognized requirement in [X-Fleet] section: \"Colour\"\n");
}

TEST_CASE_TEMPLATE_DEFINE("every unit file fleet accepts is accepted end to end", F,
                          fleetctl_fleet_files) {
  F f;
  // Invalid UTF-8: stored as fleet stored it (each bad byte U+FFFD), so the hash is fleet's.
  f.file("latin1.service", "[Unit]\nDescription=caf\xe9\n\n[Service]\nExecStart=/bin/x \xff\n");
  auto utf = f.run({"submit", "latin1.service"});
  CHECK(utf.code == 0);
  CHECK(utf.err == "");
  CHECK(f.run({"cat", "latin1.service"}).out ==
        "[Unit]\nDescription=caf\xef\xbf\xbd\n\n[Service]\nExecStart=/bin/x \xef\xbf\xbd\n");
  CHECK(
      f.run({"list-unit-files", "--no-legend", "--full", "--fields=hash", "latin1.service"}).out ==
      fleet::fleetctl::unit_hash(f.unit("latin1.service")->options) + "\n");
  // The same file again is the same unit, not a "differs" warning.
  CHECK(f.run({"submit", "--replace", "latin1.service"}).out ==
        "Found same Unit(latin1.service) in Registry, nothing to do\n");

  // go-systemd's first line-length check comes after one byte: a first line of 2048 bytes passes.
  f.file("long.service", std::string(2048, '#') + "\n[Service]\nExecStart=/bin/true\n");
  CHECK(f.run({"submit", "long.service"}).code == 0);
  f.file("longer.service", std::string(2049, '#') + "\n[Service]\nExecStart=/bin/true\n");
  auto longer = f.run({"submit", "longer.service"});
  CHECK(longer.code == 1);
  CHECK(longer.err ==
        "Error creating units: failed getting Unit(longer.service) from file: line 1: line too "
        "long (max 2048 bytes)\n");

  // Nearly 1 MiB of text whose JSON request is half as large again (quotes and backslashes are
  // escaped, every option repeats its section): accepted, and kept byte for byte.
  std::string big = "[Service]\nExecStart=/bin/true\n";
  for (int i = 0; big.size() < 1000 * 1000; ++i) {
    big += "Environment=\"K" + std::to_string(i) + "=\\\"" + std::string(60, 'v') + "\\\"\"\n";
  }
  f.file("big.service", big);
  auto large = f.run({"submit", "big.service"});
  CHECK(large.code == 0);
  CHECK(large.err == "");
  CHECK(f.run({"cat", "big.service"}).out == big);
  // Above 1 MiB: one message, before anything is sent.
  f.file("huge.service", big + std::string(1024 * 1024 - big.size() + 1, '#'));
  auto huge = f.run({"submit", "huge.service"});
  CHECK(huge.code == 1);
  CHECK(huge.err ==
        "Error creating units: failed getting Unit(huge.service) from file: unit file too large "
        "(1048577 bytes, max 1048576 bytes)\n");
  CHECK_FALSE(f.unit("huge.service"));
}

TEST_CASE_TEMPLATE_DEFINE("start submits, launches and waits, printing fleet's lines", F,
                          fleetctl_start) {
  F f;
  f.wait_ready();
  f.file("hello.service", fleet::fleetctl::testing::kHello);
  auto r = f.run({"start", "hello.service"});
  CHECK(r.code == 0);
  CHECK(r.err == "");
  CHECK(r.out == "Unit hello.service inactive\nUnit hello.service launched" + on(f));
  CHECK(f.unit("hello.service")->current_state == "launched");
  CHECK(f.systemd_state("hello.service") == "active/running");
  auto again = f.run({"start", "hello.service"});
  CHECK(again.code == 0);
  CHECK(again.out == "");
}

TEST_CASE_TEMPLATE_DEFINE("load and start block until the machine reports the state", F,
                          fleetctl_load_start) {
  F f;
  f.wait_ready();
  f.file("hello.service", fleet::fleetctl::testing::kHello);
  auto load = f.run({"load", "hello"});
  CHECK(load.code == 0);
  CHECK(load.out == "Unit hello.service inactive\nUnit hello.service loaded" + on(f));
  CHECK(f.systemd_state("hello.service") == "inactive/dead");
  auto start = f.run({"start", "hello"});
  CHECK(start.code == 0);
  CHECK(start.out == "Unit hello.service launched" + on(f));
  CHECK(f.systemd_state("hello.service") == "active/running");
  auto units = f.run({"list-units", "--no-legend"});
  CHECK(units.out == "hello.service\t" + f.legend() + "\tactive\trunning\n");
  auto again = f.run({"start", "hello.service"});
  CHECK(again.code == 0);
  CHECK(again.out == "");
}

TEST_CASE_TEMPLATE_DEFINE("--no-block only triggers and the unit still gets there", F,
                          fleetctl_no_block) {
  using fleet::fleetctl::testing::systemd_reaches;
  F f;
  f.wait_ready();
  f.file("hello.service", fleet::fleetctl::testing::kHello);
  auto r = f.run({"start", "--no-block", "hello.service"});
  CHECK(r.code == 0);
  CHECK(r.out == "Unit hello.service inactive\nTriggered unit hello.service start\n");
  CHECK(systemd_reaches(f, "hello.service", "active/running"));
  auto stop = f.run({"stop", "--no-block", "hello.service"});
  CHECK(stop.out == "Triggered unit hello.service stop\n");
  CHECK(stop.err == "Successfully stopped units [hello.service].\n");
  CHECK(systemd_reaches(f, "hello.service", "inactive/dead"));
  auto destroy = f.run({"destroy", "--no-block", "hello.service"});
  CHECK(destroy.out == "Destroyed hello.service\n");
  CHECK(systemd_reaches(f, "hello.service", ""));
}

TEST_CASE_TEMPLATE_DEFINE("many new unit files are created already in the state asked for", F,
                          fleetctl_many_new) {
  using fleet::fleetctl::testing::systemd_reaches;
  F f;
  f.wait_ready();
  // Started: created launched at once (no "inactive" step to report), then triggered.
  std::vector<std::string> start = {"start", "--no-block"}, submit = {"submit"};
  std::string triggered, submitted;
  for (int i = 0; i < 12; ++i) {
    std::string name = "many" + std::to_string(i) + ".service";
    f.file(name, "[Service]\nExecStart=/bin/sleep " + std::to_string(1000 + i) + "\n");
    start.push_back(name);
    triggered += "Triggered unit " + name + " start\n";
    std::string other = "sub" + std::to_string(i) + ".service";
    f.file(other, "[Service]\nExecStart=/bin/sleep " + std::to_string(2000 + i) + "\n");
    submit.push_back(other);
    submitted += "Unit " + other + " inactive\n";
  }
  start.push_back("many0.service");  // named twice: created and started once
  auto r = f.run(start);
  CHECK(r.code == 0);
  CHECK(r.err == "");
  CHECK(r.out == triggered);
  for (int i = 0; i < 12; ++i)
    CHECK(systemd_reaches(f, "many" + std::to_string(i) + ".service", "active/running"));
  // Submitted: created inactive, each reported so.
  auto sub = f.run(submit);
  CHECK(sub.code == 0);
  CHECK(sub.out == submitted);
  CHECK(f.unit("sub3.service")->desired_state == "inactive");
}

TEST_CASE_TEMPLATE_DEFINE("stop, unload and destroy walk a unit back and skip unknown ones", F,
                          fleetctl_walk_back) {
  using fleet::fleetctl::testing::systemd_reaches;
  F f;
  f.wait_ready();
  f.file("hello.service", fleet::fleetctl::testing::kHello);
  REQUIRE(f.run({"start", "hello.service"}).code == 0);
  auto stop = f.run({"stop", "hello.service", "nope.service"});
  CHECK(stop.code == 0);
  CHECK(stop.out == "Unit hello.service loaded" + on(f));
  CHECK(stop.err ==
        "Unit nope.service not found in registry, skipping\n"
        "Successfully stopped units [hello.service].\n");
  CHECK(f.systemd_state("hello.service") == "inactive/dead");
  auto unload = f.run({"unload", "hello.service"});
  CHECK(unload.code == 0);
  CHECK(unload.out == "Unit hello.service inactive\n");
  CHECK(unload.err == "Successfully unloaded units [hello.service].\n");
  CHECK(systemd_reaches(f, "hello.service", ""));
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
  CHECK(gone.out == "Unit hello.service inactive\nUnit hello.service launched" + on(f));
  f.sys.files.clear();
  auto unknown = f.run({"load", "other.service"});
  CHECK(unknown.code == 1);
  CHECK(unknown.err ==
        "Error creating units: unable to find Unit(other.service) in Registry or on "
        "filesystem\n");
}

TEST_CASE_TEMPLATE_DEFINE("template instances come from the registry's template", F,
                          fleetctl_registry_template) {
  F f;
  f.wait_ready();
  f.file("example@.service", "[Service]\nExecStart=/bin/echo %i\n");
  f.file("units/web@.service", "[Service]\nExecStart=/bin/web %i\n");
  REQUIRE(f.run({"submit", "example@.service"}).code == 0);
  REQUIRE(f.run({"submit", "units/web@.service"}).code == 0);
  f.sys.files.clear();  // the instances must come from the registry's template
  auto r = f.run({"start", "example@1.service", "example@2.service", "example@3.service",
                  "example@4.service"});
  CHECK(r.code == 0);
  CHECK(r.err == "");
  std::string created;
  std::multiset<std::string> launched;
  for (int i = 1; i <= 4; ++i) {
    created += "Unit example@" + std::to_string(i) + ".service inactive\n";
    launched.insert("Unit example@" + std::to_string(i) + ".service launched" + on(f));
  }
  // Creation lines come in argument order; "launched" lines as each unit gets there (as in
  // fleet), which under load need not be name order.
  REQUIRE(r.out.substr(0, created.size()) == created);
  std::multiset<std::string> seen;
  std::istringstream rest(r.out.substr(created.size()));
  for (std::string line; std::getline(rest, line);) seen.insert(line + "\n");
  CHECK(seen == launched);
  for (int i = 1; i <= 4; ++i)
    CHECK(f.systemd_state("example@" + std::to_string(i) + ".service") == "active/running");
  auto listed = f.run({"list-units", "--no-legend", "--fields=unit"});
  CHECK(listed.out ==
        "example@1.service\nexample@2.service\nexample@3.service\nexample@4.service\n");

  // An instance named by a path: the template next to it in the registry.
  auto web = f.run({"load", "--no-block", "units/web@8080.service"});
  CHECK(web.code == 0);
  CHECK(web.out == "Unit web@8080.service inactive\nTriggered unit web@8080.service load\n");
  CHECK(f.unit("web@8080.service")->options == f.unit("web@.service")->options);

  auto tmpl = f.run({"start", "example@.service"});
  CHECK(tmpl.code == 1);
  CHECK(tmpl.err ==
        "Error starting units: googleapi: Error 400: cannot activate template "
        "\"example@.service\"\n");
  auto missing = f.run({"start", "db@1.service"});
  CHECK(missing.code == 1);
  CHECK(missing.err ==
        "Error creating units: failed getting Unit(db@1.service) from template: unable to find "
        "template Unit(db@.service) in Registry or on filesystem\n");
}

TEST_CASE_TEMPLATE_DEFINE("patterns name registered units and a unit named twice counts once", F,
                          fleetctl_patterns) {
  F f;
  f.wait_ready();
  f.file("api@.service", "[Service]\nExecStart=/bin/api %i\n");
  REQUIRE(f.run({"submit", "api@.service", "api@1", "api@2", "api@10"}).code == 0);
  f.sys.files.clear();
  // Matches the instances, not the template, which cannot be started.
  auto started = f.run({"start", "--no-block", "api@*"});
  CHECK(started.code == 0);
  CHECK(started.err == "");
  CHECK(started.out ==
        "Triggered unit api@1.service start\nTriggered unit api@10.service start\nTriggered unit "
        "api@2.service start\n");
  auto files = f.run({"list-unit-files", "--no-legend", "--fields=unit", "api@1*"});
  CHECK(files.code == 0);
  CHECK(files.out == "api@1.service\napi@10.service\n");
  CHECK(f.run({"list-unit-files", "--no-legend", "--fields=unit", "api@2"}).out ==
        "api@2.service\n");
  CHECK(f.run({"list-unit-files", "--no-legend", "--fields=unit", "db@*"}).out == "");
  CHECK(fleet::testing::wait_until(
      [&] {
        return f.run({"list-units", "--no-legend", "--fields=unit", "api@1*"}).out ==
               "api@1.service\napi@10.service\n";
      },
      std::chrono::seconds(10)));
  auto twice = f.run({"destroy", "api@2", "api@2.service"});
  CHECK(twice.code == 0);
  CHECK(twice.out == "Destroyed api@2.service\n");
  auto none = f.run({"destroy", "nope.service"});
  CHECK(none.code == 0);
  CHECK(none.err ==
        "Unit nope.service not found in registry, skipping\nUnits not found in registry\n");
  auto unmatched = f.run({"stop", "db@*"});
  CHECK(unmatched.code == 0);
  CHECK(unmatched.err ==
        "Unit db@*.service not found in registry, skipping\nUnits not found in registry\n");
  auto quiet = f.run({"-q", "stop", "api@1"});
  CHECK(quiet.code == 0);
  CHECK(quiet.out == "");
  CHECK(f.unit("api@1.service")->desired_state == "loaded");
  auto quiet_error = f.run({"start", "--quiet", "db@1"});
  CHECK(quiet_error.code == 1);
  CHECK(quiet_error.out == "");
  CHECK(quiet_error.err != "");
  auto all = f.run({"destroy", "api@*"});
  CHECK(all.code == 0);
  CHECK(all.out == "Destroyed api@.service\nDestroyed api@1.service\nDestroyed api@10.service\n");
}

TEST_CASE_TEMPLATE_DEFINE("a template itself cannot be started", F, fleetctl_template_start) {
  F f;
  f.file("example@.service", fleet::fleetctl::testing::kHello);
  auto r = f.run({"start", "example@.service"});
  CHECK(r.code == 1);
  CHECK(r.err ==
        "Error starting units: googleapi: Error 400: cannot activate template "
        "\"example@.service\"\n");
}

TEST_CASE_TEMPLATE_DEFINE("an instance that differs from its local template is kept with a warning",
                          F, fleetctl_instance_differs) {
  F f;
  f.file("example@.service", "[Service]\nExecStart=/bin/echo one\n");
  REQUIRE(f.run({"submit", "example@1.service"}).code == 0);
  f.file("example@.service", "[Service]\nExecStart=/bin/echo two\n");
  auto r = f.run({"submit", "example@1.service"});
  CHECK(r.code == 0);
  CHECK(r.err ==
        "WARNING: Unit example@1.service in registry differs from local template unit file "
        "example@1.service. Add --replace to override.\n");
  auto replaced = f.run({"submit", "--replace", "example@1.service"});
  CHECK(replaced.code == 0);
  CHECK(fleet::fleetctl::serialize_unit(f.unit("example@1.service")->options) ==
        "[Service]\nExecStart=/bin/echo two\n");
}

TEST_CASE_TEMPLATE_DEFINE("a unit no machine can take is reported with the engine's reason", F,
                          fleetctl_unplaceable) {
  using fleet::fleetctl::testing::contains;
  F f;
  f.wait_ready();
  f.file("mars.service",
         "[Service]\nExecStart=/bin/true\n[X-Fleet]\nMachineMetadata=region=mars\n");
  f.unplaceable("mars.service", "no machine has metadata region=mars");
  auto r = f.run({"start", "--block-attempts=3", "mars.service"});
  CHECK(r.code == 1);
  CHECK(r.out == "Unit mars.service inactive\n");
  auto u = f.unit("mars.service");
  REQUIRE(u);
  CHECK(contains(u->reason, "region=mars"));
  CHECK(r.err == "Error waiting for units: unit mars.service cannot be scheduled: " + u->reason +
                     "\nError waiting for unit states, exit status: 1\n");
  if constexpr (F::kFake) CHECK(f.sys.sleeps == 7);  // one full attempt
  auto reason = f.run({"list-unit-files", "--no-legend", "--fields=unit,reason"});
  CHECK(reason.out.rfind("mars.service\t", 0) == 0);
  CHECK(contains(reason.out, "region=mars"));
  auto json = nlohmann::json::parse(f.run({"list-unit-files", "--format=json"}).out);
  REQUIRE(json.size() == 1);
  CHECK(contains(json[0].value("reason", ""), "region=mars"));
}

TEST_CASE_TEMPLATE_DEFINE("global units are triggered, never waited on", F, fleetctl_global) {
  F f;
  f.wait_ready();
  f.file("g.service", "[Service]\nExecStart=/bin/true\n[X-Fleet]\nGlobal=true\n");
  auto r = f.run({"start", "g.service"});
  CHECK(r.code == 0);
  CHECK(r.out == "Unit g.service \nTriggered global unit g.service start\n");
  auto stop = f.run({"stop", "g.service"});
  CHECK(stop.out == "Triggered global unit g.service stop\n");
  CHECK(stop.err == "Successfully stopped units [].\n");
}

TEST_CASE_TEMPLATE_DEFINE("cat prints the canonical unit file", F, fleetctl_cat) {
  F f;
  f.file("hello.service",
         "# comment\n[Unit]\nDescription = Hello\n\n\n[Service]\nExecStart=/bin/sleep 100\n");
  REQUIRE(f.run({"submit", "hello.service"}).code == 0);
  auto r = f.run({"cat", "hello"});
  CHECK(r.code == 0);
  CHECK(r.out == fleet::fleetctl::testing::kHello);
  auto missing = f.run({"cat", "nope.service"});
  CHECK(missing.code == 1);
  CHECK(missing.err == "Unit nope.service not found\n");
  auto two = f.run({"cat", "a", "b"});
  CHECK(two.code == 1);
  CHECK(two.err == "One unit file must be provided\n");
}

TEST_CASE_TEMPLATE_DEFINE("status and journal are answered by the unit's machine", F,
                          fleetctl_status_journal) {
  using fleet::fleetctl::testing::contains;
  F f;
  f.wait_ready();
  f.file("hello.service", fleet::fleetctl::testing::kHello);
  REQUIRE(f.run({"start", "hello.service"}).code == 0);
  f.set_status("hello.service", {"● hello.service - Hello\n   Active: active (running)\n", 0});
  auto st = f.run({"status", "hello.service"});
  CHECK(st.code == 0);
  CHECK(st.out == "● hello.service - Hello\n   Active: active (running)\n");
  f.set_status("hello.service", {"dead\n", 3});
  CHECK(f.run({"status", "hello.service"}).code == 3);
  auto json = f.run({"status", "--format=json", "hello"});
  CHECK(json.code == 3);
  REQUIRE(json.out.size() > 1);
  CHECK(json.out.back() == '\n');
  CHECK(json.out.find('\n') == json.out.size() - 1);  // one object, one line
  auto object = nlohmann::json::parse(json.out);
  CHECK(object["name"] == "hello.service");
  CHECK(object["exit_code"] == 3);
  CHECK(object["status"] == "dead\n");
  REQUIRE(object["machine"].is_string());
  CHECK(f.legend().rfind(object["machine"].template get<std::string>().substr(0, 8), 0) == 0);
  CHECK(f.run({"status", "--format=yaml", "hello"}).code == 1);
  f.set_journal("hello.service", {"line one\n", "line two\n"});
  auto j = f.run({"journal", "--lines", "5", "hello.service"});
  CHECK(j.code == 0);
  CHECK(j.out == "line one\nline two\n");
  CHECK(f.journal_requested("hello.service", 5, false));
  auto followed = f.run({"journal", "-f", "--lines", "5", "hello.service"});
  CHECK(followed.code == 0);
  CHECK(followed.out == "line one\nline two\n");
  CHECK(f.journal_requested("hello.service", 5, true));

  auto missing = f.run({"status", "nope.service"});
  CHECK(missing.code == 1);
  CHECK(missing.err == "Unit nope.service does not exist.\n");
  f.fail_inspection(fleet::Error{fleet::Errc::unavailable, "machine unreachable"});
  auto down = f.run({"status", "hello.service"});
  CHECK(down.code == 1);
  CHECK(contains(down.err, "machine unreachable"));
  f.fail_inspection(std::nullopt);
  REQUIRE(f.run({"unload", "hello.service"}).code == 0);
  auto unloaded = f.run({"status", "hello.service"});
  CHECK(unloaded.code == 1);
  CHECK(unloaded.err == "Unit hello.service does not appear to be loaded.\n");
  auto jr = f.run({"journal", "hello.service"});
  CHECK(jr.code == 1);
  CHECK(jr.err == "Unit hello.service does not appear to be running.\n");
}

TEST_CASE_TEMPLATE_DEFINE("unknown commands and flags exit non-zero without touching the API", F,
                          fleetctl_unknown) {
  using fleet::fleetctl::testing::contains;
  F f;
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
  if constexpr (F::kFake) CHECK(f.api.calls().empty());
}

TEST_CASE_TEMPLATE_DEFINE("--format json reports one object per unit instead of fleet's lines", F,
                          fleetctl_json_results) {
  using fleet::fleetctl::testing::contains;
  F f;
  f.wait_ready();
  f.file("hello.service", fleet::fleetctl::testing::kHello);
  f.file("mars.service",
         "[Service]\nExecStart=/bin/true\n[X-Fleet]\nMachineMetadata=region=mars\n");
  f.unplaceable("mars.service", "no machine has metadata region=mars");
  // Each line is one object; the lines in argument order, each unit once.
  const auto objects = [](const std::string& out) {
    std::vector<nlohmann::json> v;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) v.push_back(nlohmann::json::parse(line));
    return v;
  };
  auto start = f.run({"start", "--format=json", "hello.service"});
  CHECK(start.code == 0);
  CHECK(start.err == "");
  auto started = objects(start.out);
  REQUIRE(started.size() == 1);
  CHECK(started[0]["name"] == "hello.service");
  CHECK(started[0]["state"] == "launched");
  CHECK(started[0]["error"].is_null());
  REQUIRE(started[0]["machine"].is_string());
  CHECK(f.legend().rfind(started[0]["machine"].template get<std::string>().substr(0, 8), 0) == 0);
  CHECK(f.systemd_state("hello.service") == "active/running");

  auto failed = f.run({"start", "--format", "json", "--block-attempts=3", "mars", "hello"});
  CHECK(failed.code == 1);
  auto results = objects(failed.out);
  REQUIRE(results.size() == 2);
  CHECK(results[0]["name"] == "mars.service");
  CHECK(results[0]["machine"].is_null());
  CHECK(results[0]["state"] == "inactive");
  CHECK(contains(results[0]["error"].template get<std::string>(), "cannot be scheduled"));
  CHECK(results[1]["name"] == "hello.service");
  CHECK(results[1]["state"] == "launched");
  CHECK(results[1]["error"].is_null());

  auto stop = f.run({"stop", "--format=json", "hello", "nope", "hello.service"});
  CHECK(stop.code == 0);
  auto stopped = objects(stop.out);
  REQUIRE(stopped.size() == 2);
  CHECK(stopped[0]["state"] == "loaded");
  CHECK(stopped[0]["error"].is_null());
  CHECK(stopped[1]["name"] == "nope.service");
  CHECK(stopped[1]["state"].is_null());
  CHECK(stopped[1]["error"] == "not found in registry");

  auto unload = f.run({"unload", "--format=json", "hello"});
  CHECK(unload.code == 0);
  CHECK(objects(unload.out).at(0)["state"] == "inactive");
  CHECK(objects(f.run({"load", "--format=json", "hello"}).out).at(0)["state"] == "loaded");

  auto destroy = f.run({"destroy", "--format=json", "hello", "mars", "nope"});
  CHECK(destroy.code == 0);
  auto destroyed = objects(destroy.out);
  REQUIRE(destroyed.size() == 3);
  CHECK(destroyed[0]["state"] == "destroyed");
  CHECK(destroyed[1]["state"] == "destroyed");
  CHECK(destroyed[2]["error"] == "not found in registry");

  auto quiet = f.run({"-q", "destroy", "--format=json", "hello"});
  CHECK(quiet.out == "");
  auto bad = f.run({"stop", "--format=yaml", "hello"});
  CHECK(bad.code == 1);
  CHECK(bad.err == "Invalid output format \"yaml\": use text or json\n");
}

#define FLEET_FLEETCTL_SCENARIOS(Backend)                         \
  TEST_CASE_TEMPLATE_INVOKE(fleetctl_no_units, Backend);          \
  TEST_CASE_TEMPLATE_INVOKE(fleetctl_submit, Backend);            \
  TEST_CASE_TEMPLATE_INVOKE(fleetctl_submit_replace, Backend);    \
  TEST_CASE_TEMPLATE_INVOKE(fleetctl_replace_states, Backend);    \
  TEST_CASE_TEMPLATE_INVOKE(fleetctl_creation_errors, Backend);   \
  TEST_CASE_TEMPLATE_INVOKE(fleetctl_fleet_files, Backend);       \
  TEST_CASE_TEMPLATE_INVOKE(fleetctl_start, Backend);             \
  TEST_CASE_TEMPLATE_INVOKE(fleetctl_load_start, Backend);        \
  TEST_CASE_TEMPLATE_INVOKE(fleetctl_no_block, Backend);          \
  TEST_CASE_TEMPLATE_INVOKE(fleetctl_many_new, Backend);          \
  TEST_CASE_TEMPLATE_INVOKE(fleetctl_walk_back, Backend);         \
  TEST_CASE_TEMPLATE_INVOKE(fleetctl_registry_template, Backend); \
  TEST_CASE_TEMPLATE_INVOKE(fleetctl_template_start, Backend);    \
  TEST_CASE_TEMPLATE_INVOKE(fleetctl_patterns, Backend);          \
  TEST_CASE_TEMPLATE_INVOKE(fleetctl_instance_differs, Backend);  \
  TEST_CASE_TEMPLATE_INVOKE(fleetctl_unplaceable, Backend);       \
  TEST_CASE_TEMPLATE_INVOKE(fleetctl_global, Backend);            \
  TEST_CASE_TEMPLATE_INVOKE(fleetctl_cat, Backend);               \
  TEST_CASE_TEMPLATE_INVOKE(fleetctl_status_journal, Backend);    \
  TEST_CASE_TEMPLATE_INVOKE(fleetctl_json_results, Backend);      \
  TEST_CASE_TEMPLATE_INVOKE(fleetctl_unknown, Backend)
