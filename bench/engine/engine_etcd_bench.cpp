// The engine through a real etcd: 1,000 simulated machines, 10,000 units set `launched` at once,
// then 100 machines killed. The engine runs in its own process (forked, like a fleetd) so its
// RSS is its own; the machines and the observer share this process, each node on its own thread
// and etcd client. Prints every figure next to the target.
// With --agents the machines are simulated agents (sim_agents.h: they follow their assignments
// and report unit states as real agents do); --c100k is issue #14's run: 100,000 units on 5,000
// agents, 500 of them lost, all scheduled and assigned < 10 s, rescheduled < 3 s.
// Usage: engine_etcd_bench [--units N] [--machines N] [--kill N] [--engine-txn-ops N] [--no-plan]
//                          [--agents] [--agent-ttl S] [--agent-clients N] [--target-place S]
//                          [--target-reschedule S] [--c100k] [--etcd-data DIR]
// --etcd-data puts etcd's data dir under DIR: on this VM's disk a WAL fsync takes ~7 ms and
// holds etcd's raft loop (with it, lease renewals); a tmpfs there shows etcd without its disk
// (Documentation/performance.md says which figures were taken that way).

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "bench/engine/sim_agents.h"
#include "common/log.h"
#include "engine/engine.h"
#include "registry/reflector.h"
#include "registry/testing/raw_keys.h"
#include "tests/harness/etcd/etcd_cluster.h"
#include "tests/harness/wait.h"
#include "tests/integration/engine/sim_machines.h"
#include "unitfile/unit_file.h"

using namespace fleet;
using namespace fleet::registry;
using namespace fleet::testing;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

namespace {

struct Config {
  int units = 10000;
  int machines = 1000;
  int kill = 100;
  bool plan = true;
  bool agents = false;  // simulated agents instead of machines that only keep a lease
  int agent_ttl = 10;   // fleetd's default agent_ttl (with --agents)
  // Clients the simulated agents' writes are spread over (sim_agents.h: why one), 256 requests
  // in flight each.
  int agent_clients = 1;
  double target_place = 5, target_reschedule = 2;
  std::size_t engine_txn_ops = 128;  // ops per txn the engine's client uses (etcd's default)
  std::string etcd_data;             // etcd's data dirs go here (e.g. a tmpfs); empty = build tree
};

double secs(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// VmRSS / VmHWM of a process in MiB.
double proc_mib(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::atof(line.c_str() + std::strlen(field) + 1) / 1024;
  }
  return -1;
}

// CPU seconds (user + system) a process has used so far.
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = all.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(all.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::atof(field.c_str());
    if (i == 15) stime = std::atof(field.c_str());
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU used by the engine, etcd and this process (machines + observer) over one phase.
struct CpuSplit {
  pid_t engine, etcd;
  double e0 = 0, d0 = 0, s0 = 0;
  void start() {
    e0 = cpu_seconds(engine);
    d0 = cpu_seconds(etcd);
    s0 = cpu_seconds(getpid());
  }
  std::string str() const {
    char buf[160];
    std::snprintf(buf, sizeof buf, "cpu: engine %.2f s, etcd %.2f s, simulation+observer %.2f s",
                  cpu_seconds(engine) - e0, cpu_seconds(etcd) - d0, cpu_seconds(getpid()) - s0);
    return buf;
  }
};

// --- the engine process ---
int run_engine(std::vector<std::string> endpoints, std::size_t txn_ops,
               const std::string& log_path) {
  if (!std::freopen(log_path.c_str(), "w", stderr)) return 2;
  // Line-buffered: a file-backed stderr is fully buffered, and a crash lost the whole log.
  std::setvbuf(stderr, nullptr, _IOLBF, 0);
  log::set_level(log::Level::info);
  boost::asio::io_context io;
  EtcdConfig config;
  config.endpoints = std::move(endpoints);
  config.max_txn_ops = txn_ops;
  auto kv = EtcdKv::create(io, config);
  if (!kv) return 3;
  Registry reg(*kv.value(), "/fleet/");
  engine::EngineOptions opts;
  opts.machine_id = "bench-engine";
  engine::Engine e(reg, opts);
  boost::asio::signal_set sigs(io, SIGTERM, SIGINT);
  sigs.async_wait([&](auto, int) { e.stop(); });
  boost::asio::co_spawn(io, e.run(), [&](std::exception_ptr) { io.stop(); });
  io.run();
  const auto& s = e.stats();
  std::fprintf(stderr,
               "ENGINE-STATS passes=%llu failures=%llu writes=%llu total_pass_s=%.3f "
               "last_pass_s=%.3f units=%zu unschedulable=%zu\n",
               static_cast<unsigned long long>(s.passes),
               static_cast<unsigned long long>(s.pass_failures),
               static_cast<unsigned long long>(s.writes), s.total_pass_seconds, s.last_pass_seconds,
               s.units, s.unschedulable);
  std::fflush(stderr);
  return 0;
}

// --- the observer: timestamps progress ---
// A unit counts as placed once it is assigned to exactly one machine's agent (what the agent acts
// on). The engine writes a unit's schedule and assignment in the same txn, and the end of the
// run checks that schedule/ agrees. With simulated agents the tracker hears of assignments from
// the agents' own watches, as each agent receives them; with bare machines the observer watches
// assign/ itself (a second watch of every assignment, which would double what etcd sends to
// agents in the --agents runs).
struct Tracker {
  std::map<std::string, std::set<std::string>> assigned;  // unit -> machines
  std::size_t target = 0;                                 // units expected placed
  std::size_t placed_count = 0;                           // units on exactly one machine
  std::optional<SteadyClock::time_point> first, all;
  // Kill phase: units that must leave `dead` machines; `stranded` are those not yet on a live one.
  std::set<std::string> dead;
  std::set<std::string> watched, stranded;
  std::optional<SteadyClock::time_point> moved;
  // When the first and the last dead machine's key vanished (their leases ended), as watched.
  std::optional<SteadyClock::time_point> first_gone, all_gone;
  std::size_t gone = 0;

  // The unit's one live machine, if it is assigned to exactly one. Dead machines do not count:
  // a simulated agent that was killed no longer hears that its units were taken away.
  std::optional<std::string> machine_of(const std::string& unit) const {
    auto a = assigned.find(unit);
    if (a == assigned.end()) return std::nullopt;
    std::optional<std::string> out;
    for (const auto& m : a->second) {
      if (dead.count(m)) continue;
      if (out) return std::nullopt;
      out = m;
    }
    return out;
  }
  std::map<std::string, std::string> placement() const {
    std::map<std::string, std::string> out;
    for (const auto& [u, ms] : assigned)
      if (auto m = machine_of(u)) out[u] = *m;
    return out;
  }
  void watch_orphans(std::set<std::string> dead_machines, const std::vector<std::string>& units) {
    dead = std::move(dead_machines);
    watched = {units.begin(), units.end()};
    stranded = watched;
  }
  // One assignment appeared or went away; constant work per change, so that 100,000 of them cost
  // the tracker nothing next to what it measures.
  void update(const std::string& unit, const std::string& machine, bool present,
              SteadyClock::time_point now) {
    if (unit == "probe.service") return;
    auto& ms = assigned[unit];
    const bool was = ms.size() == 1;
    if (present)
      ms.insert(machine);
    else
      ms.erase(machine);
    const bool is = ms.size() == 1;
    if (is && !was) ++placed_count;
    if (was && !is) --placed_count;
    if (!all) {
      if (!first && placed_count > 0) first = now;
      if (target > 0 && placed_count >= target) all = now;
    }
    if (!moved && watched.count(unit)) {
      if (machine_of(unit))
        stranded.erase(unit);
      else
        stranded.insert(unit);
      if (stranded.empty()) moved = now;
    }
  }
};

Task<void> track_machines(Reflector& r, Tracker& t, std::size_t prefix_len) {
  while (true) {
    auto b = co_await r.next();
    if (!b) co_return;
    for (const auto& c : b.value().changes) {
      if (c.type != Change::Type::del || !t.dead.count(c.kv.key.substr(prefix_len))) continue;
      auto now = SteadyClock::now();
      if (!t.first_gone) t.first_gone = now;
      if (++t.gone == t.dead.size()) t.all_gone = now;
    }
  }
}

Task<void> track(Reflector& r, Tracker& t, const KeyLayout& keys) {
  while (true) {
    auto b = co_await r.next();
    if (!b) co_return;
    auto now = SteadyClock::now();
    for (const auto& c : b.value().changes) {
      auto p = keys.parse(c.kv.key);
      if (!p || p->kind != KeyKind::assignment) continue;
      t.update(p->first, p->second, c.type == Change::Type::put, now);
    }
  }
}

std::string unit_name(int i) { return "u" + std::to_string(i) + ".service"; }
std::string unit_content(int i) {
  return "[Service]\nExecStart=/bin/sleep 1000 # " + std::to_string(i) + "\n";
}

// Writes units (with their contents) in batched txns, `parallel` in flight.
Task<Status> put_units(KvStore& kv, const KeyLayout& keys, int n, TargetState desired,
                       bool with_content) {
  // Txns of at most 1,000 units (the launch: 1,000 ops; creation: 2,000 with the contents):
  // one txn of tens of thousands of puts stalls etcd's apply for seconds (20,000 ops: 2.4-2.6 s),
  // and with it every lease keep-alive (etcd 3.4 renews a lease only once its apply caught up).
  // fleetctl's batch routes write 128 ops per txn.
  const std::size_t per_txn =
      std::min<std::size_t>(1000, kv.max_txn_ops() / (with_content ? 2 : 1));
  const std::size_t batches = (static_cast<std::size_t>(n) + per_txn - 1) / per_txn;
  Status result = ok();
  co_await parallel_for(batches, 2, [&](std::size_t b) -> Task<void> {
    TxnRequest txn;
    for (std::size_t i = b * per_txn; i < std::min<std::size_t>(n, (b + 1) * per_txn); ++i) {
      auto content = unit_content(static_cast<int>(i));
      UnitRecord u{unit_name(static_cast<int>(i)), unitfile::sha1_hex(content), desired, 0};
      if (with_content) txn.success.push_back(Op::put(keys.content(u.hash), content));
      txn.success.push_back(Op::put(keys.unit(u.name), encode(u)));
    }
    auto r = co_await kv.txn(std::move(txn));
    if (!r) result = r.error();
  });
  co_return result;
}

// etcd's own floor on this machine: `n` plain puts (values like an assignment's) in txns of
// `per_txn` ops, `parallel` in flight — the engine's write pattern without the engine.
Task<Status> calibrate(KvStore& kv, std::size_t n, std::size_t per_txn, std::size_t parallel) {
  Status result = ok();
  const std::string value(120, 'x');
  co_await parallel_for((n + per_txn - 1) / per_txn, parallel, [&](std::size_t b) -> Task<void> {
    TxnRequest txn;
    for (std::size_t i = b * per_txn; i < std::min(n, (b + 1) * per_txn); ++i)
      txn.success.push_back(Op::put("/calibrate/" + std::to_string(i), value));
    auto r = co_await kv.txn(std::move(txn));
    if (!r) result = r.error();
  });
  co_return result;
}

bool etcd_pprof() {
  const char* p = std::getenv("FLEET_BENCH_ETCD_PPROF");
  return p && *p == '1';
}

// With FLEET_BENCH_ETCD_PPROF=1: etcd's CPU profile of the next `seconds`, fetched in the
// background into the test data dir (read it with `go tool pprof` or any pprof reader).
void etcd_profile(EtcdCluster& etcd, const std::string& label, int seconds) {
  if (!etcd_pprof()) return;
  const std::string out = test_data_dir() + "/etcd-" + label + ".pprof.gz";
  const std::string cmd = "curl -s -o " + out + " '" + etcd.endpoint(0) +
                          "/debug/pprof/profile?seconds=" + std::to_string(seconds) + "' &";
  if (std::system(cmd.c_str()) == 0)
    std::printf("etcd profile of %d s -> %s\n", seconds, out.c_str());
}

// etcd's own write rate on this machine now, from a client of its own: what the launch's writes
// cannot beat.
double etcd_floor(EtcdCluster& etcd, const char* when) {
  EtcdNode calib(etcd.endpoints());
  auto c0 = SteadyClock::now();
  auto cs = calib.call(calibrate(calib.kv(), 20000, 128, 8), 120s);
  double t = secs(SteadyClock::now() - c0);
  std::printf(
      "etcd floor %s: 20000 plain puts in 128-op txns, 8 in flight: %.2f s (%.0f ops/s)%s\n", when,
      t, 20000 / t, cs ? "" : " FAILED");
  return cs ? 20000 / t : 0;
}

struct Row {
  std::string figure, measured, target;
  bool ok;
};

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// etcd's own counters (its /metrics page), for the database size, the write rate and the
// requests. etcd_mvcc_txn_total counts only txns of several ops (a txn of one put is a put), so
// the requests come from the gRPC handler counters, which the JSON gateway's requests pass too;
// each write request is one raft proposal.
struct EtcdMetrics {
  double db_bytes = 0, db_in_use = 0, puts = 0, deletes = 0, txns = 0;
  double kv_requests = 0, txn_requests = 0, proposals = 0;
  static EtcdMetrics read(const std::string& endpoint) {
    EtcdMetrics m;
    std::string cmd = "curl -s " + endpoint + "/metrics";
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return m;
    char line[512];
    while (std::fgets(line, sizeof line, p)) {
      auto take = [&](const char* name, double& v) {
        auto n = std::strlen(name);
        if (std::strncmp(line, name, n) == 0 && line[n] == ' ') v = std::atof(line + n + 1);
      };
      take("etcd_mvcc_db_total_size_in_bytes", m.db_bytes);
      take("etcd_mvcc_db_total_size_in_use_in_bytes", m.db_in_use);
      take("etcd_mvcc_put_total", m.puts);
      take("etcd_mvcc_delete_total", m.deletes);
      take("etcd_mvcc_txn_total", m.txns);
      take("etcd_server_proposals_committed_total", m.proposals);
      const char* handled = "grpc_server_handled_total{";
      if (std::strncmp(line, handled, std::strlen(handled)) == 0 &&
          std::strstr(line, "grpc_service=\"etcdserverpb.KV\"")) {
        const char* value = std::strrchr(line, ' ');
        const double v = value ? std::atof(value + 1) : 0;
        m.kv_requests += v;
        if (std::strstr(line, "grpc_method=\"Txn\"")) m.txn_requests += v;
      }
    }
    pclose(p);
    return m;
  }
};

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto num = [&] { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
    if (a == "--units")
      cfg.units = num();
    else if (a == "--machines")
      cfg.machines = num();
    else if (a == "--kill")
      cfg.kill = num();
    else if (a == "--no-plan")
      cfg.plan = false;
    else if (a == "--engine-txn-ops")
      cfg.engine_txn_ops = static_cast<std::size_t>(num());
    else if (a == "--agents")
      cfg.agents = true;
    else if (a == "--etcd-data" && i + 1 < argc)
      cfg.etcd_data = argv[++i];
    else if (a == "--agent-ttl")
      cfg.agent_ttl = num();
    else if (a == "--agent-clients")
      cfg.agent_clients = std::max(1, num());
    else if (a == "--target-place")
      cfg.target_place = num();
    else if (a == "--target-reschedule")
      cfg.target_reschedule = num();
    else if (a == "--c100k") {
      cfg.units = 100000;
      cfg.machines = 5000;
      cfg.kill = 500;
      cfg.agents = true;
      // 5,000 leases of 10 s are 1,500 keep-alives/s through etcd's JSON gateway, more than this
      // 2-core VM's etcd serves next to the run (Documentation/performance.md); --agent-ttl 10
      // measures that.
      cfg.agent_ttl = 60;
      cfg.target_place = 10;
      cfg.target_reschedule = 3;
    } else {
      std::fprintf(
          stderr,
          "usage: %s [--units N] [--machines N] [--kill N] [--engine-txn-ops N] [--no-plan] "
          "[--agents] [--agent-ttl S] [--agent-clients N] [--target-place S] "
          "[--target-reschedule S] [--c100k] [--etcd-data DIR]\n",
          argv[0]);
      return 2;
    }
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress visible when redirected to a file
  log::set_level(log::Level::warn);
  std::printf("load average at start: %s\n", loadavg().c_str());

  EtcdOptions eo;
  eo.label = "engine-bench";
  // The test client launches the units in txns of 1,000 ops (put_units()); the engine keeps
  // etcd's default of 128 ops per txn unless --engine-txn-ops says otherwise.
  eo.extra_args = {"--max-txn-ops=40000", "--max-request-bytes=67108864"};
  // FLEET_BENCH_ETCD_PPROF=1 serves etcd's Go profiles on its client URL (/debug/pprof/): what
  // etcd spends its CPU on, which `perf` cannot name in Debian's stripped etcd binary.
  if (etcd_pprof()) eo.extra_args.push_back("--enable-pprof");
  eo.data_root = cfg.etcd_data;
  std::printf("etcd data dir under %s\n",
              cfg.etcd_data.empty() ? (test_data_dir() + "/etcd").c_str() : cfg.etcd_data.c_str());
  EtcdCluster etcd(eo);
  const std::string engine_log = test_data_dir() + "/engine_etcd_bench.log";
  std::fflush(stdout);
  pid_t engine_pid = fork();
  if (engine_pid < 0) return 1;
  if (engine_pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    _exit(run_engine(etcd.endpoints(), cfg.engine_txn_ops, engine_log));
  }
  std::printf("engine pid %d, log %s\n", engine_pid, engine_log.c_str());

  std::vector<Row> rows;
  int rc = 0;
  {
    // Simulated machines (and agents, sim_agents.h) stand for thousands of hosts, each with its
    // own client: more requests in flight on their one client than a fleetd's.
    EtcdNode sim(etcd.endpoints(), "/fleet/", 128, 2500ms, 32);
    EtcdNode obs(etcd.endpoints(), "/fleet/", 40000, 30s);
    EtcdNode ctl(etcd.endpoints());  // revokes the leases of the machines it kills
    std::optional<SimMachines> machines;
    std::optional<SimAgents> agents;
    if (cfg.agents)
      agents.emplace(etcd.endpoints(), std::chrono::seconds(cfg.agent_ttl),
                     static_cast<std::size_t>(cfg.agent_clients), 256);
    else
      machines.emplace(sim, 60s);

    std::vector<std::string> ids;
    for (int m = 0; m < cfg.machines; ++m) {
      char id[40];
      std::snprintf(id, sizeof id, "%08x%024d", static_cast<unsigned>(m * 2654435761u), m);
      ids.push_back(id);
    }
    auto t0 = SteadyClock::now();
    const double floor_start = etcd_floor(etcd, "before the run");
    t0 = SteadyClock::now();
    if (agents)
      agents->add_many(ids, 32);
    else
      machines->add_many(ids, 32);
    std::printf("announced %d %s in %.2f s\n", cfg.machines, agents ? "agents" : "machines",
                secs(SteadyClock::now() - t0));

    if (!wait_until([&] { return obs.call(obs.reg().leader()).value().has_value(); }, 20s)) {
      std::printf("no engine leader\n");
      return 1;
    }
    t0 = SteadyClock::now();
    auto st = obs.call(
        put_units(obs.kv(), obs.reg().keys(), cfg.units, TargetState::inactive, true), 120s);
    if (!st) {
      std::printf("creating units failed: %s\n", st.error().describe().c_str());
      return 1;
    }
    std::printf("created %d inactive units in %.2f s\n", cfg.units, secs(SteadyClock::now() - t0));
    // A probe unit scheduled means the engine has taken in everything written before it.
    {
      std::string content = "[Service]\nExecStart=/bin/true\n";
      UnitRecord probe{"probe.service", unitfile::sha1_hex(content), TargetState::launched, 0};
      if (!obs.call(obs.reg().create_unit(probe, content))) return 1;
      if (!wait_until(
              [&] { return obs.call(obs.reg().get_schedule("probe.service")).value().has_value(); },
              60s)) {
        std::printf("probe unit never scheduled\n");
        return 1;
      }
    }
    std::printf("engine caught up; RSS %.1f MiB\n", proc_mib(engine_pid, "VmRSS:"));

    Tracker tracker;
    tracker.target = static_cast<std::size_t>(cfg.units);
    std::optional<Reflector> assign_reflector;
    auto assign_done = std::make_shared<std::atomic<bool>>(true);
    if (agents) {
      // Each agent's change is timed on its own thread, then applied on the observer's loop.
      agents->on_assignment([&](const std::string& unit, const std::string& machine, bool present) {
        auto now = SteadyClock::now();
        boost::asio::post(obs.io(), [&tracker, unit, machine, present, now] {
          tracker.update(unit, machine, present, now);
        });
      });
    } else {
      assign_reflector.emplace(obs.kv(), obs.reg().keys().all_assignments());
      assign_done->store(false);
      obs.spawn(track(*assign_reflector, tracker, obs.reg().keys()), assign_done);
    }
    Reflector machine_reflector(obs.kv(), obs.reg().keys().machines());
    auto machines_done = std::make_shared<std::atomic<bool>>(false);
    obs.spawn(track_machines(machine_reflector, tracker, obs.reg().keys().machines().size()),
              machines_done);

    // --- all units launched at once ---
    CpuSplit cpu{engine_pid, etcd.member(0).pid()};
    const auto m0 = EtcdMetrics::read(etcd.endpoint(0));
    cpu.start();
    etcd_profile(etcd, "launch", 10);
    auto flip0 = SteadyClock::now();
    st = obs.call(put_units(obs.kv(), obs.reg().keys(), cfg.units, TargetState::launched, false),
                  120s);
    auto flip1 = SteadyClock::now();
    if (!st) {
      std::printf("launching units failed: %s\n", st.error().describe().c_str());
      return 1;
    }
    bool all =
        wait_until([&] { return obs.on_loop([&] { return tracker.all.has_value(); }); }, 120s, 5ms);
    auto [first, all_at, count] = obs.on_loop([&] {
      return std::make_tuple(tracker.first.value_or(flip0),
                             tracker.all.value_or(SteadyClock::now()), tracker.placed_count);
    });
    double t_all = secs(all_at - flip0);
    // From the last launch txn's commit on the engine has all units to place.
    double rate = static_cast<double>(count) / std::max(1e-9, secs(all_at - flip1));
    std::printf(
        "launch txns took %.2f s; first placement %.3f s after it was sent; "
        "placement rate from first to last placement %.0f units/s\n",
        secs(flip1 - flip0), secs(first - flip0),
        static_cast<double>(count) / std::max(1e-9, secs(all_at - first)));
    std::printf("launch phase %s\n", cpu.str().c_str());
    rows.push_back({"all " + std::to_string(cfg.units) + " units scheduled and assigned",
                    all ? fmt("%.2f s", t_all) : "not all (" + std::to_string(count) + ")",
                    fmt("< %.0f s", cfg.target_place), all && t_all < cfg.target_place});
    rows.push_back({"placement rate (launch commit -> all placed)", fmt("%.0f units/s", rate),
                    ">= 5000 units/s", rate >= 5000});
    if (agents) {
      // Every unit (and the probe) reported active by its agent: the states the agents wrote.
      RangeRequest states;
      states.key = obs.reg().keys().states();
      states.range_end = prefix_end(states.key);
      states.count_only = true;
      std::int64_t reported = 0;
      bool all_reported = wait_until(
          [&] {
            auto r = obs.call(obs.kv().range(states));
            reported = r ? r.value().count : 0;
            return reported >= static_cast<std::int64_t>(cfg.units) + 1;
          },
          120s, 50ms);
      double t_rep = secs(SteadyClock::now() - flip0);
      rows.push_back(
          {"all units reported active by their agents",
           all_reported ? fmt("%.2f s", t_rep) : "not all (" + std::to_string(reported) + ")",
           "(report)", true});
    }
    {
      const auto m1 = EtcdMetrics::read(etcd.endpoint(0));
      const double t = secs(SteadyClock::now() - flip0);
      std::printf(
          "etcd during the launch (%.2f s): %.0f KV requests (%.0f txns, %.0f of several ops), "
          "%.0f raft proposals, %.0f puts, %.0f deletes = %.0f keys written/s\n",
          t, m1.kv_requests - m0.kv_requests, m1.txn_requests - m0.txn_requests, m1.txns - m0.txns,
          m1.proposals - m0.proposals, m1.puts - m0.puts, m1.deletes - m0.deletes,
          (m1.puts - m0.puts + m1.deletes - m0.deletes) / std::max(1e-9, t));
      rows.push_back({"etcd KV requests (raft proposals) during the launch",
                      fmt("%.0f", m1.kv_requests - m0.kv_requests) +
                          fmt(" (%.0f)", m1.proposals - m0.proposals),
                      "(report)", true});
      rows.push_back(
          {"etcd keys written/s during the launch",
           fmt("%.0f /s", (m1.puts - m0.puts + m1.deletes - m0.deletes) / std::max(1e-9, t)),
           "(report)", true});
      rows.push_back(
          {"etcd database size (in use) after the launch",
           fmt("%.0f MiB", m1.db_bytes / 1048576) + fmt(" (%.0f MiB)", m1.db_in_use / 1048576),
           "(report)", true});
    }
    double rss = proc_mib(engine_pid, "VmRSS:");
    rows.push_back({"engine RSS at " + std::to_string(cfg.units) + " units", fmt("%.1f MiB", rss),
                    "(report)", true});

    // --- kill machines ---
    auto before = obs.on_loop([&] { return tracker.placement(); });
    std::vector<std::string> doomed;
    for (int m = 0; m < cfg.kill && m * 10 < cfg.machines; ++m) doomed.push_back(ids[m * 10]);
    std::vector<std::string> orphans;
    std::set<std::string> dead(doomed.begin(), doomed.end());
    for (const auto& [u, m] : before)
      if (dead.count(m)) orphans.push_back(u);
    obs.on_loop([&] {
      tracker.watch_orphans(dead, orphans);
      return 0;
    });
    cpu.start();
    auto k0 = SteadyClock::now();
    auto revoked =
        agents ? agents->revoke_many(doomed, ctl, 32) : machines->revoke_many(doomed, 32);
    auto k1 = SteadyClock::now();
    if (!revoked) std::printf("revoking failed: %s\n", revoked.error().describe().c_str());
    bool moved = wait_until([&] { return obs.on_loop([&] { return tracker.moved.has_value(); }); },
                            60s, 5ms);
    auto moved_at = obs.on_loop([&] { return tracker.moved.value_or(SteadyClock::now()); });
    std::printf("revoked %zu leases (%zu units orphaned) in %.3f s; %s\n", doomed.size(),
                orphans.size(), secs(k1 - k0), cpu.str().c_str());
    auto [first_gone, all_gone] = obs.on_loop([&] {
      return std::make_pair(tracker.first_gone.value_or(k0), tracker.all_gone.value_or(k1));
    });
    std::printf("dead machines' keys vanished %.3f .. %.3f s after the first revoke was sent\n",
                secs(first_gone - k0), secs(all_gone - k0));
    double t_from_first = secs(moved_at - k0);
    double t_from_gone = secs(moved_at - all_gone);
    rows.push_back({"reschedule after " + std::to_string(doomed.size()) +
                        " machines killed (from first revoke sent)",
                    moved ? fmt("%.3f s", t_from_first) : "incomplete",
                    fmt("< %.0f s", cfg.target_reschedule),
                    moved && t_from_first < cfg.target_reschedule});
    rows.push_back({"  same, from the last lease gone (watched)",
                    moved ? fmt("%.3f s", t_from_gone) : "incomplete",
                    fmt("< %.0f s", cfg.target_reschedule),
                    moved && t_from_gone < cfg.target_reschedule});

    // No churn: units of surviving machines stay where they were.
    auto after = obs.on_loop([&] { return tracker.placement(); });
    std::size_t churn = 0, lost = 0;
    for (const auto& [u, m] : before) {
      auto it = after.find(u);
      if (it == after.end())
        ++lost;
      else if (!dead.count(m) && it->second != m)
        ++churn;
    }
    rows.push_back({"units of surviving machines moved", std::to_string(churn), "0", churn == 0});
    rows.push_back({"units left unscheduled", std::to_string(lost), "0", lost == 0});
    {
      RangeRequest sched;
      sched.key = obs.reg().keys().schedules();
      sched.range_end = prefix_end(sched.key);
      auto listed = obs.call(obs.kv().range(sched));
      std::size_t disagree = 0;
      if (listed) {
        for (const auto& kv : listed.value().kvs) {
          auto unit = kv.key.substr(sched.key.size());
          if (unit == "probe.service") continue;
          auto it = after.find(unit);
          if (it == after.end() || it->second != kv.value) ++disagree;
        }
        disagree += after.size() + 1 - std::min(after.size() + 1, listed.value().kvs.size());
      }
      rows.push_back({"schedule/ disagreeing with assignments",
                      listed ? std::to_string(disagree) : "?", "0", listed && disagree == 0});
    }
    rows.push_back({"engine RSS after the kill", fmt("%.1f MiB", proc_mib(engine_pid, "VmRSS:")),
                    "(report)", true});
    rows.push_back(
        {"engine peak RSS", fmt("%.1f MiB", proc_mib(engine_pid, "VmHWM:")), "(report)", true});

    etcd_profile(etcd, "floor-end", 2);
    const double floor_end = etcd_floor(etcd, "at the end");
    {
      // The launch must write each unit's desired state, schedule and assignment: at etcd's own
      // rate for plain puts (the better of the two measurements) that is the physical limit of
      // "all scheduled and assigned" on this machine.
      const double floor_rate = std::max(floor_start, floor_end);
      const double needed = 3.0 * cfg.units;
      const double floor_s = needed / std::max(1.0, floor_rate);
      rows.push_back({"etcd floor: plain puts/s before the run / at the end",
                      fmt("%.0f", floor_start) + fmt(" / %.0f", floor_end), "(report)", true});
      rows.push_back({"all scheduled and assigned, next to etcd's floor for the launch's " +
                          fmt("%.0f keys", needed) + fmt(" (%.2f s)", floor_s),
                      all ? fmt("%.2fx", t_all / floor_s) : "-", "(report)", true});
    }

    // Let the engine finish its last pass (it removes the dead machines' assignments after the
    // schedule moved) so its statistics and log cover the kill phase.
    RangeRequest assigned;
    assigned.key = obs.reg().keys().all_assignments();
    assigned.range_end = prefix_end(assigned.key);
    assigned.count_only = true;
    wait_until(
        [&] {
          auto r = obs.call(obs.kv().range(assigned));
          return r && r.value().count == static_cast<std::int64_t>(cfg.units) + 1;
        },
        30s, 20ms);
    if (assign_reflector) assign_reflector->cancel();
    machine_reflector.cancel();
    wait_until([&] { return assign_done->load() && machines_done->load(); }, 5s);
    kill(engine_pid, SIGTERM);
    int status = 0;
    if (!wait_until([&] { return waitpid(engine_pid, &status, WNOHANG) == engine_pid; }, 15s)) {
      kill(engine_pid, SIGKILL);
      waitpid(engine_pid, &status, 0);
    }
    if (agents) {
      auto tot = agents->totals();
      std::printf(
          "agents: %llu states put in %llu writes, %llu deleted, %llu contents fetched, %llu "
          "failed calls, %llu leases lost\n",
          static_cast<unsigned long long>(tot.states_put),
          static_cast<unsigned long long>(tot.state_writes),
          static_cast<unsigned long long>(tot.states_deleted),
          static_cast<unsigned long long>(tot.contents_fetched),
          static_cast<unsigned long long>(tot.failures),
          static_cast<unsigned long long>(tot.lease_losses));
      const auto mend = EtcdMetrics::read(etcd.endpoint(0));
      std::printf("etcd database at the end: %.0f MiB (%.0f MiB in use)\n", mend.db_bytes / 1048576,
                  mend.db_in_use / 1048576);
      agents->stop_all();
    } else {
      machines->stop_all();
    }
  }

  // A Markdown table, like the other benchmarks (scripts/bench collects the rows).
  std::printf("\n| figure | measured | target | verdict |\n|---|---|---|---|\n");
  for (const auto& r : rows) {
    std::printf("| %s | %s | %s | %s |\n", r.figure.c_str(), r.measured.c_str(), r.target.c_str(),
                r.target == "(report)" ? "-" : (r.ok ? "ok" : "MISSED"));
    if (!r.ok) rc = 1;
  }
  {
    std::ifstream in(engine_log);
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("ENGINE-STATS", 0) == 0) std::printf("%s\n", line.c_str());
  }
  std::printf("load average at end: %s\n", loadavg().c_str());
  if (cfg.plan) {
    std::string self = argv[0];
    auto dir = self.substr(0, self.find_last_of('/') + 1);
    std::string plan = dir + "engine_plan_bench";
    if (access(plan.c_str(), X_OK) == 0) {
      std::printf("\nin-memory planner (%s):\n", plan.c_str());
      std::fflush(stdout);
      if (std::system(plan.c_str()) != 0) rc = 1;
    }
  }
  return rc;
}
