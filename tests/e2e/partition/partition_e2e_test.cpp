// A host cut off from etcd (its cut proxy drops every byte, as a broken link does) and healed:
// what happens to its units, judged by what systemd on each host says.

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "tests/e2e/support/e2e.h"
#include "tests/harness/wait.h"

using namespace fleet::testing;
using namespace fleet::testing::e2e;
using namespace std::chrono_literals;

namespace {

// Hosts (up) whose systemd says `unit` is active: the ground truth, whatever the registry says.
std::vector<int> active_on(Cluster& c, const std::string& unit) {
  std::vector<int> out;
  for (std::size_t i = 0; i < c.size(); ++i)
    if (c.up(i) && c.host(i).unit_state(unit) == "active") out.push_back(static_cast<int>(i));
  return out;
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
  CHECK(since(t_cut) >= o.agent_ttl_s - 1);  // not before its lease could have expired
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
