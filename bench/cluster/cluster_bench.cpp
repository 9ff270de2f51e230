// The whole cluster (issue #7, Benchmarks): three real-systemd hosts running fleetd, one etcd,
// agent TTL 10 s. In one run: N units started through fleet next to direct `systemctl start` of
// N units spread over the same hosts; N units destroyed next to direct `systemctl stop`; fleetd's
// idle CPU on every host with N units running; failover time over K halts. Not part of CTest.
//
//   build/bench/cluster/cluster_bench [units=500] [halts=5] [idle_seconds=30] [rounds=3]
//
// The starts and stops run `rounds` times, one after the other; each round's ratios are against
// that round's direct start and stop, and the table gives their median next to every round's
// (a single round's ratio moves by +-0.15 with the direct start it is divided by).
//
// Must run as root (it boots real-systemd hosts and etcd, like the e2e tests).
//
// What the timers cover (all observed by polling `systemctl list-units` inside every host, one
// host after the other, never through fleetctl):
//  - direct start: `systemctl start --no-block` of each host's share (round robin) issued to the
//    three hosts at once (one thread each); files installed and daemon-reloaded beforehand.
//    Ends when the hosts' systemd list all N as running.
//  - fleet start: the N units are already submitted (untimed); `fleetctl start --no-block <N
//    names>` on host 1, then the engine schedules and the agents write, link, reload and start.
//    Ends when the hosts' systemd list all N as running.
//  - fleet start of new files: as users do it, `fleetctl start --no-block <N paths>` of unit
//    files not submitted before (fleetctl creates them first). Ends as the previous one.
//  - direct stop / fleet destroy: `systemctl stop --no-block` on each host at once, resp.
//    `fleetctl destroy --no-block <N names>`; ends when no host's systemd lists any of them
//    (stopped and garbage-collected; for fleet also unlinked and reloaded away).
//  - failover: from the kill -9 of the PID 1 of the host running the unit (the seed's `vagrant
//    halt`) until another host's systemd reports it active; the halted host is booted again
//    (and rejoins) between rounds, untimed.

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "bench/agent/bench_support.h"
#include "tests/harness/cluster/cluster.h"
#include "tests/harness/wait.h"

using namespace fleet::bench;
using fleet::testing::Cluster;
using fleet::testing::ClusterOptions;
using namespace std::chrono_literals;

namespace {

constexpr int kTtl = 10;

int arg(int argc, char** argv, int i, int def) { return argc > i ? std::atoi(argv[i]) : def; }

std::vector<std::string> names(const std::string& prefix, int from, int to, int step = 1) {
  std::vector<std::string> out;
  for (int i = from; i < to; i += step) out.push_back(bench_unit(prefix, i));
  return out;
}

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

void must(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}

// Sum over the live hosts; -1 if a host could not be asked.
int total(Cluster& c, int (*count)(const Host&, const std::string&), const std::string& pattern) {
  int sum = 0;
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (!c.up(i)) continue;
    int k = count(c.host(i), pattern);
    if (k < 0) return -1;
    sum += k;
  }
  return sum;
}

// Runs `argv_for(i)` in every host at once; true if all succeeded.
template <class F>
bool on_every_host(Cluster& c, F argv_for) {
  std::vector<std::thread> threads;
  std::vector<int> exits(c.size(), 0);
  for (std::size_t i = 0; i < c.size(); ++i)
    threads.emplace_back([&, i] { exits[i] = c.host(i).run(argv_for(i), 300s).exit; });
  for (auto& t : threads) t.join();
  return std::all_of(exits.begin(), exits.end(), [](int e) { return e == 0; });
}

// CPU seconds used during one phase, by the parts that take part in it: where a miss comes from.
struct CpuMeter {
  Cluster& c;
  double etcd = 0, machine = 0;
  double puts = 0, deletes = 0, txns = 0;  // etcd's own counters: what fleet asked it to write
  std::vector<double> fleetd, hosts;

  static double machine_busy_seconds() {
    std::ifstream f("/proc/stat");
    std::string cpu;
    long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
    f >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq;
    return static_cast<double>(user + nice + system + irq + softirq) /
           static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  static double cgroup_seconds(const std::string& dir) {
    std::ifstream f(dir + "/cpu.stat");
    std::string key;
    long long usec = 0;
    while (f >> key >> usec)
      if (key == "usage_usec") return static_cast<double>(usec) / 1e6;
    return 0;
  }
  static double metric(const std::string& text, const std::string& name) {
    auto at = text.find("\n" + name + " ");
    return at == std::string::npos ? 0 : std::atof(text.c_str() + at + name.size() + 2);
  }
  explicit CpuMeter(Cluster& cluster) : c(cluster) {
    etcd = process_cpu_seconds(c.etcd().member(0).pid());
    auto m = fleet::testing::http_request(c.etcd().endpoint(0), "GET", "/metrics", "");
    puts = metric(m.body, "etcd_debugging_mvcc_put_total");
    deletes = metric(m.body, "etcd_debugging_mvcc_delete_total");
    txns = metric(m.body, "etcd_debugging_mvcc_txn_total");
    machine = machine_busy_seconds();
    for (std::size_t i = 0; i < c.size(); ++i) {
      fleetd.push_back(process_cpu_seconds(fleetd_pid(c.host(i))));
      hosts.push_back(cgroup_seconds(c.host(i).cgroup_dir()));
    }
  }
  // "etcd 1.2 s, fleetd 0.3/0.2/0.2 s, hosts (systemd, units, fleetd) 3.1/2.9/3.0 s, machine 9.8 s"
  std::string since() const {
    CpuMeter now(c);
    std::string fl, ho;
    for (std::size_t i = 0; i < fleetd.size(); ++i) {
      fl += (i ? "/" : "") + fmt("%.2f", now.fleetd[i] - fleetd[i]);
      ho += (i ? "/" : "") + fmt("%.2f", now.hosts[i] - hosts[i]);
    }
    return "etcd " + fmt("%.2f s", now.etcd - etcd) + " (" + fmt("%.0f puts", now.puts - puts) +
           ", " + fmt("%.0f deletes", now.deletes - deletes) + ", " +
           fmt("%.0f txns", now.txns - txns) + "), fleetd " + fl + " s, hosts " + ho +
           " s, whole machine " + fmt("%.2f s", now.machine - machine);
  }
};

// Host index whose systemd runs `unit`, -1 if none.
int running_on(Cluster& c, const std::string& unit) {
  for (std::size_t i = 0; i < c.size(); ++i)
    if (c.up(i) && c.host(i).unit_state(unit) == "active") return static_cast<int>(i);
  return -1;
}

// Where a phase's CPU went (FLEET_BENCH_PERF): with "1", `perf record -a` for the phase, then
// perf's samples per command (systemd, journald, fleetd, etcd, units, and whatever else shares
// the machine): the profile that CpuMeter's totals cannot split. With "fleetd" or "systemd",
// call graphs of the fleetds, resp. of the hosts' systemd (PID 1 of each), by symbol with their
// callers.
class PerfProfile {
 public:
  PerfProfile(std::string phase, Cluster& c) : phase_(std::move(phase)) {
    const char* mode = std::getenv("FLEET_BENCH_PERF");
    if (!mode) return;
    const std::string m = mode;
    by_command_ = m != "fleetd" && m != "systemd";
    file_ = "/tmp/cluster_bench-" + phase_ + ".perf";
    std::vector<std::string> args = {"perf", "record", "-q", "-F", "999", "-o", file_};
    if (by_command_) {
      args.push_back("-a");
    } else {
      std::string pids;
      for (std::size_t i = 0; i < c.size(); ++i)
        pids += (pids.empty() ? "" : ",") +
                std::to_string(m == "fleetd" ? fleetd_pid(c.host(i)) : c.host(i).pid());
      args.insert(args.end(), {"--call-graph", "dwarf,32768", "-p", pids});
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv("/usr/bin/perf", argv.data());
      ::_exit(127);
    }
  }
  PerfProfile(const PerfProfile&) = delete;
  PerfProfile& operator=(const PerfProfile&) = delete;
  ~PerfProfile() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGINT);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    std::printf("%s CPU profile (%s):\n", phase_.c_str(), file_.c_str());
    std::string cmd =
        by_command_
            ? "perf report -q -i " + file_ +
                  " --sort comm --show-nr-samples --stdio 2>/dev/null | grep -v '^$' | head -12"
            : "perf report -q -i " + file_ +
                  " --children --sort sym --stdio -g none 2>/dev/null | "
                  "cut -c1-160 | grep -v '^$' | head -60";
    if (std::system(cmd.c_str()) != 0) std::printf("  (perf report failed)\n");
  }

 private:
  std::string phase_, file_;
  bool by_command_ = true;
  pid_t pid_ = -1;
};

// Where a phase's time went (FLEET_BENCH_TIMELINE=1): per host, for each kind of journal line
// of fleetd (and systemd's reloads), how many there were and when the first and the last came,
// in seconds after `t0`: the profile of the agent path without a profiler inside the hosts.
void timeline(Cluster& c, std::chrono::system_clock::time_point t0) {
  if (!std::getenv("FLEET_BENCH_TIMELINE")) return;
  const double start = std::chrono::duration<double>(t0.time_since_epoch()).count();
  const std::vector<std::pair<std::string, std::string>> kinds = {
      {"api: created unit", "api created"},
      {"api: set desired state", "api desired"},
      {"engine: pass applied", "engine pass"},
      {"agent: load unit=", "agent plans load"},
      {"agent: loaded unit unit=", "agent loaded"},
      // Beyond 50 units a batch logs one line (common/log.h item_level).
      {"agent: pass tasks", "agent passes with many tasks"},
      {"agent: loaded units", "agent load batches"},
      {"agent: start unit=", "agent plans start"},
      {"agent: starting units", "start batches sent"},
      {"agent: start jobs done", "start batches done"},
      {"agent: unload unit=", "agent plans unload"},
      {"api: destroyed unit", "api destroyed"},
      {"Reloading", "systemd reload"}};
  for (std::size_t i = 0; i < c.size(); ++i) {
    auto r = c.host(i).run({"/usr/bin/journalctl", "--no-pager", "-o", "short-unix", "--since",
                            "@" + std::to_string(static_cast<long long>(start) - 1)},
                           60s);
    std::map<std::string, std::tuple<int, double, double>> seen;  // count, first, last
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
      double t = std::atof(line.c_str()) - start;
      if (t < 0) continue;
      // The engine's own account of each pass (tasks, plan_ms, write_ms) as it logged it.
      if (line.find("engine: pass applied") != std::string::npos)
        std::printf("  host %zu at %.2f s: %s\n", i + 1, t,
                    line.substr(line.find("engine:")).c_str());
      for (const auto& [needle, label] : kinds) {
        if (line.find(needle) == std::string::npos) continue;
        auto [it, fresh] = seen.try_emplace(label, 0, t, t);
        auto& [n, first, last] = it->second;
        ++n;
        last = t;
      }
    }
    std::printf("timeline host %zu:", i + 1);
    for (const auto& [needle, label] : kinds)
      if (auto it = seen.find(label); it != seen.end())
        std::printf(" %s %d [%.2f-%.2f s];", label.c_str(), std::get<0>(it->second),
                    std::get<1>(it->second), std::get<2>(it->second));
    std::printf("\n");
  }
}

struct Round {
  double direct_start = 0, direct_stop = 0, fleet_start = 0, start_cli = 0, fleet_destroy = 0,
         destroy_cli = 0, new_start = 0, new_cli = 0;
  std::string spread, new_spread;
};

// One round of the timed starts and stops: direct start and stop, then through fleet the start of
// submitted units, their destroy, and the start of new unit files (left running).
Round run_round(Cluster& c, int n, bool first) {
  const int hosts = static_cast<int>(c.size());
  Round out;
  std::optional<CpuMeter> cpu(c);
  std::optional<PerfProfile> perf;
  if (first) perf.emplace("direct-start", c);
  auto direct0 = std::chrono::system_clock::now();
  auto t0 = Clock::now();
  must(on_every_host(c,
                     [&](std::size_t i) {
                       return concat({"/usr/bin/systemctl", "start", "--no-block"},
                                     names("direct", static_cast<int>(i), n, hosts));
                     }),
       "systemctl start");
  double& direct_start = out.direct_start;
  direct_start = time_until(
      t0, [&] { return total(c, count_running, "direct-*") == n; }, 600s);
  must(direct_start >= 0, "direct units did not all start");
  perf.reset();
  std::printf("direct start CPU: %s\n", cpu->since().c_str());
  if (first) timeline(c, direct0);
  cpu.emplace(c);
  if (first) perf.emplace("direct-stop", c);
  t0 = Clock::now();
  must(on_every_host(c,
                     [&](std::size_t i) {
                       return concat({"/usr/bin/systemctl", "stop", "--no-block"},
                                     names("direct", static_cast<int>(i), n, hosts));
                     }),
       "systemctl stop");
  double& direct_stop = out.direct_stop;
  direct_stop = time_until(
      t0, [&] { return total(c, count_listed, "direct-*") == 0; }, 600s);
  must(direct_stop >= 0, "direct units did not all stop");
  perf.reset();
  std::printf("direct stop CPU: %s\n", cpu->since().c_str());
  std::printf("direct: start %.2f s, stop %.2f s; load %s\n", direct_start, direct_stop,
              load_average().c_str());

  // (a) through fleet, units submitted beforehand.
  std::vector<std::string> paths;
  for (const auto& u : names("viafleet", 0, n))
    paths.push_back(c.write_unit(u, bench_unit_text(u)));
  auto r = c.fleetctl(0, concat({"submit"}, paths), 600s);
  must(r.exit == 0, "fleetctl submit: " + r.err);
  cpu.emplace(c);
  if (first) perf.emplace("submitted-start", c);
  auto submitted0 = std::chrono::system_clock::now();
  t0 = Clock::now();
  r = c.fleetctl(0, concat({"start", "--no-block"}, names("viafleet", 0, n)), 600s);
  must(r.exit == 0, "fleetctl start: " + r.err);
  out.start_cli = seconds_since(t0);
  double& fleet_start = out.fleet_start;
  fleet_start = time_until(
      t0, [&] { return total(c, count_running, "viafleet-*") == n; }, 600s);
  if (fleet_start < 0)
    for (int i = 0; i < hosts; ++i) diagnose(c.host(i), "viafleet-*");
  must(fleet_start >= 0, "units did not all start through fleet");
  perf.reset();
  std::printf("fleet start CPU: %s\n", cpu->since().c_str());
  if (first) timeline(c, submitted0);
  std::string& spread = out.spread;
  for (int i = 0; i < hosts; ++i)
    spread += (i ? "/" : "") + std::to_string(count_running(c.host(i), "viafleet-*"));
  std::printf("fleet: start %.2f s (fleetctl %.2f s), spread %s; load %s\n", fleet_start,
              out.start_cli, spread.c_str(), load_average().c_str());

  // (b) destroy through fleet.
  cpu.emplace(c);
  if (first) perf.emplace("destroy", c);
  auto destroy0 = std::chrono::system_clock::now();
  t0 = Clock::now();
  r = c.fleetctl(0, concat({"destroy", "--no-block"}, names("viafleet", 0, n)), 600s);
  must(r.exit == 0, "fleetctl destroy: " + r.err);
  out.destroy_cli = seconds_since(t0);
  double& fleet_destroy = out.fleet_destroy;
  fleet_destroy = time_until(
      t0, [&] { return total(c, count_listed, "viafleet-*") == 0; }, 600s);
  if (fleet_destroy < 0)
    for (int i = 0; i < hosts; ++i) diagnose(c.host(i), "viafleet-*");
  must(fleet_destroy >= 0, "units did not all go away after destroy");
  perf.reset();
  std::printf("fleet destroy CPU: %s\n", cpu->since().c_str());
  if (first) timeline(c, destroy0);
  std::printf("fleet: destroy %.2f s (fleetctl %.2f s); load %s\n", fleet_destroy, out.destroy_cli,
              load_average().c_str());

  // (a') through fleet as users do it: new unit files started, not submitted beforehand.
  std::vector<std::string> new_paths;
  for (const auto& u : names("newfile", 0, n))
    new_paths.push_back(c.write_unit(u, bench_unit_text(u)));
  cpu.emplace(c);
  if (first) perf.emplace("new-files-start", c);
  auto wall0 = std::chrono::system_clock::now();
  t0 = Clock::now();
  r = c.fleetctl(0, concat({"start", "--no-block"}, new_paths), 600s);
  must(r.exit == 0, "fleetctl start of new files: " + r.err);
  out.new_cli = seconds_since(t0);
  double& new_start = out.new_start;
  new_start = time_until(
      t0, [&] { return total(c, count_running, "newfile-*") == n; }, 600s);
  if (new_start < 0)
    for (int i = 0; i < hosts; ++i) diagnose(c.host(i), "newfile-*");
  must(new_start >= 0, "new unit files did not all start through fleet");
  perf.reset();
  std::printf("fleet start of new files CPU: %s\n", cpu->since().c_str());
  if (first) timeline(c, wall0);
  std::string& new_spread = out.new_spread;
  for (int i = 0; i < hosts; ++i)
    new_spread += (i ? "/" : "") + std::to_string(count_running(c.host(i), "newfile-*"));
  std::printf("fleet: start of new files %.2f s (fleetctl %.2f s), spread %s; load %s\n", new_start,
              out.new_cli, new_spread.c_str(), load_average().c_str());

  return out;
}

// "1.26x (rounds: 1.21x, 1.26x, 1.32x)": the median of the rounds' ratios, then each.
std::string ratios(const std::vector<double>& r, double* median_out) {
  const double mid = median(r);
  *median_out = mid;
  if (r.size() == 1) return fmt("%.2fx", mid);
  std::string all;
  for (double x : r) all += (all.empty() ? "" : ", ") + fmt("%.2fx", x);
  return fmt("%.2fx", mid) + " (rounds: " + all + ")";
}

// "1.52 s" or "1.52, 1.41, 1.60 s": each round's figure.
std::string each(const std::vector<Round>& rounds, double Round::*field) {
  std::string out;
  for (const auto& r : rounds) out += (out.empty() ? "" : ", ") + fmt("%.2f", r.*field);
  return out + " s";
}

}  // namespace

int main(int argc, char** argv) try {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines show up as they happen
  const int n = arg(argc, argv, 1, 500);
  const int halts = arg(argc, argv, 2, 5);
  const int idle_seconds = arg(argc, argv, 3, 30);
  const int rounds = std::max(1, arg(argc, argv, 4, 3));
  std::printf(
      "cluster_bench: 3 hosts, %d units, %d rounds, %d halts, agent TTL %d s, idle %d s; load %s\n",
      n, rounds, halts, kTtl, idle_seconds, load_average().c_str());

  ClusterOptions o;
  o.hosts = 3;
  o.label = "clusterbench";
  o.agent_ttl_s = kTtl;
  Cluster c(o);
  const int hosts = static_cast<int>(c.size());
  std::vector<Row> rows;

  // (a, b) direct: host i gets units i, i+3, ...
  for (int i = 0; i < hosts; ++i) {
    for (const auto& u : names("direct", i, n, hosts))
      must(bool(c.host(i).write_file("/run/systemd/system/" + u, bench_unit_text(u))), "write");
    must(c.host(i).run({"/usr/bin/systemctl", "daemon-reload"}, 60s).exit == 0, "daemon-reload");
  }
  std::vector<Round> done;
  for (int round = 1; round <= rounds; ++round) {
    std::printf("round %d of %d\n", round, rounds);
    done.push_back(run_round(c, n, round == 1));
    if (round == rounds) break;
    // The new files' units go again, untimed, so the next round starts them as new files.
    auto gone = c.fleetctl(0, concat({"destroy", "--no-block"}, names("newfile", 0, n)), 600s);
    must(gone.exit == 0, "fleetctl destroy of the new files' units: " + gone.err);
    must(fleet::testing::wait_until([&] { return total(c, count_listed, "newfile-*") == 0; }, 600s),
         "the new files' units did not all go away after destroy");
  }

  // (d) idle CPU with the N units running.
  std::this_thread::sleep_for(5s);  // let the last state writes settle before sampling
  std::vector<pid_t> pids;
  std::vector<double> cpu0;
  for (int i = 0; i < hosts; ++i) {
    pids.push_back(fleetd_pid(c.host(i)));
    cpu0.push_back(process_cpu_seconds(pids.back()));
  }
  auto idle0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(idle_seconds));
  double idle_wall = seconds_since(idle0);
  std::vector<double> idle_pct;
  for (int i = 0; i < hosts; ++i)
    idle_pct.push_back(100.0 * (process_cpu_seconds(pids[i]) - cpu0[i]) / idle_wall);
  auto r = c.fleetctl(0, concat({"destroy", "--no-block"}, names("newfile", 0, n)), 600s);
  must(r.exit == 0, "fleetctl destroy of the new files' units: " + r.err);
  must(fleet::testing::wait_until([&] { return total(c, count_listed, "newfile-*") == 0; }, 600s),
       "the new files' units did not all go away after destroy");

  const Round& last = done.back();
  std::vector<double> submitted_r, new_r, destroy_r;
  for (const auto& d : done) {
    submitted_r.push_back(d.fleet_start / d.direct_start);
    new_r.push_back(d.new_start / d.direct_start);
    destroy_r.push_back(d.fleet_destroy / d.direct_stop);
  }
  double median = 0;
  rows.push_back({"`systemctl start` of " + std::to_string(n) + " units over 3 hosts -> running",
                  each(done, &Round::direct_start), "-", "-"});
  rows.push_back({std::to_string(n) + " submitted units started through fleet -> running (" +
                      last.spread + ")",
                  each(done, &Round::fleet_start) + fmt(" (fleetctl %.2f s)", last.start_cli), "-",
                  "-"});
  std::string shown = ratios(submitted_r, &median);
  rows.push_back(
      {"start of submitted units: fleet / direct", shown, "<= 1.3x", verdict(median <= 1.3)});
  rows.push_back({std::to_string(n) + " new unit files started through fleet -> running (" +
                      last.new_spread + ")",
                  each(done, &Round::new_start) + fmt(" (fleetctl %.2f s)", last.new_cli), "-",
                  "-"});
  shown = ratios(new_r, &median);
  rows.push_back(
      {"start of new unit files: fleet / direct", shown, "<= 1.3x", verdict(median <= 1.3)});
  rows.push_back({"`systemctl stop` of the " + std::to_string(n) + " units -> gone",
                  each(done, &Round::direct_stop), "-", "-"});
  rows.push_back({std::to_string(n) + " units destroyed through fleet -> gone",
                  each(done, &Round::fleet_destroy) + fmt(" (fleetctl %.2f s)", last.destroy_cli),
                  "-", "-"});
  shown = ratios(destroy_r, &median);
  rows.push_back({"destroy: fleet / direct", shown, "<= 1.3x", verdict(median <= 1.3)});
  for (int i = 0; i < hosts; ++i)
    rows.push_back({"fleetd idle CPU on host " + std::to_string(i + 1) + ", " + std::to_string(n) +
                        " units running, " + fmt("%.0f s", idle_wall),
                    fmt("%.2f %% of a core", idle_pct[i]), "< 1 %", verdict(idle_pct[i] < 1.0)});

  // (c) failover, one unit, `halts` rounds.
  auto path = c.write_unit("failover.service", bench_unit_text("failover.service"));
  r = c.fleetctl(0, {"start", "--no-block", path}, 60s);
  must(r.exit == 0, "fleetctl start failover.service: " + r.err);
  must(fleet::testing::wait_until([&] { return running_on(c, "failover.service") >= 0; }, 60s),
       "failover.service did not start");
  for (int round = 1; round <= halts; ++round) {
    int victim = running_on(c, "failover.service");
    must(victim >= 0, "failover.service not running before round " + std::to_string(round));
    auto t0 = Clock::now();
    c.halt(static_cast<std::size_t>(victim));
    double took = time_until(
        t0, [&] { return running_on(c, "failover.service") >= 0; }, std::chrono::seconds(120),
        std::chrono::milliseconds(50));
    int to = running_on(c, "failover.service");
    std::printf("failover %d: host %d -> host %d in %.2f s; load %s\n", round, victim + 1, to + 1,
                took, load_average().c_str());
    rows.push_back({"failover " + std::to_string(round) + " (host " + std::to_string(victim + 1) +
                        " halted -> running on host " + std::to_string(to + 1) + ")",
                    took < 0 ? "timeout" : fmt("%.2f s", took), "<= TTL + 2 s = 12 s",
                    verdict(took >= 0 && took <= kTtl + 2)});
    c.boot(static_cast<std::size_t>(victim));
    must(fleet::testing::wait_until(
             [&] {
               auto m = c.fleetctl(0, {"list-machines", "--no-legend"});
               return m.exit == 0 && count_lines(m.out) == hosts;
             },
             60s, 200ms),
         "host " + std::to_string(victim + 1) + " did not rejoin");
  }
  print_table(rows);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "cluster_bench: %s\n", e.what());
  return 1;
}
