// fleetctl cordon / uncordon / drain and the list-machines STATE column, against the fake API;
// the end-to-end proof on real hosts is tests/e2e/maintenance.

#include <doctest/doctest.h>

#include "fleetctl/duration.h"
#include "fleetctl/test_support.h"

using namespace fleet;
using namespace fleet::fleetctl;
using namespace fleet::fleetctl::testing;

namespace {

const std::string kM1 = "113f16a7e7c04e0ba8ee3f0ab0a7ab31";
const std::string kM2 = "22aa16a7e7c04e0ba8ee3f0ab0a7ab32";

struct Hosts : Fleetctl {
  Hosts() {
    api.add_machine({kM1, "172.17.8.101", {}, ""});
    api.add_machine({kM2, "172.17.8.102", {}, ""});
  }
  // A unit scheduled to `machine` and reported there.
  void running(const std::string& name, const std::string& machine, std::string reason = {},
               bool global = false) {
    api::Unit u;
    u.name = name;
    u.desired_state = "launched";
    u.current_state = "launched";
    u.machine_id = machine;
    u.reason = std::move(reason);
    if (global) u.options.push_back({"X-Fleet", "Global", "true"});
    api.put_unit(u);
    api.put_unit_state({name, "h", machine, "loaded", "active", "running"});
  }
  void moved(const std::string& name) {
    api.clear_unit_states(name);
    api.put_unit_state({name, "h", kM2, "loaded", "active", "running"});
  }
};

}  // namespace

TEST_CASE("cordon and uncordon name a machine by ID prefix or IP, and list-machines shows it") {
  Hosts h;
  auto r = h.run({"cordon", "113f"});
  CHECK(r.code == 0);
  CHECK(r.out == "Machine " + kM1 + " cordoned\n");
  CHECK(h.api.calls().back() == "cordon " + kM1);

  r = h.run({"list-machines"});
  CHECK(r.out ==
        "MACHINE\t\tIP\t\tMETADATA\tSTATE\n"
        "113f16a7...\t172.17.8.101\t-\t\tcordoned\n"
        "22aa16a7...\t172.17.8.102\t-\t\t-\n");
  r = h.run({"list-machines", "--fields=machine,ip"});  // explicit fields: as asked
  CHECK(r.out.find("STATE") == std::string::npos);
  r = h.run({"list-machines", "--format=json"});
  CHECK(r.out.find("\"maintenance\":\"cordoned\"") != std::string::npos);

  r = h.run({"uncordon", "172.17.8.101"});
  CHECK(r.code == 0);
  CHECK(r.out == "Machine " + kM1 + " uncordoned\n");
  CHECK(h.run({"list-machines"}).out.find("STATE") == std::string::npos);  // fleet's table again
}

TEST_CASE("a machine argument that names no machine, or several, is refused") {
  Hosts h;
  auto r = h.run({"cordon", "99"});
  CHECK(r.code == 1);
  CHECK(r.err == "Machine 99 not found\n");
  h.api.add_machine({"113f0000000000000000000000000000", "", {}, ""});
  r = h.run({"drain", "113f"});
  CHECK(r.code == 1);
  CHECK(r.err == "Machine 113f is ambiguous: matches 2 machines\n");
  CHECK(h.run({"cordon"}).err == "One machine required\n");
  CHECK(h.api.calls().empty());
}

TEST_CASE("drain waits until every unit that can leave has left, showing progress") {
  Hosts h;
  h.running("a.service", kM1);
  h.running("b.service", kM1);
  h.running("g.service", kM1, {}, /*global=*/true);
  h.running("pinned.service", kM1,
            "cannot leave draining Machine(" + kM1 +
                "): required Machine(113f16a7) cannot run it: Machine(" + kM1 + ") is cordoned");
  h.running("other.service", kM2);
  h.sys.on_sleep = [&](int n) { h.moved(n == 1 ? "a.service" : "b.service"); };
  auto r = h.run({"drain", "113f16a7"});
  CHECK(r.code == 0);
  CHECK(h.api.calls().front() == "drain " + kM1);
  CHECK(h.sys.sleeps == 2);
  CHECK(r.out == "Draining machine " + kM1 + ": 0 of 2 units moved, 2 left\n" +
                     "Draining machine " + kM1 + ": 1 of 2 units moved, 1 left\n" +
                     "Unit pinned.service stays: cannot leave draining Machine(" + kM1 +
                     "): required Machine(113f16a7) cannot run it: Machine(" + kM1 +
                     ") is cordoned\n" + "Machine " + kM1 +
                     " drained; 1 unit(s) cannot run elsewhere and stay (drain --force stops "
                     "them)\n");
}

TEST_CASE("drain --force asks to stop what cannot move, --no-block returns at once") {
  Hosts h;
  h.running("a.service", kM1);
  auto r = h.run({"drain", "--no-block", "--force", kM1});
  CHECK(r.code == 0);
  CHECK(r.out == "Machine " + kM1 + " draining\n");
  CHECK(h.api.calls().back() == "drain " + kM1 + " force");
  CHECK(h.sys.sleeps == 0);
}

// The reason an earlier drain gave a pinned unit is still there when --force begins: the unit
// is stopped all the same, so drain --force waits until its state is gone from the machine.
TEST_CASE("drain --force waits for a unit an earlier drain left to stop") {
  Hosts h;
  h.running("pinned.service", kM1,
            "cannot leave draining Machine(" + kM1 +
                "): required Machine(113f16a7) cannot run it: Machine(" + kM1 + ") is cordoned");
  h.sys.on_sleep = [&](int) { h.api.clear_unit_states("pinned.service"); };
  auto r = h.run({"drain", "--force", kM1});
  CHECK(r.code == 0);
  CHECK(h.sys.sleeps == 1);
  CHECK(r.out ==
        "Draining machine " + kM1 + ": 0 of 1 units moved, 1 left\nMachine " + kM1 + " drained\n");
}

TEST_CASE("drain gives up after --timeout and names what is left") {
  Hosts h;
  h.running("a.service", kM1);
  auto r = h.run({"drain", "--timeout=1s", kM1});
  CHECK(r.code == 1);
  CHECK(h.sys.slept == std::chrono::milliseconds(1000));
  CHECK(r.err ==
        "Timed out after 1s waiting for machine " + kM1 + " to drain; 1 unit(s) left: a.service\n");
  CHECK(h.run({"drain", "--timeout=soon", kM1}).err ==
        "Error: --timeout: invalid duration \"soon\"\n");
}

TEST_CASE("durations read and print as Go's") {
  using std::chrono::milliseconds;
  CHECK(parse_duration("90s").value() == milliseconds(90000));
  CHECK(parse_duration("1h30m").value() == milliseconds(5400000));
  CHECK(parse_duration("1.5h").value() == milliseconds(5400000));
  CHECK(parse_duration("250ms").value() == milliseconds(250));
  CHECK(parse_duration("0").value() == milliseconds(0));
  for (const char* bad : {"", "5", "-1s", "1x", "s", "1..2s"}) CHECK_FALSE(parse_duration(bad));
  CHECK(format_duration(milliseconds(300000)) == "5m0s");
  CHECK(format_duration(milliseconds(5400000)) == "1h30m0s");
  CHECK(format_duration(milliseconds(1500)) == "1.5s");
  CHECK(format_duration(milliseconds(250)) == "250ms");
}

TEST_CASE("reboot records a rollout and follows it until it ends") {
  Hosts h;
  int polls = 0;
  h.sys.on_sleep = [&](int) {
    auto& r = *h.api.reboots().rollout;
    ++polls;
    if (polls == 1) r.hosts[0].step = "draining";
    if (polls == 2) r.hosts[0].step = "done", r.hosts[1].step = "rebooting";
    if (polls == 3) r.hosts[1].step = "done", r.state = "done", r.message = "2 machine(s) rebooted";
  };
  auto r = h.run({"reboot", "--all"});
  CHECK(r.code == 0);
  CHECK(h.api.calls().back() == "reboot " + kM1 + " " + kM2);
  CHECK(r.out == "Reboot rollout of 2 machine(s) started\nMachine " + kM1 + " draining\nMachine " +
                     kM1 + " done\nMachine " + kM2 + " rebooting\nMachine " + kM2 +
                     " done\nReboot rollout done: 2 machine(s) rebooted\n");
  // reboot-status: 0 when nothing is pending or running.
  auto s = h.run({"reboot-status"});
  CHECK(s.code == 0);
  CHECK(s.out.starts_with("Available: 1\nMax: 1\n\nRollout: done"));
}

TEST_CASE("a second reboot follows the one in progress, a stopped rollout fails") {
  Hosts h;
  REQUIRE(h.run({"reboot", "--no-block", "22aa"}).code == 0);
  CHECK(h.run({"reboot-status"}).code == 3);
  h.sys.on_sleep = [&](int) {
    auto& r = *h.api.reboots().rollout;
    r.state = "stopped";
    r.message = "machine " + kM2 + " did not come back from its reboot within 600 s";
  };
  auto r = h.run({"reboot", kM1});
  CHECK(r.code == 1);
  CHECK(r.out.starts_with("A reboot rollout is in progress; following it\n"));
  CHECK(r.err == "Reboot rollout stopped: machine " + kM2 +
                     " did not come back from its reboot within 600 s\n");
  CHECK(h.run({"reboot"}).err == "Name the machines to reboot, or --all\n");
}

TEST_CASE("reboot-lock sets the max, takes and frees slots as locksmithctl did") {
  Hosts h;
  CHECK(h.run({"reboot-lock", "lock", "113f"}).out == "Machine " + kM1 + " holds a reboot slot\n");
  auto full = h.run({"reboot-lock", "lock", kM2});
  CHECK(full.code == 1);
  CHECK(full.err.find("no reboot slot is free") != std::string::npos);
  auto s = h.run({"reboot-status"});
  CHECK(s.code == 3);
  CHECK(s.out == "Available: 0\nMax: 1\n\nMACHINE ID\n" + kM1 + "\n");
  CHECK(h.run({"reboot-lock", "set-max", "2"}).code == 0);
  CHECK(h.run({"reboot-lock", "lock", kM2}).code == 0);
  CHECK(h.run({"reboot-lock", "unlock", kM1}).code == 0);
  CHECK(h.run({"reboot-lock", "unlock", kM2}).code == 0);
  CHECK(h.run({"reboot-status"}).code == 0);
  CHECK(h.run({"reboot-lock", "set-max", "x"}).code == 1);
  CHECK(h.run({"reboot-lock", "grab", kM1}).code == 1);
}
