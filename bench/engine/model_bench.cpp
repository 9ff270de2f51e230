// The engine leader's pass without etcd: the model of 100,000 units on 5,000 machines (issue #14's
// scale run) fed as the cluster feed would, then the steps of Engine::pass() one by one —
// snapshot, plan, the registry writes for the plan, the events, the unused contents — for the
// launch of every unit, a pass where nothing changed, and the pass after 500 machines vanish.
// Every pass pays these steps whatever it has to write, so at scale they are the floor under the
// reschedule time that engine_etcd_bench --c100k measures through etcd.
// Usage: engine_model_bench [units] [machines] [lost machines]

#include <sys/resource.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/cluster_model.h"
#include "engine/plan_events.h"
#include "engine/planner.h"
#include "registry/key_layout.h"
#include "unitfile/unit_file.h"

namespace {

using namespace fleet;
using namespace fleet::engine;
namespace cluster = fleet::registry::cluster;

double cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double peak_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

struct PassTimes {
  double snapshot = 0, plan = 0, writes = 0, events = 0, contents = 0;
  std::string peaks;  // peak RSS after each step
  std::size_t tasks = 0, ops = 0;
  double total() const { return snapshot + plan + writes + events + contents; }
};

// One pass as Engine::pass() runs it, CPU seconds per step; the writes are applied to the model
// as the engine applies its own writes before their echo arrives.
PassTimes pass(ClusterModel& model, const registry::KeyLayout& keys) {
  PassTimes t;
  double c = cpu_now();
  auto step = [&](double& into) {
    double now = cpu_now();
    into = now - c;
    c = now;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%.0f", t.peaks.empty() ? "" : "/", peak_mib());
    t.peaks += buf;
  };
  Plan plan;
  {
    const ClusterSnapshot snap = model.snapshot();
    step(t.snapshot);
    plan = plan_schedule(snap);
    step(t.plan);
  }
  registry::ScheduleBatch removals(keys), additions(keys);
  model.writes_for(plan, removals, additions);
  // As Engine::write_plan(): in parts, each part's changes applied once it is written.
  auto parts = removals.split(16384);
  for (auto& p : additions.split(16384)) parts.push_back(std::move(p));
  for (auto& part : parts) {
    t.ops += part.size();
    for (const auto& ch : part.changes()) model.apply_written(ch);
    (void)part.take();  // what the registry sends
  }
  step(t.writes);
  auto events = plan_events(plan);
  step(t.events);
  auto unused = model.unused_contents();
  step(t.contents);
  t.tasks = plan.tasks.size();
  return t;
}

void print(const char* what, const PassTimes& t) {
  std::printf(
      "%-34s %6zu tasks %7zu ops: snapshot %.3f s, plan %.3f s, writes %.3f s, events %.3f s, "
      "contents %.3f s = %.3f s CPU; peak MiB after each: %s\n",
      what, t.tasks, t.ops, t.snapshot, t.plan, t.writes, t.events, t.contents, t.total(),
      t.peaks.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const int n_units = argc > 1 ? std::atoi(argv[1]) : 100000;
  const int n_machines = argc > 2 ? std::atoi(argv[2]) : 5000;
  const int n_lost = argc > 3 ? std::atoi(argv[3]) : 500;
  registry::KeyLayout keys;
  ClusterModel model;

  std::vector<std::string> ids;
  for (int m = 0; m < n_machines; ++m) {
    char id[40];
    std::snprintf(id, sizeof id, "%08x%024d", static_cast<unsigned>(m * 2654435761u), m);
    ids.push_back(id);
    registry::MachineRecord rec;
    rec.id = id;
    rec.public_ip = "127.0.0.1";
    model.apply(registry::ClusterChange{cluster::Machine{id, rec}});
  }
  // The units of engine_etcd_bench: distinct contents, so one content per unit.
  struct Named {
    std::string name, hash;
  };
  std::vector<Named> units;
  units.reserve(static_cast<std::size_t>(n_units));
  for (int i = 0; i < n_units; ++i) {
    std::string content = "[Service]\nExecStart=/bin/sleep 1000 # " + std::to_string(i) + "\n";
    Named u{"u" + std::to_string(i) + ".service", unitfile::sha1_hex(content)};
    model.apply(registry::ClusterChange{cluster::Content{u.hash, content, i + 1}});
    model.apply(registry::ClusterChange{
        cluster::Unit{u.name, registry::UnitRecord{u.name, u.hash, TargetState::inactive, 0}}});
    units.push_back(std::move(u));
  }
  const double rss_loaded = peak_mib();
  // All launched at once, as the benchmark's launch does.
  for (int i = 0; i < n_units; ++i) {
    const auto& u = units[static_cast<std::size_t>(i)];
    model.apply(registry::ClusterChange{
        cluster::Unit{u.name, registry::UnitRecord{u.name, u.hash, TargetState::launched, 0}}});
  }
  std::vector<Named>().swap(units);  // the benchmark's own list stays out of the peak
  auto launch = pass(model, keys);
  print("launch (everything placed)", launch);
  auto idle = pass(model, keys);
  print("nothing changed", idle);
  idle = pass(model, keys);
  print("nothing changed, again", idle);
  for (int m = 0; m < n_lost && m * 10 < n_machines; ++m)
    model.apply(registry::ClusterChange{
        cluster::Machine{ids[static_cast<std::size_t>(m) * 10], std::nullopt}});
  auto lost = pass(model, keys);
  print("machines lost (their units moved)", lost);
  const double rss = peak_mib();
  std::printf("peak RSS: %.1f MiB (model loaded before the first pass: %.1f MiB)\n", rss,
              rss_loaded);

  std::printf("\n| figure | measured | target | verdict |\n|---|---|---|---|\n");
  const std::string size =
      std::to_string(n_units) + " units x " + std::to_string(n_machines) + " machines";
  std::printf("| engine pass in memory, %s, nothing to do | %.2f s CPU | (report) | - |\n",
              size.c_str(), idle.total());
  std::printf("| same, after %d machines vanish (%zu ops) | %.2f s CPU | (report) | - |\n", n_lost,
              lost.ops, lost.total());
  std::printf("| engine model peak RSS | %.0f MiB | (report) | - |\n", rss);
  return idle.tasks == 0 ? 0 : 1;
}
