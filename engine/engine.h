#pragma once
// Engine: every fleetd runs one; the holder of the leader lease schedules. As leader it keeps a
// ClusterModel fed by the registry's typed cluster feed, and on every change (coalesced over
// a short window) plans and writes the result in fenced, batched transactions. A slow periodic
// pass is only a safety net. As follower it waits for the leader key to vanish and campaigns.
//
// Loop affinity: run() and the accessors on the io_context thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "registry/event_log.h"
#include "registry/kv.h"

namespace fleet::registry {
class Registry;
class ScheduleBatch;
}  // namespace fleet::registry

namespace fleet::metrics {
class Metrics;
}

namespace fleet::engine {

struct EngineOptions {
  std::string machine_id;
  std::chrono::seconds lease_ttl{5};
  // Safety-net period of a full pass; passes are normally driven by watch events.
  std::chrono::milliseconds reconcile_interval{std::chrono::seconds(30)};
  // How long a pass waits after the last one, and after the change that woke an idle engine,
  // so a burst of events yields one pass.
  std::chrono::milliseconds batch_window{20};
  // The event history the leader keeps (registry/event_log.h), trimmed at most once per
  // `event_trim_interval`.
  registry::EventRetention event_retention = {};
  std::chrono::seconds event_trim_interval{60};
  // Where pass durations are observed (fleet_engine_reconcile_duration_seconds); may be null.
  metrics::Metrics* metrics = nullptr;
};

struct EngineStats {
  bool leader = false;
  std::uint64_t passes = 0;
  std::uint64_t pass_failures = 0;
  std::uint64_t writes = 0;  // ops written
  double last_pass_seconds = 0;
  double total_pass_seconds = 0;
  std::int64_t leader_since_unix = 0;
  std::size_t units = 0;
  std::size_t unschedulable = 0;
};

class Engine {
 public:
  Engine(registry::Registry& registry, EngineOptions opts);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Campaigns and leads until stop() or cancellation; resigns the leadership on the way out.
  registry::Task<void> run();
  void stop();

  bool leader() const { return stats_.leader; }
  const EngineStats& stats() const { return stats_; }

 private:
  struct Impl;
  struct Term;
  registry::Task<void> follow(registry::Revision seen);
  // One term of leadership, in named steps: gather (follow_cluster) -> plan and write (pass).
  registry::Task<void> lead();
  registry::Task<void> follow_cluster(Term& term);
  registry::Task<void> reconcile_loop(Term& term);
  registry::Task<bool> pass(Term& term);
  registry::Task<void> reboot_step(Term& term);
  registry::Task<void> rollout_step(Term& term);
  registry::Task<void> trim_events(Term& term);
  registry::Task<Result<std::size_t>> write_plan(Term& term, registry::ScheduleBatch removals,
                                                 registry::ScheduleBatch additions);

  registry::Registry& registry_;
  EngineOptions opts_;
  EngineStats stats_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fleet::engine
