// No false failovers at the default agent_ttl: real agents (agent::Agent, the code fleetd runs,
// with fleetd's default agent_ttl and etcd_request_timeout, each in its own process like a
// fleetd) keep their machine leases on one real etcd for `--duration` while CPU burners keep
// every core busy and etcd takes a write burst every `--burst-every`. A false failover is a
// machine key that etcd deleted (its lease expired: the engine would move the machine's units),
// or an agent that lost its lease or went "out of touch" (3/4 of the TTL without a renewal,
// when StopOnDisconnect units are stopped). Units are simulated (FakeUnitManager): only the
// lease path is under test.
// Usage: lease_soak [--duration S] [--agents N] [--burners N] [--burst-keys N]
//                   [--burst-every S] [--value-bytes N] [--ttl S]

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "agent/agent.h"
#include "agent/fake_unit_manager.h"
#include "common/log.h"
#include "fleetd/config/config.h"
#include "registry/reflector.h"
#include "registry/testing/raw_keys.h"
#include "tests/harness/etcd/etcd_cluster.h"
#include "tests/harness/wait.h"
#include "tests/integration/engine/sim_machines.h"

using namespace fleet;
using namespace fleet::registry;
using namespace fleet::testing;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

namespace {

struct Config {
  int duration_s = 1800;
  int agents = 3;
  int burners = static_cast<int>(std::thread::hardware_concurrency());
  int burst_keys = 50000;
  int burst_every_s = 120;
  int value_bytes = 1024;
  int ttl_s = 0;  // 0: fleetd's default agent_ttl
};

double secs(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::string machine_id(int i) {
  char id[40];
  std::snprintf(id, sizeof id, "50a4%028d", i);
  return id;
}

// What one agent process saw of its lease, written to its stats file every few seconds.
struct LeaseWatch {
  SteadyClock::time_point last_ok_sent{};
  double max_gap = 0;  // longest time between the sending of two successful renewals
  double max_latency = 0;
  std::uint64_t ok = 0, failed = 0, grants = 0;
  void request(std::string_view op, double seconds, bool success) {
    auto sent = SteadyClock::now() - std::chrono::duration_cast<SteadyClock::duration>(
                                         std::chrono::duration<double>(seconds));
    if (op == "grant" && success) {
      ++grants;
      last_ok_sent = sent;
      return;
    }
    if (op != "keepalive") return;
    max_latency = std::max(max_latency, seconds);
    if (!success) {
      ++failed;
      return;
    }
    ++ok;
    if (last_ok_sent != SteadyClock::time_point{})
      max_gap = std::max(max_gap, secs(sent - last_ok_sent));
    last_ok_sent = sent;
  }
};

// --- one agent process (a fleetd without API and engine; units simulated) ---
int run_agent(int index, std::vector<std::string> endpoints, std::chrono::seconds ttl,
              const std::string& dir) {
  const std::string base = dir + "/agent" + std::to_string(index);
  std::filesystem::create_directories(base + "/units");
  if (!std::freopen((base + ".log").c_str(), "w", stderr)) return 2;
  log::set_level(log::Level::info);
  const fleetd::Config defaults;
  boost::asio::io_context io;
  LeaseWatch watch;
  EtcdConfig ec;
  ec.endpoints = std::move(endpoints);
  ec.request_timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(defaults.etcd_request_timeout);
  ec.on_request = [&](std::string_view op, double s, bool ok) { watch.request(op, s, ok); };
  auto kv = EtcdKv::create(io, ec);
  if (!kv) return 3;
  Registry reg(*kv.value(), "/fleet/");
  agent::FakeUnitManager units;
  agent::AgentOptions ao;
  ao.machine.id = machine_id(index);
  ao.machine.public_ip = "127.0.0.1";
  ao.machine.version = "soak";
  ao.ttl = ttl;
  ao.units_dir = base + "/units";
  ao.lease_file = base + "/machine.lease";
  agent::Agent agent(reg, units, ao);

  auto write_stats = [&] {
    std::ofstream out(base + ".stats.tmp");
    out << watch.grants << ' ' << watch.ok << ' ' << watch.failed << ' ' << watch.max_gap << ' '
        << watch.max_latency << '\n';
    out.close();
    std::filesystem::rename(base + ".stats.tmp", base + ".stats");
  };
  boost::asio::steady_timer tick(io);
  std::function<void()> every = [&] {
    write_stats();
    tick.expires_after(2s);
    tick.async_wait([&](boost::system::error_code ec2) {
      if (!ec2) every();
    });
  };
  every();
  boost::asio::signal_set sigs(io, SIGTERM, SIGINT);
  sigs.async_wait([&](auto, int) { agent.stop(); });
  boost::asio::co_spawn(io, agent.run(), [&](std::exception_ptr) {
    tick.cancel();
    io.stop();
  });
  io.run();
  write_stats();
  return 0;
}

[[noreturn]] void burn() {
  volatile std::uint64_t x = 0;
  while (true) x = x + 1;
}

// The burst writer: `keys` puts of `value_bytes` in txns of 128, 8 in flight, then a compaction
// at the burst's last revision (so 30 minutes of bursts do not fill etcd's quota).
Task<Result<double>> burst(EtcdKv& kv, int keys, int value_bytes, int round) {
  const std::string value(static_cast<std::size_t>(value_bytes),
                          static_cast<char>('a' + round % 26));
  const std::size_t per_txn = kv.max_txn_ops();
  const std::size_t n = static_cast<std::size_t>(keys);
  Revision last = 0;
  Status failed = ok();
  auto t0 = SteadyClock::now();
  co_await parallel_for((n + per_txn - 1) / per_txn, 8, [&](std::size_t b) -> Task<void> {
    TxnRequest txn;
    for (std::size_t i = b * per_txn; i < std::min(n, (b + 1) * per_txn); ++i)
      txn.success.push_back(Op::put("/burst/" + std::to_string(i), value));
    auto r = co_await kv.txn(std::move(txn));
    if (!r)
      failed = r.error();
    else
      last = std::max(last, r.value().revision);
  });
  double took = secs(SteadyClock::now() - t0);
  if (!failed) co_return failed.error();
  if (last > 0) (void)co_await kv.compact(last);
  co_return took;
}

struct AgentStatsFile {
  std::uint64_t grants = 0, ok = 0, failed = 0;
  double max_gap = 0, max_latency = 0;
  bool read = false;
};

AgentStatsFile read_stats(const std::string& path) {
  AgentStatsFile s;
  std::ifstream in(path);
  if (in >> s.grants >> s.ok >> s.failed >> s.max_gap >> s.max_latency) s.read = true;
  return s;
}

std::size_t count_lines(const std::string& path, const std::string& needle) {
  std::ifstream in(path);
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line))
    if (line.find(needle) != std::string::npos) ++n;
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto num = [&] { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
    if (a == "--duration")
      cfg.duration_s = num();
    else if (a == "--agents")
      cfg.agents = num();
    else if (a == "--burners")
      cfg.burners = num();
    else if (a == "--burst-keys")
      cfg.burst_keys = num();
    else if (a == "--burst-every")
      cfg.burst_every_s = num();
    else if (a == "--value-bytes")
      cfg.value_bytes = num();
    else if (a == "--ttl")
      cfg.ttl_s = num();
    else {
      std::fprintf(stderr,
                   "usage: %s [--duration S] [--agents N] [--burners N] [--burst-keys N] "
                   "[--burst-every S] [--value-bytes N] [--ttl S]\n",
                   argv[0]);
      return 2;
    }
  }
  const fleetd::Config defaults;
  const auto ttl = cfg.ttl_s > 0
                       ? std::chrono::seconds(cfg.ttl_s)
                       : std::chrono::duration_cast<std::chrono::seconds>(defaults.agent_ttl);
  log::set_level(log::Level::warn);
  std::printf(
      "lease soak: %d agents, agent_ttl %lld s (%s), etcd_request_timeout %.1f s, %d s, %d CPU "
      "burners, a burst of %d x %d-byte puts every %d s\n",
      cfg.agents, static_cast<long long>(ttl.count()), cfg.ttl_s > 0 ? "--ttl" : "fleetd's default",
      std::chrono::duration<double>(defaults.etcd_request_timeout).count(), cfg.duration_s,
      cfg.burners, cfg.burst_keys, cfg.value_bytes, cfg.burst_every_s);
  std::printf("load average at start: %s\n", loadavg().c_str());
  std::fflush(stdout);

  EtcdOptions eo;
  eo.label = "lease-soak";
  EtcdCluster etcd(eo);
  const std::string dir = test_data_dir() + "/lease_soak";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  // Children first, before this process starts any thread.
  std::vector<pid_t> agents, burners;
  for (int i = 0; i < cfg.agents; ++i) {
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      _exit(run_agent(i, etcd.endpoints(), ttl, dir));
    }
    agents.push_back(pid);
  }
  for (int i = 0; i < cfg.burners; ++i) {
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      burn();
    }
    burners.push_back(pid);
  }
  std::printf("agents' logs under %s\n", dir.c_str());

  int rc = 0;
  std::size_t expired = 0;
  std::vector<std::string> rows;
  {
    EtcdNode node(etcd.endpoints());
    const std::string machines = node.reg().keys().machines();
    std::set<std::string> ours;
    for (int i = 0; i < cfg.agents; ++i) ours.insert(machines + machine_id(i));
    if (!wait_until(
            [&] {
              RangeRequest r{machines, prefix_end(machines)};
              r.count_only = true;
              auto got = node.call(node.kv().range(r));
              return got && got.value().count == cfg.agents;
            },
            60s, 50ms)) {
      std::printf("agents did not announce their machines\n");
      return 1;
    }
    std::printf("%d machines announced\n", cfg.agents);

    // A machine key deleted = its lease expired at etcd = the engine would fail it over.
    Reflector watch(node.kv(), machines);
    auto watching = std::make_shared<std::atomic<bool>>(false);
    auto expired_count = std::make_shared<std::atomic<std::size_t>>(0);
    node.spawn(
        [](Reflector& r, std::set<std::string> mine,
           std::shared_ptr<std::atomic<std::size_t>> n) -> Task<void> {
          while (true) {
            auto b = co_await r.next();
            if (!b) co_return;
            for (const auto& c : b.value().changes) {
              if (c.type != Change::Type::del || !mine.count(c.kv.key)) continue;
              ++*n;
              std::printf("FALSE FAILOVER: %s expired at etcd\n", c.kv.key.c_str());
              std::fflush(stdout);
            }
          }
        }(watch, ours, expired_count),
        watching);

    auto t0 = SteadyClock::now();
    const auto end = t0 + std::chrono::seconds(cfg.duration_s);
    auto next_burst = t0 + 5s;
    int bursts = 0, burst_failures = 0;
    double burst_max = 0, burst_sum = 0;
    auto last_status = t0;
    while (SteadyClock::now() < end) {
      if (SteadyClock::now() >= next_burst) {
        auto took = node.call(burst(node.kv(), cfg.burst_keys, cfg.value_bytes, bursts), 600s);
        ++bursts;
        if (took) {
          burst_max = std::max(burst_max, took.value());
          burst_sum += took.value();
        } else {
          ++burst_failures;
        }
        next_burst += std::chrono::seconds(cfg.burst_every_s);
      }
      if (SteadyClock::now() - last_status >= 60s) {
        last_status = SteadyClock::now();
        std::printf("%4.0f s: %d bursts, %zu expired at etcd, load average %s\n",
                    secs(last_status - t0), bursts, expired_count->load(), loadavg().c_str());
        std::fflush(stdout);
      }
      std::this_thread::sleep_for(200ms);
    }
    std::printf("load average at end: %s\n", loadavg().c_str());
    for (pid_t b : burners) kill(b, SIGKILL);
    for (pid_t b : burners) waitpid(b, nullptr, 0);
    for (pid_t a : agents) kill(a, SIGTERM);
    for (pid_t a : agents) {
      int status = 0;
      if (!wait_until([&] { return waitpid(a, &status, WNOHANG) == a; }, 15s)) {
        kill(a, SIGKILL);
        waitpid(a, &status, 0);
      }
    }
    watch.cancel();
    wait_until([&] { return watching->load(); }, 5s);
    expired = expired_count->load();

    std::uint64_t grants = 0, ok = 0, failed = 0;
    double gap = 0, latency = 0;
    std::size_t lost = 0;
    for (int i = 0; i < cfg.agents; ++i) {
      const std::string base = dir + "/agent" + std::to_string(i);
      auto s = read_stats(base + ".stats");
      if (!s.read) std::printf("agent %d left no statistics\n", i);
      grants += s.grants;
      ok += s.ok;
      failed += s.failed;
      gap = std::max(gap, s.max_gap);
      latency = std::max(latency, s.max_latency);
      lost += count_lines(base + ".log", "machine lease lost");
    }
    const double ttl_s = static_cast<double>(ttl.count());
    char buf[256];
    auto row = [&](const char* figure, const std::string& measured, const char* target, bool good) {
      std::snprintf(buf, sizeof buf, "%-52s %-26s %-18s %s", figure, measured.c_str(), target,
                    std::string(target) == "(report)" ? "-"
                    : good                            ? "OK"
                                                      : "MISSED");
      rows.push_back(buf);
      if (!good) rc = 1;
    };
    row("machine leases expired at etcd (false failovers)", std::to_string(expired), "0",
        expired == 0);
    row("leases the agents saw lost / re-granted",
        std::to_string(lost) + " / " +
            std::to_string(grants - std::min<std::uint64_t>(grants, cfg.agents)),
        "0", lost == 0 && grants <= static_cast<std::uint64_t>(cfg.agents));
    std::snprintf(buf, sizeof buf, "%.2f s (%.0f %% of the TTL)", gap, 100 * gap / ttl_s);
    std::string gap_s = buf;
    std::snprintf(buf, sizeof buf, "< %.1f s (3/4 TTL)", 0.75 * ttl_s);
    std::string gap_target = buf;
    row("longest time between two renewals", gap_s, gap_target.c_str(), gap < 0.75 * ttl_s);
    row("renewals ok / failed", std::to_string(ok) + " / " + std::to_string(failed), "(report)",
        true);
    std::snprintf(buf, sizeof buf, "%.3f s", latency);
    row("slowest renewal round trip", buf, "(report)", true);
    std::snprintf(buf, sizeof buf, "%d (%d failed), mean %.2f s, max %.2f s", bursts,
                  burst_failures, bursts ? burst_sum / bursts : 0.0, burst_max);
    row("etcd write bursts", buf, "(report)", true);
  }
  std::printf("\n%-52s %-26s %-18s %s\n", "figure", "measured", "target", "verdict");
  for (const auto& r : rows) std::printf("%s\n", r.c_str());
  return rc;
}
