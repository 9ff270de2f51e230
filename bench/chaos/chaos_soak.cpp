// Chaos soak: three real-systemd hosts (each behind a cut proxy) on a three-member etcd, ~100
// units (templates, Conflicts groups, MachineMetadata, StopOnDisconnect), and a random fault
// every round: host reboot, fleetd restart, etcd member kill, engine leader's host reboot,
// partition of a host for 2-12 s. After each fault the cluster must settle; meanwhile and after,
// the truth is read from systemd on every host. Prints, next to their goals: units lost, units
// running twice after a settle, Conflicts broken after a settle, StopOnDisconnect units seen
// running twice at any time, longest settle, and false failovers (a machine missing from
// list-machines while its host was up and connected).
//
// Usage: chaos_soak [minutes=10] [seed=time]. Loopback and the test's own hosts only.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/cluster/cluster.h"
#include "tests/harness/wait.h"

using namespace fleet::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kSettleLimit = 60s;

std::string lasting(const std::string& x_fleet = {}) {
  std::string t = "[Service]\nExecStart=/bin/sh -c \"exec tail -f /dev/null\"\n";
  if (!x_fleet.empty()) t += "\n[X-Fleet]\n" + x_fleet;
  return t;
}

struct Workload {
  std::vector<std::string> units;                         // every launched unit
  std::vector<std::vector<std::string>> conflict_groups;  // mutually conflicting units
  std::set<std::string> stop_on_disconnect;
};

Workload workload() {
  Workload w;
  auto add = [&](const std::string& prefix, int n) {
    std::vector<std::string> names;
    for (int i = 1; i <= n; ++i) names.push_back(prefix + "@" + std::to_string(i) + ".service");
    w.units.insert(w.units.end(), names.begin(), names.end());
    return names;
  };
  add("web", 70);
  w.conflict_groups.push_back(add("ca", 3));
  w.conflict_groups.push_back(add("cb", 2));
  add("meta", 15);
  for (auto& n : add("solo", 10)) w.stop_on_disconnect.insert(n);
  return w;
}

// Active services per host, from one systemctl call each (hosts that are down: none).
std::vector<std::set<std::string>> truth(Cluster& c) {
  std::vector<std::set<std::string>> out(c.size());
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (!c.up(i)) continue;
    auto r = c.host(i).run({"/bin/systemctl", "list-units", "--type=service", "--state=active",
                            "--no-legend", "--plain", "--no-pager"},
                           10s);
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string name;
      if (ls >> name) out[i].insert(name);
    }
  }
  return out;
}

struct Check {
  int lost = 0, doubled = 0, conflicts = 0;
  bool ok() const { return lost == 0 && doubled == 0 && conflicts == 0; }
};

Check check(const Workload& w, const std::vector<std::set<std::string>>& t) {
  Check r;
  for (const auto& u : w.units) {
    int n = 0;
    for (const auto& host : t) n += static_cast<int>(host.count(u));
    if (n == 0) ++r.lost;
    if (n > 1) ++r.doubled;
  }
  for (const auto& g : w.conflict_groups) {
    for (const auto& host : t) {
      int n = 0;
      for (const auto& u : g) n += static_cast<int>(host.count(u));
      if (n > 1) ++r.conflicts;
    }
  }
  return r;
}

int solo_overlaps(const Workload& w, const std::vector<std::set<std::string>>& t) {
  int n = 0;
  for (const auto& u : w.stop_on_disconnect) {
    int on = 0;
    for (const auto& host : t) on += static_cast<int>(host.count(u));
    if (on > 1) ++n;
  }
  return n;
}

std::size_t listed_machines(Cluster& c, std::size_t via) {
  auto r = c.fleetctl(via, {"list-machines", "--no-legend", "--full"}, 10s);
  if (r.exit != 0) return 0;
  return static_cast<std::size_t>(std::count(r.out.begin(), r.out.end(), '\n'));
}

int engine_leader(Cluster& c) {
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (!c.up(i)) continue;
    auto r = http_request(c.api_url(i), "GET", "/metrics");
    if (r.status == 200 && r.body.find("\nfleet_engine_leader 1") != std::string::npos)
      return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  const double minutes = argc > 1 ? std::atof(argv[1]) : 10.0;
  const unsigned seed =
      argc > 2 ? static_cast<unsigned>(std::atol(argv[2]))
               : static_cast<unsigned>(Clock::now().time_since_epoch().count() & 0x7fffffff);
  std::mt19937 rng(seed);
  std::printf("chaos soak: %.1f min, seed %u\n", minutes, seed);

  ClusterOptions o;
  o.label = "chaos";
  o.cuttable = true;
  o.etcd_members = 3;
  o.metadata = {{{"role", "a"}}, {{"role", "a"}}, {{"role", "b"}}};
  Cluster c(o);
  Workload w = workload();
  c.write_unit("web@.service", lasting());
  c.write_unit("ca@.service", lasting("Conflicts=ca@*.service\n"));
  c.write_unit("cb@.service", lasting("Conflicts=cb@*.service\n"));
  c.write_unit("meta@.service", lasting("MachineMetadata=role=a\n"));
  c.write_unit("solo@.service", lasting("StopOnDisconnect=true\n"));
  std::string cmd = "cd " + c.work_dir() + " && " + FLEET_FLEETCTL_PATH + " start --no-block";
  for (const auto& u : w.units) cmd += " " + u;
  auto started = c.host(0).run({"/bin/bash", "-c", cmd}, 120s);
  if (started.exit != 0) {
    std::fprintf(stderr, "start failed: %s\n", started.err.c_str());
    return 1;
  }
  if (!wait_until([&] { return check(w, truth(c)).ok(); }, kSettleLimit, 500ms)) {
    std::fprintf(stderr, "the workload never settled\n");
    return 1;
  }

  int rounds = 0, lost_after_settle = 0, doubled_after_settle = 0, conflicts_after_settle = 0;
  int solo_double_samples = 0, false_failovers = 0, unsettled = 0;
  double longest_settle = 0;
  std::map<std::string, int> faults;
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double, std::ratio<60>>(minutes));
  while (Clock::now() < end) {
    ++rounds;
    std::size_t h = rng() % c.size();
    int kind = static_cast<int>(rng() % 5);
    std::string what;
    switch (kind) {
      case 0:
        what = "host reboot";
        c.halt(h);
        c.boot(h);
        break;
      case 1:
        what = "fleetd restart";
        c.host(h).run({"/bin/systemctl", "restart", "fleetd"}, 30s);
        break;
      case 2: {
        what = "etcd member kill";
        std::size_t m = rng() % c.etcd().size();
        c.etcd().kill(m);
        std::this_thread::sleep_for(
            std::chrono::milliseconds(2000 + rng() % 4000));  // down a while
        c.etcd().restart(m);
        break;
      }
      case 3: {
        what = "engine leader reboot";
        int l = engine_leader(c);
        h = l >= 0 ? static_cast<std::size_t>(l) : h;
        c.halt(h);
        c.boot(h);
        break;
      }
      default: {
        what = "partition";
        c.cut(h);
        auto until = Clock::now() + std::chrono::milliseconds(2000 + rng() % 10000);
        // While cut off: a StopOnDisconnect unit must never be seen on two hosts.
        while (Clock::now() < until) solo_double_samples += solo_overlaps(w, truth(c));
        c.heal(h);
        break;
      }
    }
    ++faults[what];
    auto t0 = Clock::now();
    bool settled = wait_until(
        [&] {
          auto t = truth(c);
          solo_double_samples += solo_overlaps(w, t);
          return check(w, t).ok();
        },
        kSettleLimit, 250ms);
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    Check after = check(w, truth(c));
    if (!settled) {
      ++unsettled;
      lost_after_settle += after.lost;
      doubled_after_settle += after.doubled;
      conflicts_after_settle += after.conflicts;
    }
    longest_settle = std::max(longest_settle, secs);
    // Every host is up and connected now: each must be listed.
    std::size_t listed = listed_machines(c, (h + 1) % c.size());
    if (settled && listed != c.size()) {
      // It may still be re-announcing after a reboot; give it one TTL before calling it false.
      if (!wait_until([&] { return listed_machines(c, (h + 1) % c.size()) == c.size(); },
                      std::chrono::seconds(o.agent_ttl_s), 500ms))
        ++false_failovers;
    }
    std::printf(
        "round %3d %-22s host %zu: settled %s in %5.1f s (lost %d, double %d, conflicts %d)\n",
        rounds, what.c_str(), h + 1, settled ? "yes" : "NO", secs, after.lost, after.doubled,
        after.conflicts);
    std::fflush(stdout);
  }

  std::printf("\nfaults:");
  for (const auto& [k, n] : faults) std::printf(" %s %d;", k.c_str(), n);
  std::printf("\n%-52s %8s %8s\n", "figure", "value", "goal");
  std::printf("%-52s %8d %8d\n", "rounds", rounds, rounds);
  std::printf("%-52s %8d %8d\n", "rounds that did not settle within 60 s", unsettled, 0);
  std::printf("%-52s %8d %8d\n", "units lost (not running) after a settle", lost_after_settle, 0);
  std::printf("%-52s %8d %8d\n", "units running twice after a settle", doubled_after_settle, 0);
  std::printf("%-52s %8d %8d\n", "Conflicts broken after a settle", conflicts_after_settle, 0);
  std::printf("%-52s %8d %8d\n", "StopOnDisconnect units seen twice (any time)",
              solo_double_samples, 0);
  std::printf("%-52s %8d %8d\n", "false failovers", false_failovers, 0);
  std::printf("%-52s %8.1f %8s\n", "longest settle after a fault ended (s)", longest_settle,
              "TTL+few");
  return unsettled == 0 && solo_double_samples == 0 && false_failovers == 0 ? 0 : 1;
}
