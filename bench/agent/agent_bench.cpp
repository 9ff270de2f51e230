// The agent on one real-systemd host (issue #4, Performance): N units assigned at once reaching
// active/running through fleet, next to `systemctl start` of N equivalent units in the same host
// in the same run (the physical limit), and fleetd's idle CPU with M units running. Not CTest.
//
//   build/bench/agent/agent_bench [units=200] [idle_units=500] [idle_seconds=30] [rounds=1]
//
// Must run as root (it boots a real-systemd host and etcd, like the e2e tests).
//
// What the timers cover:
//  - direct: `systemctl start --no-block <N units>` (files already installed and daemon-reloaded)
//    until the host's systemd lists all N as running.
//  - fleet:  the N units are already submitted (untimed, like the installed files above);
//    `fleetctl start --no-block <N names>` (sets their target state through fleetd's API), then
//    the engine schedules them, the agent writes and links the files, reloads systemd and starts
//    them, until the host's systemd lists all N as running. Both are observed by polling
//    `systemctl list-units` inside the host every 20 ms, never through fleetctl.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "bench/agent/bench_support.h"
#include "tests/harness/cluster/cluster.h"

using namespace fleet::bench;
using fleet::testing::Cluster;
using fleet::testing::ClusterOptions;
using namespace std::chrono_literals;

namespace {

int arg(int argc, char** argv, int i, int def) { return argc > i ? std::atoi(argv[i]) : def; }

std::vector<std::string> names(const std::string& prefix, int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(bench_unit(prefix, i));
  return out;
}

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

void must(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}

// Submits units prefix-from..to through fleetctl (untimed preparation).
void submit(Cluster& c, const std::string& prefix, int from, int to) {
  std::vector<std::string> paths;
  for (const auto& n : names(prefix, from, to))
    paths.push_back(c.write_unit(n, bench_unit_text(n)));
  auto r = c.fleetctl(0, concat({"submit"}, paths), 600s);
  must(r.exit == 0, "fleetctl submit: " + r.err);
}

struct Round {
  double direct = -1, fleet = -1, fleetctl = -1, fleetd_cpu = -1;
};

Round run_round(Cluster& c, int n) {
  Host& h = c.host(0);
  Round round;
  auto direct = names("direct", 0, n);
  auto t0 = Clock::now();
  auto r = h.run(concat({"/usr/bin/systemctl", "start", "--no-block"}, direct), 300s);
  must(r.exit == 0, "systemctl start: " + r.err);
  round.direct = time_until(
      t0, [&] { return count_running(h, "direct-*") == n; }, 300s);
  must(round.direct >= 0, "direct units did not all start");
  must(h.run(concat({"/usr/bin/systemctl", "stop", "--no-block"}, direct), 300s).exit == 0,
       "systemctl stop");
  must(time_until(
           Clock::now(), [&] { return count_listed(h, "direct-*") == 0; }, 300s) >= 0,
       "direct units did not stop");

  submit(c, "viafleet", 0, n);
  pid_t fleetd = fleetd_pid(h);
  double cpu0 = process_cpu_seconds(fleetd);
  t0 = Clock::now();
  r = c.fleetctl(0, concat({"start", "--no-block"}, names("viafleet", 0, n)), 300s);
  must(r.exit == 0, "fleetctl start: " + r.err);
  round.fleetctl = seconds_since(t0);
  round.fleet = time_until(
      t0, [&] { return count_running(h, "viafleet-*") == n; }, 120s);
  if (round.fleet < 0) {
    diagnose(h, "viafleet-*");
    if (std::getenv("BENCH_KEEP")) {  // leave the host up for a look (nsenter -t <pid> -a)
      std::fprintf(stderr, "keeping host pid %d for 600 s\n", static_cast<int>(h.pid()));
      std::this_thread::sleep_for(600s);
    }
  }
  must(round.fleet >= 0, "units did not all start through fleet");
  round.fleetd_cpu = process_cpu_seconds(fleetd) - cpu0;

  r = c.fleetctl(0, concat({"destroy", "--no-block"}, names("viafleet", 0, n)), 300s);
  must(r.exit == 0, "fleetctl destroy: " + r.err);
  must(time_until(
           Clock::now(), [&] { return count_listed(h, "viafleet-*") == 0; }, 300s) >= 0,
       "units did not go away after destroy");
  return round;
}

}  // namespace

int main(int argc, char** argv) try {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines show up as they happen
  const int n = arg(argc, argv, 1, 200);
  const int idle_units = arg(argc, argv, 2, 500);
  const int idle_seconds = arg(argc, argv, 3, 30);
  const int rounds = arg(argc, argv, 4, 1);
  std::printf("agent_bench: %d units, idle with %d units over %d s, %d round(s); load %s\n", n,
              idle_units, idle_seconds, rounds, load_average().c_str());

  ClusterOptions o;
  o.hosts = 1;
  o.label = "agentbench";
  Cluster c(o);
  Host& h = c.host(0);
  for (const auto& u : names("direct", 0, n))
    must(bool(h.write_file("/run/systemd/system/" + u, bench_unit_text(u))), "write " + u);
  must(h.run({"/usr/bin/systemctl", "daemon-reload"}, 60s).exit == 0, "daemon-reload");

  std::vector<Row> rows;
  std::vector<double> ratios;
  for (int i = 0; i < rounds; ++i) {
    Round rd = run_round(c, n);
    double ratio = rd.fleet / rd.direct;
    ratios.push_back(ratio);
    std::printf(
        "round %d: direct %.2f s, fleet %.2f s (fleetctl %.2f s, fleetd CPU %.2f s), "
        "ratio %.2f, load %s\n",
        i + 1, rd.direct, rd.fleet, rd.fleetctl, rd.fleetd_cpu, ratio, load_average().c_str());
    std::string tag = rounds > 1 ? " (round " + std::to_string(i + 1) + ")" : "";
    rows.push_back({"`systemctl start` of " + std::to_string(n) + " units -> all running" + tag,
                    fmt("%.2f s", rd.direct), "-", "-"});
    rows.push_back({std::to_string(n) + " units started through fleet -> all running" + tag,
                    fmt("%.2f s", rd.fleet) + fmt(" (fleetctl %.2f s)", rd.fleetctl), "-", "-"});
    // With several rounds the verdict is the median's (below): one round's ratio moves by
    // +-0.15 with the direct start it is divided by.
    rows.push_back({"fleet / direct" + tag, fmt("%.2fx", ratio), rounds > 1 ? "-" : "<= 1.3x",
                    rounds > 1 ? "-" : verdict(ratio <= 1.3)});
    rows.push_back(
        {"fleetd CPU while starting them" + tag, fmt("%.2f s", rd.fleetd_cpu), "-", "-"});
  }

  if (rounds > 1) {
    const double mid = median(ratios);
    rows.push_back({"fleet / direct, median of " + std::to_string(rounds) + " rounds",
                    fmt("%.2fx", mid), "<= 1.3x", verdict(mid <= 1.3)});
  }

  // Idle: idle_units running through fleet, nothing changing.
  submit(c, "viafleet", 0, idle_units);
  auto r = c.fleetctl(0, concat({"start", "--no-block"}, names("viafleet", 0, idle_units)), 600s);
  must(r.exit == 0, "fleetctl start: " + r.err);
  must(time_until(
           Clock::now(), [&] { return count_running(h, "viafleet-*") == idle_units; }, 600s,
           200ms) >= 0,
       "idle units did not all start");
  std::this_thread::sleep_for(5s);  // let the last state writes settle before sampling
  pid_t fleetd = fleetd_pid(h);
  double cpu0 = process_cpu_seconds(fleetd), pid1_cpu0 = process_cpu_seconds(h.pid());
  auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(idle_seconds));
  double wall = seconds_since(t0);
  double pct = 100.0 * (process_cpu_seconds(fleetd) - cpu0) / wall;
  double pid1_pct = 100.0 * (process_cpu_seconds(h.pid()) - pid1_cpu0) / wall;
  rows.push_back(
      {"fleetd idle CPU, " + std::to_string(idle_units) + " units running, " + fmt("%.0f s", wall),
       fmt("%.2f %% of a core", pct), "< 1 %", verdict(pct < 1.0)});
  rows.push_back({"the host's systemd (PID 1) over the same window",
                  fmt("%.2f %% of a core", pid1_pct), "-", "-"});
  print_table(rows);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "agent_bench: %s\n", e.what());
  return 1;
}
