// Planner throughput: a full plan of 100,000 units x 1,000 machines from scratch, then an
// incremental re-plan after 100 machines vanish. Prints each time next to the issue's target.
// Usage: engine_plan_bench [units] [machines]

#include <sys/resource.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "engine/planner.h"
#include "engine/planner_test_util.h"

namespace {

using fleet::engine::ClusterSnapshot;
using fleet::engine::Plan;
using fleet::engine::TargetState;
using fleet::engine::TaskKind;
using fleet::engine::UnitSpec;
// The planner tests' executor: applies a plan as the engine's writes do, an unschedule only while
// the unit is still on the machine planned from (the compare-and-swap of the real write).
using fleet::engine::testing::apply;

// A realistic mix: mostly plain services, some with MachineMetadata, template instances that
// conflict with their siblings, sidecars (MachineOf), a few Replaces and pinned units, 10 globals.
ClusterSnapshot make_cluster(int n_units, int n_machines) {
  std::mt19937 rng(42);
  ClusterSnapshot s;
  const char* roles[] = {"web", "db", "cache", "batch"};
  for (int m = 0; m < n_machines; ++m) {
    char id[33];
    std::snprintf(id, sizeof id, "%08x%024d", static_cast<unsigned>(rng()), m);
    s.machines.push_back({id, {{"role", roles[m % 4]}, {"zone", "z" + std::to_string(m % 3)}}});
  }
  for (int i = 0; i < n_units; ++i) {
    UnitSpec u;
    u.desired = i % 10 == 9 ? TargetState::loaded : TargetState::launched;
    int kind = i % 20;
    if (kind < 2) {  // instances of 200 templates, siblings conflict
      u.name = "app" + std::to_string(i % 200) + "@" + std::to_string(i) + ".service";
      u.conflicts = {"app" + std::to_string(i % 200) + "@*.service"};
    } else if (kind < 4) {
      u.name = "svc" + std::to_string(i) + ".service";
      u.metadata = {{"role", {roles[i % 4], roles[(i + 1) % 4]}}, {"zone", {"z1", "z2"}}};
    } else if (kind == 4) {  // sidecar of the previous unit
      u.name = "svc" + std::to_string(i) + "-sidecar.service";
      u.peers = {s.units.back().name};
    } else if (kind == 5 && i % 1000 == 5) {
      u.name = "svc" + std::to_string(i) + "-v2.service";
      u.replaces = {"svc" + std::to_string(i - 2) + ".service"};
    } else if (kind == 6 && i % 500 == 6) {
      u.name = "pinned" + std::to_string(i) + ".service";
      u.machine_id = s.machines[static_cast<size_t>(i) % s.machines.size()].id.substr(0, 8);
    } else {
      u.name = "svc" + std::to_string(i) + ".service";
    }
    s.units.push_back(std::move(u));
  }
  for (int g = 0; g < 10; ++g) {
    UnitSpec u;
    u.name = "global" + std::to_string(g) + ".service";
    u.desired = TargetState::launched;
    u.global = true;
    if (g % 2) u.metadata = {{"role", {roles[g % 4]}}};
    s.units.push_back(std::move(u));
  }
  return s;
}

size_t count(const Plan& p, TaskKind k) {
  size_t n = 0;
  for (const auto& t : p.tasks) n += t.kind == k;
  return n;
}

double cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Wall time is what the target is about; CPU time is printed too because the benchmark machine
// is shared and wall time then includes waiting for a core.
struct Timing {
  double wall = 0, cpu = 0;
  bool ok() const { return wall < 1.0; }
  std::string str() const {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%.3f s wall, %.3f s cpu (target < 1 s) %s", wall, cpu,
                  ok() ? "OK" : "SLOW");
    return buf;
  }
};

template <class F>
Timing measure(F&& f) {
  auto start = std::chrono::steady_clock::now();
  double cpu = cpu_now();
  f();
  return {std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
          cpu_now() - cpu};
}

}  // namespace

int main(int argc, char** argv) {
  int n_units = argc > 1 ? std::atoi(argv[1]) : 100000;
  int n_machines = argc > 2 ? std::atoi(argv[2]) : 1000;
  ClusterSnapshot s = make_cluster(n_units, n_machines);

  Plan full;
  Timing t_full = measure([&] { full = fleet::engine::plan_schedule(s); });
  std::printf(
      "full plan, %d units x %d machines: %s; %zu scheduled, "
      "%zu global assignments, %zu unschedulable\n",
      n_units, n_machines, t_full.str().c_str(), count(full, TaskKind::schedule),
      count(full, TaskKind::assign_global), full.unschedulable.size());
  apply(s, full);

  Plan settled;
  Timing t_noop = measure([&] { settled = fleet::engine::plan_schedule(s); });
  std::printf("re-plan, nothing changed: %s; %zu tasks (want 0)\n", t_noop.str().c_str(),
              settled.tasks.size());

  s.machines.erase(s.machines.begin(), s.machines.begin() + std::min<long>(100, n_machines));
  Plan after_loss;
  Timing t_loss = measure([&] { after_loss = fleet::engine::plan_schedule(s); });
  std::printf(
      "re-plan after 100 machines vanish: %s; %zu unscheduled, "
      "%zu scheduled, %zu unschedulable\n",
      t_loss.str().c_str(), count(after_loss, TaskKind::unschedule),
      count(after_loss, TaskKind::schedule), after_loss.unschedulable.size());

  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double rss = static_cast<double>(ru.ru_maxrss) / 1024.0;
  std::printf("peak RSS: %.1f MiB\n", rss);
  // The same as a Markdown table, like the other benchmarks (scripts/bench collects the rows).
  auto row = [](const std::string& figure, const Timing& t) {
    std::printf("| %s | %.2f s wall (%.2f s CPU) | < 1 s | %s |\n", figure.c_str(), t.wall, t.cpu,
                t.ok() ? "ok" : "MISSED");
  };
  const std::string size =
      std::to_string(n_units) + " units x " + std::to_string(n_machines) + " machines";
  std::printf("\n| figure | measured | target | verdict |\n|---|---|---|---|\n");
  row("in-memory full plan, " + size, t_full);
  row("in-memory re-plan after 100 machines vanish", t_loss);
  std::printf("| in-memory planner peak RSS | %.0f MiB | - | - |\n", rss);
  return settled.tasks.empty() ? 0 : 1;
}
