// Cordon and drain on three real-systemd hosts, judged by what systemd on each host says and by
// the times the units themselves log when they start and after they stop.

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "tests/e2e/support/e2e.h"
#include "tests/harness/wait.h"

using namespace fleet::testing;
using namespace fleet::testing::e2e;
using namespace std::chrono_literals;

namespace {

std::string machines_table(Cluster& c) {
  return c.fleetctl(c.any_up(), {"list-machines", "--full"}).out;
}

}  // namespace

TEST_CASE(
    "drain moves units stop-then-start and leaves what cannot move, cordon holds across "
    "restarts") {
  ClusterOptions o;
  o.label = "maint";
  Cluster c(o);
  const std::string dir = c.work_dir();
  const std::string log = dir + "/moves.log";
  const std::size_t target = 0;  // the host to drain
  const std::string target_id = c.machine_id(target);
  const std::string target_host = c.host(target).name();

  c.write_unit("d@.service", logging_unit(log));
  c.write_unit("pin@.service", logging_unit(log, "MachineID=%i\n"));
  c.write_unit("global.service", lasting_unit("Global=true\n"));
  const std::string pinned = "pin@" + target_id + ".service";
  auto started = fleetctl_sh(
      c, 1, "cd " + dir + " && fleetctl start d@{1..6}.service " + pinned + " global.service");
  REQUIRE_MESSAGE(started.exit == 0, started.err);
  std::vector<std::string> movable;
  for (int i = 1; i <= 6; ++i) movable.push_back("d@" + std::to_string(i) + ".service");
  std::vector<std::string> on_target;
  REQUIRE(wait_until(
      [&] {
        on_target.clear();
        for (const auto& u : movable) {
          auto hosts = active_on(c, u);
          if (hosts.size() != 1) return false;
          if (hosts[0] == static_cast<int>(target)) on_target.push_back(u);
        }
        return active_on(c, pinned) == std::vector<int>{0} &&
               active_on(c, "global.service").size() == 3;
      },
      kSettle, 200ms));
  REQUIRE(!on_target.empty());

  // Drain by IP, from another host.
  auto drained = c.fleetctl(1, {"drain", c.ip(target)});
  REQUIRE_MESSAGE(drained.exit == 0, drained.out << drained.err);
  CHECK(contains(drained.out,
                 "Unit " + pinned + " stays: cannot leave draining Machine(" + target_id + ")"));
  CHECK(contains(drained.out, "Machine " + target_id + " drained; 1 unit(s)"));
  // systemd's truth right after drain returned: nothing movable on the target, each once.
  for (const auto& u : movable) {
    CAPTURE(u);
    auto hosts = active_on(c, u);
    bool elsewhere = hosts.size() == 1 && hosts[0] != static_cast<int>(target);
    if (!elsewhere)  // the last one may still be starting on its new host
      CHECK(wait_until([&] { return active_on(c, u).size() == 1 && active_on(c, u)[0] != 0; }, 10s,
                       50ms));
  }
  CHECK(active_on(c, pinned) == std::vector<int>{0});
  CHECK(active_on(c, "global.service").size() == 3);
  CHECK(contains(machines_table(c), "draining"));

  // Stop-then-start: each moved unit started elsewhere only after its old copy had stopped.
  double longest = 0;
  auto events = read_log(log);
  for (const auto& u : on_target) {
    CAPTURE(u);
    auto gap = move_gap(events, u, target_host);
    REQUIRE(gap.has_value());
    CHECK(*gap >= 0);
    longest = std::max(longest, *gap);
  }
  MESSAGE("drain of " << on_target.size() << " units: longest outage " << longest << " s");
  CHECK(longest < 5);  // the goal (1 s) is measured by bench/maintenance; this guards regressions

  // Forced: the pinned unit stops too; lifting the drain brings it back where it must run.
  auto forced = c.fleetctl(1, {"drain", "--force", target_id.substr(0, 12)});
  REQUIRE_MESSAGE(forced.exit == 0, forced.out << forced.err);
  CHECK(active_on(c, pinned).empty());
  auto reasons =
      c.fleetctl(1, {"list-unit-files", "--no-legend", "--full", "--fields", "unit,reason"}).out;
  CHECK(contains(reasons, pinned + "\trequired Machine(" + target_id.substr(0, 8)));
  REQUIRE(c.fleetctl(1, {"uncordon", target_id}).exit == 0);
  CHECK(wait_until([&] { return active_on(c, pinned) == std::vector<int>{0}; }, kSettle, 100ms));
  CHECK_FALSE(contains(machines_table(c), "draining"));

  // A cordon outlives a restart of its host's fleetd and of the engine leader's.
  const std::size_t held = 2;
  REQUIRE(c.fleetctl(0, {"cordon", c.machine_id(held)}).exit == 0);
  REQUIRE(c.host(held).run({"/bin/systemctl", "restart", "fleetd.service"}).exit == 0);
  int leader = registry_leader(c);
  REQUIRE(leader >= 0);
  REQUIRE(c.host(static_cast<std::size_t>(leader))
              .run({"/bin/systemctl", "restart", "fleetd.service"})
              .exit == 0);
  CHECK(wait_until(
      [&] { return contains(machines_table(c), c.machine_id(held) + "\t" + c.ip(held)); }, kSettle,
      200ms));
  c.write_unit("n@.service", lasting_unit());
  auto more = fleetctl_sh(c, 0, "cd " + dir + " && fleetctl start n@{1..4}.service");
  REQUIRE_MESSAGE(more.exit == 0, more.err);
  for (int i = 1; i <= 4; ++i) {
    std::string u = "n@" + std::to_string(i) + ".service";
    CAPTURE(u);
    CHECK(wait_until([&] { return active_on(c, u).size() == 1; }, kSettle, 100ms));
    CHECK(active_on(c, u) != std::vector<int>{static_cast<int>(held)});
  }
  CHECK(contains(machines_table(c), "cordoned"));
  REQUIRE(c.fleetctl(0, {"uncordon", c.ip(held)}).exit == 0);
  CHECK_FALSE(contains(machines_table(c), "STATE"));  // fleet's table again
}
