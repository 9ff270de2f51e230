// A host cut off from etcd (its cut proxy drops every byte, as a broken link does) and healed:
// what happens to its units, judged by what systemd on each host says.

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/e2e/support/e2e.h"
#include "tests/harness/wait.h"

using namespace fleet::testing;
using namespace fleet::testing::e2e;
using namespace std::chrono_literals;

namespace {

// A monotonic timestamp property of `unit` on host h (microseconds of CLOCK_MONOTONIC).
long long monotonic(Cluster& c, int h, const std::string& unit, const std::string& property) {
  auto r = c.host(h).run({"/bin/systemctl", "show", "-p", property, "--value", unit});
  return r.exit == 0 ? std::atoll(r.out.c_str()) : -1;
}

bool active_elsewhere(Cluster& c, const std::string& unit, int not_here) {
  for (int h : active_on(c, unit))
    if (h != not_here) return true;
  return false;
}

}  // namespace

TEST_CASE("a partitioned host's units move after the TTL and its stale copies stop on heal") {
  ClusterOptions o;
  o.label = "partition";
  o.cuttable = true;
  Cluster c(o);
  auto dir = c.work_dir();
  c.write_unit("p@.service", lasting_unit());
  c.write_unit("c@.service", lasting_unit("Conflicts=c@*.service\n"));
  auto started = fleetctl_sh(
      c, 0, "cd " + dir + " && fleetctl start p@{1..6}.service c@1.service c@2.service");
  REQUIRE_MESSAGE(started.exit == 0, started.err);
  std::vector<std::string> units = {"c@1.service", "c@2.service"};
  for (int i = 1; i <= 6; ++i) units.push_back("p@" + std::to_string(i) + ".service");
  REQUIRE(wait_until(
      [&] {
        for (const auto& u : units)
          if (active_on(c, u).size() != 1) return false;
        return true;
      },
      kSettle, 200ms));

  int victim = -1;
  REQUIRE(wait_until(
      [&] {
        auto ls = metric_leaders(c);
        victim = ls.size() == 1 ? ls[0] : -1;
        return victim >= 0;
      },
      kSettle, 200ms));
  std::vector<std::string> stranded;
  for (const auto& u : units)
    if (active_on(c, u) == std::vector<int>{victim}) stranded.push_back(u);
  MESSAGE("host ", victim + 1, " runs ", stranded.size(), " units and is cut off");

  auto t_cut = std::chrono::steady_clock::now();
  c.cut(static_cast<std::size_t>(victim));
  REQUIRE(wait_until(
      [&] {
        for (const auto& u : stranded)
          if (!active_elsewhere(c, u, victim)) return false;
        return true;
      },
      kSettle, 200ms));
  MESSAGE("stranded units active elsewhere ", since(t_cut), " s after the cut (agent TTL ",
          o.agent_ttl_s, " s)");
  // Not before its lease could have expired: the agent renews every TTL/3, so the last renewal
  // may have come up to TTL/3 before the cut and the lease ends 2/3 TTL after it at the earliest.
  CHECK(since(t_cut) >= o.agent_ttl_s * 2.0 / 3);
  // Without StopOnDisconnect the cut-off host cannot know, and keeps its copies running.
  for (const auto& u : stranded) CHECK(c.host(victim).unit_state(u) == "active");

  auto t_heal = std::chrono::steady_clock::now();
  c.heal(static_cast<std::size_t>(victim));
  CHECK(wait_until(
      [&] {
        for (const auto& u : stranded)
          if (c.host(victim).unit_state(u) == "active") return false;
        return true;
      },
      kSettle, 100ms));
  if (since(t_heal) > 5.0) {
    auto log = c.host(victim).run({"journalctl", "-u", "fleetd", "--no-pager", "-n", "40"});
    MESSAGE("fleetd on the healed host:\n", log.out);
  }
  MESSAGE("stale copies stopped ", since(t_heal), " s after the heal");
  CHECK(since(t_heal) < 5.0);

  // Settled: every unit runs exactly once, the two conflicting units on different hosts, and the
  // registry agrees with systemd.
  REQUIRE(wait_until([&] { return all_running(c, units); }, kSettle, 200ms));
  for (const auto& u : units) {
    CAPTURE(u);
    CHECK(active_on(c, u).size() == 1);
  }
  CHECK(active_on(c, "c@1.service") != active_on(c, "c@2.service"));
  auto listed = list_units(c);
  for (const auto& u : units) CHECK(running_on(listed, u) == active_on(c, u).at(0));
}

TEST_CASE("StopOnDisconnect: a cut-off host stops such a unit before it starts elsewhere") {
  ClusterOptions o;
  o.label = "solo";
  o.cuttable = true;
  Cluster c(o);
  auto dir = c.work_dir();
  c.write_unit("solo.service", lasting_unit("StopOnDisconnect=true\n"));
  c.write_unit("buddy.service", lasting_unit("MachineOf=solo.service\n"));
  auto started = fleetctl_sh(c, 0, "cd " + dir + " && fleetctl start solo.service buddy.service");
  REQUIRE_MESSAGE(started.exit == 0, started.err);
  REQUIRE(wait_until(
      [&] {
        auto s = active_on(c, "solo.service");
        return s.size() == 1 && active_on(c, "buddy.service") == s;
      },
      kSettle, 200ms));
  const int victim = active_on(c, "solo.service").at(0);

  auto t_cut = std::chrono::steady_clock::now();
  c.cut(static_cast<std::size_t>(victim));
  REQUIRE(wait_until([&] { return c.host(victim).unit_state("solo.service") != "active"; }, kSettle,
                     50ms));
  // steady_clock is CLOCK_MONOTONIC, the clock of systemd's *TimestampMonotonic on every host.
  const long long seen_stopped = std::chrono::duration_cast<std::chrono::microseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count();
  MESSAGE("solo.service stopped on the cut-off host ", since(t_cut), " s after the cut (TTL ",
          o.agent_ttl_s, " s)");
  // Only the unit that asked for it: buddy.service keeps running there.
  CHECK(c.host(victim).unit_state("buddy.service") == "active");

  int next = -1;
  REQUIRE(wait_until(
      [&] {
        for (int h : active_on(c, "solo.service"))
          if (h != victim) next = h;
        return next >= 0;
      },
      kSettle, 100ms));
  MESSAGE("solo.service active elsewhere ", since(t_cut), " s after the cut");
  // Never twice: the old copy was seen gone before the new one became active.
  auto started_at = monotonic(c, next, "solo.service", "ActiveEnterTimestampMonotonic");
  CHECK(seen_stopped < started_at);
  MESSAGE("the new copy started ", (started_at - seen_stopped) / 1000,
          " ms after the old one was seen stopped");

  auto t_heal = std::chrono::steady_clock::now();
  c.heal(static_cast<std::size_t>(victim));
  // Back in touch, the host learns solo.service is no longer its own: it does not start it
  // again, and its stale buddy.service stops.
  REQUIRE(wait_until([&] { return c.host(victim).unit_state("buddy.service") != "active"; },
                     kSettle, 100ms));
  MESSAGE("stale buddy.service stopped ", since(t_heal), " s after the heal");
  REQUIRE(wait_until(
      [&] {
        return all_running(c, {"solo.service", "buddy.service"});
      },
      kSettle, 200ms));
  CHECK(active_on(c, "solo.service") == std::vector<int>{next});
  CHECK(active_on(c, "buddy.service") == std::vector<int>{next});
}

TEST_CASE("StopOnDisconnect: a short stall of the registry stops such a unit and starts it again") {
  ClusterOptions o;
  o.label = "stall";
  o.cuttable = true;
  o.agent_ttl_s = 10;
  Cluster c(o);
  auto dir = c.work_dir();
  c.write_unit("solo.service", lasting_unit("StopOnDisconnect=true\n"));
  auto started = fleetctl_sh(c, 0, "cd " + dir + " && fleetctl start solo.service");
  REQUIRE_MESSAGE(started.exit == 0, started.err);
  REQUIRE(wait_until([&] { return active_on(c, "solo.service").size() == 1; }, kSettle, 200ms));
  const int host = active_on(c, "solo.service").at(0);

  // Cut for longer than 3/4 of the TTL and heal at once, usually before the lease ends: the unit
  // stops, and runs again, once (on the same host unless the lease ran out meanwhile).
  c.cut(static_cast<std::size_t>(host));
  auto t_cut = std::chrono::steady_clock::now();
  REQUIRE(wait_until([&] { return c.host(host).unit_state("solo.service") != "active"; }, kSettle,
                     50ms));
  MESSAGE("stopped ", since(t_cut), " s after the cut (TTL ", o.agent_ttl_s, " s)");
  REQUIRE(since(t_cut) < o.agent_ttl_s - 1);
  c.heal(static_cast<std::size_t>(host));
  auto t_heal = std::chrono::steady_clock::now();
  REQUIRE(wait_until([&] { return active_on(c, "solo.service").size() == 1; }, kSettle, 100ms));
  MESSAGE("running again ", since(t_heal), " s after the heal, on host ",
          active_on(c, "solo.service").at(0) + 1, " (was ", host + 1, ")");
  REQUIRE(wait_until([&] { return all_running(c, {"solo.service"}); }, kSettle, 200ms));
  CHECK(active_on(c, "solo.service").size() == 1);
}
