// Host maintenance outages (issue #13, Benchmarks) on three real-systemd hosts running fleetd at
// fleet's default agent TTL (30 s), one etcd. Not part of CTest.
//
//   build/bench/maintenance/maintenance_bench [units=12] [rounds=3]
//
// Must run as root (it boots real-systemd hosts and etcd, like the e2e tests).
//
// Every unit logs `start|stop <unit> <host> <time>` to a shared file: start from its ExecStart,
// stop from ExecStopPost (after its process is gone). An outage is the time between a unit's
// stop on the host it leaves and its start on the next one, so it is measured by the units
// themselves, not by polling.
//  - physical limit: `systemctl start` of the same kind of unit directly on a host, from the
//    command to the unit's start line (what any move costs at least).
//  - drain: `fleetctl drain` of the host holding the most units; the longest outage of any
//    unit that moved (target <= 1 s), and how long the command took.
//  - clean shutdown: `systemctl poweroff` inside the host holding a unit, from the command to
//    the unit's start line on another host (target <= 2 s; without a hand-over it is the TTL).
//    The host is booted again between rounds, untimed.
//  - rolling reboot: `fleetctl reboot --all`, until `reboot-status` exits 0: total time, each
//    host booted once more, never two down (the harness's record of every host's outages), and
//    the longest outage of any unit (target <= 1 s).

#include <algorithm>
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

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The first start line of `unit` after `t0` on a host other than `not_host`; nullopt if none.
std::optional<double> started_after(const std::string& log, const std::string& unit, double t0,
                                    const std::string& not_host) {
  for (const auto& e : read_log(log))
    if (e.what == "start" && e.unit == unit && e.host != not_host && e.at >= t0) return e.at;
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  const int units = argc > 1 ? std::atoi(argv[1]) : 12;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  ClusterOptions o;
  o.label = "maint-bench";
  o.agent_ttl_s = 30;  // fleet's default
  o.reboot_on_request = true;
  Cluster c(o);
  const std::string dir = c.work_dir();
  const std::string log = dir + "/bench-moves.log";

  // Physical limit: systemd starting such a unit itself.
  std::vector<double> direct;
  for (int i = 0; i < rounds; ++i) {
    std::string name = "direct" + std::to_string(i) + ".service";
    if (!c.host(0).install_unit(name, logging_unit(log))) return 1;
    double t0 = now_s();
    c.host(0).run({"/bin/systemctl", "start", "--no-block", name});
    std::optional<double> at;
    wait_until([&] { return (at = started_after(log, name, t0, "")).has_value(); }, 10s, 5ms);
    if (at) direct.push_back(*at - t0);
    c.host(0).run({"/bin/systemctl", "stop", name});
  }

  c.write_unit("m@.service", logging_unit(log));
  std::string line = "cd " + dir + " && fleetctl start";
  std::vector<std::string> names;
  for (int i = 1; i <= units; ++i) {
    names.push_back("m@" + std::to_string(i) + ".service");
    line += " " + names.back();
  }
  if (fleetctl_sh(c, 1, line).exit != 0) return 1;
  auto placed = [&](std::vector<int>& count) {
    count.assign(c.size(), 0);
    for (const auto& u : names) {
      auto hosts = active_on(c, u);
      if (hosts.size() != 1) return false;
      ++count[hosts[0]];
    }
    return true;
  };
  std::vector<int> count;
  if (!wait_until([&] { return placed(count); }, kSettle, 100ms)) return 1;

  // Drain the busiest host.
  std::size_t target =
      static_cast<std::size_t>(std::max_element(count.begin(), count.end()) - count.begin());
  std::vector<std::string> leaving;
  for (const auto& u : names)
    if (active_on(c, u) == std::vector<int>{static_cast<int>(target)}) leaving.push_back(u);
  auto t_drain = std::chrono::steady_clock::now();
  auto drained = c.fleetctl(1, {"drain", c.machine_id(target)});
  double drain_cmd = since(t_drain);
  wait_until([&] { return placed(count) && count[target] == 0; }, kSettle, 50ms);
  double longest = 0;
  bool overlap = false;
  auto events = read_log(log);
  for (const auto& u : leaving) {
    auto gap = move_gap(events, u, c.host(target).name());
    if (!gap) continue;
    overlap = overlap || *gap < 0;
    longest = std::max(longest, *gap);
  }
  c.fleetctl(1, {"uncordon", c.machine_id(target)});

  // Clean shutdown of the host running m@1, `rounds` times.
  std::vector<double> shutdown;
  for (int r = 0; r < rounds; ++r) {
    std::vector<int> on = active_on(c, "m@1.service");
    if (on.size() != 1) break;
    std::size_t victim = static_cast<std::size_t>(on[0]);
    std::string host = c.host(victim).name();
    double t0 = now_s();
    c.host(victim).run({"/bin/systemctl", "poweroff", "--no-block"});
    std::optional<double> at;
    wait_until([&] { return (at = started_after(log, "m@1.service", t0, host)).has_value(); },
               std::chrono::seconds(o.agent_ttl_s + 30), 20ms);
    if (at) shutdown.push_back(*at - t0);
    wait_until([&] { return !c.up(victim); }, 30s, 50ms);
    c.boot(victim);
  }

  // Rolling reboot of every host.
  std::vector<std::size_t> boots_before;
  for (std::size_t i = 0; i < c.size(); ++i) boots_before.push_back(c.boot_count(i));
  const auto outages_before = c.outages().size();
  const double t_roll = now_s();
  auto t_reboot = std::chrono::steady_clock::now();
  bool rolled = c.fleetctl(0, {"reboot", "--all", "--no-block"}).exit == 0 &&
                wait_until(
                    [&] {
                      for (std::size_t i = 0; i < c.size(); ++i)
                        if (c.up(i)) {
                          auto s = c.fleetctl(i, {"reboot-status"}, 10s);
                          if (s.exit == 0 || s.exit == 3)
                            return s.exit == 0 && s.out.find("Rollout: done") != std::string::npos;
                        }
                      return false;
                    },
                    300s, 100ms);
  double roll_total = since(t_reboot);
  // The engine sees a machine back before the harness counts the boot (its fleetd answering).
  auto rebooted_once = [&] {
    for (std::size_t i = 0; i < c.size(); ++i)
      if (c.boot_count(i) != boots_before[i] + 1) return false;
    return true;
  };
  bool each_once = wait_until(rebooted_once, 30s, 50ms);
  auto outages = c.outages();
  bool two_down = false;
  for (std::size_t i = outages_before; i + 1 < outages.size(); ++i)
    two_down = two_down || !outages[i].until || *outages[i].until > outages[i + 1].from;
  // From the first host's shutdown to the last host's return (its fleetd answering): the
  // rollout's own time, without the status polls (a poll may wait on a host going down).
  double hosts_span = -1;
  if (outages.size() > outages_before && outages.back().until)
    hosts_span =
        std::chrono::duration<double>(*outages.back().until - outages[outages_before].from).count();
  double roll_longest = 0;
  for (const auto& u : names) {
    double stopped = -1;  // the last stop not yet followed by a start
    for (const auto& e : read_log(log)) {
      if (e.unit != u || e.at < t_roll) continue;
      if (e.what == "stop") stopped = e.at;
      if (e.what == "start" && stopped >= 0) roll_longest = std::max(roll_longest, e.at - stopped);
      if (e.what == "start") stopped = -1;
    }
  }

  const double limit = median(direct);
  std::printf("maintenance bench: 3 hosts, %d units, agent TTL %d s, %d rounds\n", units,
              o.agent_ttl_s, rounds);
  std::printf("  physical limit: direct systemctl start -> unit started   median %.3f s\n", limit);
  std::printf("  drain of %zu units (fleetctl drain returned after %.2f s, rc %d)\n",
              leaving.size(), drain_cmd, drained.exit);
  std::printf(
      "    longest unit outage        %.3f s   target <= 1 s   %.1fx the limit   %s\n", longest,
      limit > 0 ? longest / limit : 0.0,
      overlap ? "OVERLAP: a new copy started before the old one stopped" : "stop-then-start");
  std::printf("  clean shutdown (systemctl poweroff), unit active elsewhere after\n");
  std::printf("    median %.3f s   max %.3f s   target <= 2 s   (%zu of %d rounds)\n",
              median(shutdown),
              shutdown.empty() ? -1.0 : *std::max_element(shutdown.begin(), shutdown.end()),
              shutdown.size(), rounds);
  std::printf("  rolling reboot of %zu hosts (fleetctl reboot --all): %s in %.1f s\n", c.size(),
              rolled ? "done" : "NOT DONE", roll_total);
  std::printf("    first shutdown -> last host back: %.1f s\n", hosts_span);
  for (std::size_t i = outages_before; i < outages.size(); ++i)
    if (outages[i].until)
      std::printf("      host %zu down %.2f s\n", outages[i].host,
                  std::chrono::duration<double>(*outages[i].until - outages[i].from).count());
  std::printf("    each host rebooted once: %s   never two down: %s\n", each_once ? "yes" : "NO",
              two_down ? "NO" : "yes");
  std::printf("    longest unit outage        %.3f s   target <= 1 s   %.1fx the limit\n",
              roll_longest, limit > 0 ? roll_longest / limit : 0.0);
  bool ok = longest <= 1 && !overlap && shutdown.size() == static_cast<std::size_t>(rounds) &&
            rolled && each_once && !two_down && roll_longest <= 1;
  return ok ? 0 : 2;
}
