// fleetctl list-units / list-unit-files latency against the real API server (fleetd's pieces,
// fleetd/testing/in_process_fleetd.h) over a registry in a real etcd member (the path a user
// meets; the targets) and in memory, with 500 and 10,000 units launched over 10 machines, next
// to list-machines (process start and one request: the floor). "exec" figures run the real
// fleetctl binary (process start, HTTP over the unix socket, JSON decoding, table output to
// /dev/null); "in-process" figures call run_fleetctl directly, to show what process start costs.
// Prints figure/measured/target/ratio/verdict. Needs /usr/bin/etcd.
//
// Through etcd, fleetd serves listings from its watch-fed copy (registry/cluster_view.h); each
// figure is also measured with the copy detached (page 1 reads the whole registry, as before),
// unless --no-direct.
//
// Usage: fleetctl_listing_bench [--runs N] [--token-limit PAGE_SIZE] [--no-direct] [--units N]
//                               [--serve]
//        (not part of CTest)
// --units N measures one size only; --serve (with --units) seeds it through etcd, warms the
// listing copy, prints the endpoint and keeps serving until stdin closes: a fleetd to profile
// (`perf record -p`) while the fleetctl binary lists through it.

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "api/http_client.h"
#include "api/page_token.h"
#include "api/server/api_context.h"
#include "common/log.h"
#include "fleetctl/cli.h"
#include "fleetctl/unit_source.h"
#include "fleetd/testing/in_process_fleetd.h"
#include "registry/cluster_view.h"
#include "registry/memory_kv.h"
#include "registry/registry.h"
#include "registry/testing/raw_keys.h"
#include "tests/harness/etcd/etcd_cluster.h"

extern char** environ;

namespace {

using namespace fleet;
using SteadyClock = std::chrono::steady_clock;

double ms_since(SteadyClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
}

struct Stats {
  double median = 0, p90 = 0;
};

Stats stats_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 9 / 10)]};
}

std::string machine_id(int i) {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%08x%024d", 0xabc00000u + static_cast<unsigned>(i), i);
  return buf;
}

// 10 machines, `n` units each with its own content, launched and reported active/running.
void seed(fleetd::testing::InProcessFleetd& f, int n) {
  constexpr int kMachines = 10;
  f.run_task([&f]() -> registry::Task<void> {
    for (int m = 0; m < kMachines; ++m) {
      registry::MachineRecord rec;
      rec.id = machine_id(m);
      rec.public_ip = "10.0.0." + std::to_string(m + 1);
      rec.metadata = {{"region", m % 2 ? "east" : "west"}};
      rec.version = "bench";
      (void)co_await f.registry().put_machine(rec, 0);
    }
  }());
  auto client = api::HttpApiClient::create(api::HttpClientOptions{
      api::parse_endpoint(f.unix_endpoint()).value(), "", "", "", std::chrono::seconds(30)});
  std::vector<registry::UnitStateRecord> states;
  std::vector<std::pair<std::string, std::string>> placed;  // unit, machine
  std::vector<api::Unit> units;
  for (int i = 0; i < n; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "app-%05d.service", i);
    std::string text = "[Unit]\nDescription=Benchmark unit " + std::to_string(i) +
                       "\n\n[Service]\nExecStart=/usr/bin/app --instance " + std::to_string(i) +
                       "\n\n[X-Fleet]\nMachineMetadata=region=" + (i % 2 ? "east" : "west") + "\n";
    api::Unit& u = units.emplace_back();
    u.name = name;
    u.options = fleetctl::parse_unit_text(text).value();
    u.desired_state = "launched";
    std::string m = machine_id(i % kMachines);
    placed.emplace_back(name, m);
    states.push_back({name, m, fleetctl::unit_hash(u.options), "loaded", "active", "running"});
  }
  auto created = client.value()->create_units(units);
  if (!created) {
    std::cerr << "seeding failed: " << created.error().message << "\n";
    std::exit(1);
  }
  for (const auto& st : created.value())
    if (!st) {
      std::cerr << "seeding failed: " << st.error().message << "\n";
      std::exit(1);
    }
  f.run_task([&]() -> registry::Task<void> {
    auto& reg = f.registry();
    std::vector<registry::Op> schedules;
    for (const auto& p : placed)  // (no structured bindings: GCC 12 coroutines)
      schedules.push_back(registry::Op::put(reg.keys().schedule(p.first), p.second));
    if (auto st = co_await registry::write_in_chunks(f.store(), std::move(schedules)); !st) {
      std::cerr << "seeding schedules failed: " << st.error().describe() << "\n";
      std::exit(1);
    }
    for (std::size_t i = 0; i < states.size(); i += 100) {
      std::vector<registry::UnitStateRecord> chunk(
          states.begin() + static_cast<std::ptrdiff_t>(i),
          states.begin() + static_cast<std::ptrdiff_t>(std::min(states.size(), i + 100)));
      if (auto st = co_await reg.put_states(chunk, 0); !st) {
        std::cerr << "seeding states failed: " << st.error().describe() << "\n";
        std::exit(1);
      }
    }
  }());
}

// Wall time of the real binary, stdout to /dev/null; exits on failure.
double exec_ms(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  auto t0 = SteadyClock::now();
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) {
    std::cerr << "cannot start " << argv[0] << "\n";
    std::exit(1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  double ms = ms_since(t0);
  posix_spawn_file_actions_destroy(&fa);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::cerr << args[2] << " failed\n";
    std::exit(1);
  }
  return ms;
}

double in_process_ms(const std::string& endpoint, const std::string& command, std::size_t* bytes) {
  fleetctl::RealSystem sys;
  fleetctl::BufferOutput buf;
  fleetctl::CliEnv env{buf.output(), sys, fleetctl::http_client_factory()};
  auto t0 = SteadyClock::now();
  int code = fleetctl::run_fleetctl({"--endpoint=" + endpoint, command}, env);
  double ms = ms_since(t0);
  if (code != 0) {
    std::cerr << command << " failed: " << buf.err();
    std::exit(1);
  }
  *bytes = buf.out().size();
  return ms;
}

struct Row {
  std::string figure;
  double measured;
  double target;  // 0: no target
};

}  // namespace

int main(int argc, char** argv) {
  int runs = 15;
  int token_limit = api::kPageTokenLimit;  // fleetd's default page size (fleet: 100)
  bool with_direct = true;
  bool serve = false;
  std::vector<int> sizes{500, 10000};
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--runs" && i + 1 < argc)
      runs = std::max(1, std::atoi(argv[i + 1]));
    if (std::string(argv[i]) == "--no-direct") with_direct = false;
    if (std::string(argv[i]) == "--serve") serve = true;
    if (std::string(argv[i]) == "--units" && i + 1 < argc)
      sizes = {std::max(1, std::atoi(argv[i + 1]))};
    if (std::string(argv[i]) == "--token-limit" && i + 1 < argc)
      token_limit = std::clamp(std::atoi(argv[i + 1]), 1, 65535);
  }
  log::set_level(log::Level::warn);

  // The registry in a real etcd member, as a fleetd's (the targets' path), then in MemoryKv (what
  // the server and fleetctl cost alone).
  fleet::testing::EtcdOptions eo;
  eo.label = "listing-bench";
  fleet::testing::EtcdCluster etcd(eo);
  std::vector<Row> rows;
  for (const bool on_etcd : {true, false}) {
    for (int n : sizes) {
      std::string dir = (std::filesystem::temp_directory_path() / "fleetctl-bench-XXXXXX").string();
      if (!mkdtemp(dir.data())) return 1;
      fleetd::testing::InProcessOptions o;
      o.dir = dir;
      o.agent = false;  // the seeded states stand for the agents of 10 machines
      o.engine = false;
      o.token_limit = token_limit;
      // A fresh prefix per run: the etcd member is shared by both sizes.
      o.key_prefix = "/bench-" + std::to_string(n) + "/";
      if (on_etcd) o.etcd_endpoints = etcd.endpoints();
      fleetd::testing::InProcessFleetd f(o);
      if (auto st = f.start(); !st) {
        std::cerr << "cannot start the server: " << st.error().message << "\n";
        return 1;
      }
      auto t0 = SteadyClock::now();
      seed(f, n);
      const std::string backend = on_etcd ? "etcd" : "memory";
      std::cerr << "seeded " << n << " units (" << backend << ") in "
                << static_cast<int>(ms_since(t0)) << " ms\n";
      const double target = on_etcd ? (n == 500 ? 20 : 100) : 0;
      const std::string ep = f.unix_endpoint();
      if (serve) {
        std::size_t bytes = 0;
        (void)in_process_ms(ep, "list-units", &bytes);  // starts the listing copy
        while (!f.on_loop([&f] { return f.api().view->revision() != 0; }))
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        std::cout << ep << std::endl << "pid " << getpid() << std::endl;
        std::string line;
        while (std::getline(std::cin, line)) {
        }
        f.stop();
        std::filesystem::remove_all(dir);
        return 0;
      }
      // Through etcd, each listing also with fleetd's listing copy detached: the direct read
      // of the whole registry that page 1 of every listing made before (the "before" figures).
      std::vector<bool> copy_modes{true};
      if (on_etcd && with_direct) copy_modes.push_back(false);
      registry::ClusterView* const copy = f.on_loop([&f] { return f.api().view; });
      for (const bool use_copy : copy_modes) {
        f.on_loop([&f, use_copy, copy] {
          f.api().view = use_copy ? copy : nullptr;
          return 0;
        });
        for (const std::string cmd : {"list-machines", "list-units", "list-unit-files"}) {
          std::size_t bytes = 0;
          double warm = in_process_ms(ep, cmd, &bytes);  // warm-up (parsed-content cache)
          std::cerr << cmd << " " << n << " units: first run " << static_cast<int>(warm) << " ms\n";
          if (use_copy && cmd != "list-machines") {
            // The first listing started fleetd's listing copy (registry/cluster_view.h); the
            // figures are of the copy in use, as a fleetd listed through regularly has it.
            auto t_view = SteadyClock::now();
            while (!f.on_loop([&f] { return f.api().view->revision() != 0; }))
              std::this_thread::sleep_for(std::chrono::milliseconds(5));
            std::cerr << "  listing copy ready " << static_cast<int>(ms_since(t_view))
                      << " ms after the first run\n";
          }
          std::vector<double> exec, inproc;
          for (int r = 0; r < runs; ++r)
            exec.push_back(exec_ms({FLEETCTL_BIN, "--endpoint=" + ep, cmd}));
          for (int r = 0; r < runs; ++r) inproc.push_back(in_process_ms(ep, cmd, &bytes));
          auto e = stats_of(exec), p = stats_of(inproc);
          std::string label = "fleetctl " + cmd + ", " + std::to_string(n) + " units, " + backend;
          if (cmd != "list-machines") label += use_copy ? " (copy)" : " (direct read)";
          const double t = cmd == "list-machines" ? 0 : target;
          rows.push_back({label + " (exec, median)", e.median, t});
          rows.push_back({label + " (exec, p90)", e.p90, 0});
          rows.push_back(
              {label + " (in-process, median; " + std::to_string(bytes / 1024) + " KiB out)",
               p.median, 0});
        }
      }
      f.stop();
      std::filesystem::remove_all(dir);
    }
  }

  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::printf("%-80s %10s %8s %8s %s\n", "figure", "measured", "target", "ratio", "verdict");
  for (const auto& r : rows) {
    std::string target =
        r.target > 0 ? "< " + std::to_string(static_cast<int>(r.target)) + " ms" : "-";
    std::string ratio = "-";
    if (r.target > 0) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "%.2fx", r.measured / r.target);
      ratio = buf;
    }
    std::string verdict = r.target <= 0 ? "" : (r.measured < r.target ? "ok" : "MISSED");
    std::printf("%-80s %7.1f ms %8s %8s %s\n", r.figure.c_str(), r.measured, target.c_str(),
                ratio.c_str(), verdict.c_str());
  }
  // The figures with a target, and the floor next to them (list-machines), as a Markdown table
  // like the other benchmarks (scripts/bench collects the rows).
  std::printf("\n| figure | measured | target | verdict |\n|---|---|---|---|\n");
  for (const auto& r : rows) {
    const bool floor = r.figure.find("list-machines") != std::string::npos &&
                       r.figure.find("(exec, median)") != std::string::npos;
    if (r.target <= 0 && !floor) continue;
    if (r.target <= 0) {
      std::printf("| %s | %.1f ms | - | - |\n", r.figure.c_str(), r.measured);
      continue;
    }
    std::printf("| %s | %.1f ms = %.2fx | < %d ms | %s |\n", r.figure.c_str(), r.measured,
                r.measured / r.target, static_cast<int>(r.target),
                r.measured < r.target ? "ok" : "MISSED");
  }
  std::printf(
      "runs per figure: %d, API page size (token_limit): %d, load average: %.2f %.2f %.2f\n", runs,
      token_limit, load[0], load[1], load[2]);
  return 0;
}
