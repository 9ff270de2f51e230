#pragma once
// Agent: the part of fleetd that runs this machine's units. It announces the machine under a
// lease, follows only its own assignments (assign/<machine>/), drives the UnitManager through
// the pure planner, and publishes unit states from systemd's signals, batched and attached to
// the machine's lease.
//
// Restart safety: the lease ID is kept in a file under /run, so a fleetd restarted within the
// TTL resumes the same lease and adopts the units already running (nothing is restarted). After
// a longer absence the engine has moved the units elsewhere; the returning agent sees they are
// no longer assigned to it and stops its stale copies. Stopping fleetd leaves units running.
//
// Out of touch (StopOnDisconnect): when the machine lease has gone unrenewed for 3/4 of its TTL
// (or is lost), the engine may soon start this machine's units elsewhere. Units whose [X-Fleet]
// says StopOnDisconnect=true are stopped then, before that can happen, and held stopped until
// the lease is renewed again and the agent has re-read its assignments; other units keep running
// (a cut-off host cannot tell a partition from a dead registry).
//
// Loop affinity: run() and accessors on the io_context thread.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "agent/agent_plan.h"
#include "registry/event_log.h"
#include "registry/kv.h"
#include "registry/records.h"

namespace fleet::registry {
class Registry;
}

namespace fleet::agent {

class UnitManager;
struct UnitStatus;

struct AgentOptions {
  registry::MachineRecord machine;
  std::chrono::seconds ttl{30};
  std::string units_dir = "/run/fleet/units";
  std::string lease_file = "/run/fleet/machine.lease";
  // A slow full pass repairs anything a lost signal or event left behind.
  std::chrono::milliseconds resync_interval{std::chrono::seconds(60)};
  // States arriving within this window are written in one transaction.
  std::chrono::milliseconds publish_delay{50};
};

struct AgentStats {
  std::uint64_t passes = 0;
  std::uint64_t task_failures = 0;
  std::uint64_t states_published = 0;
  std::uint64_t disconnect_stops = 0;  // StopOnDisconnect units stopped while out of touch
  std::uint64_t events_dropped = 0;    // unrecorded for longer than kMaxUnrecordedEvents allow
  std::size_t units = 0;
  bool lease_held = false;
};

class Agent {
 public:
  Agent(registry::Registry& registry, UnitManager& units, AgentOptions opts);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Runs until stop() or cancellation. Leaves the units and the lease as they are.
  registry::Task<void> run();
  void stop();
  // For SIGTERM: when the host itself is shutting down (UnitManager::system_stopping()), gives
  // the machine up now (revokes its lease, which deletes its record and unit states) so that the
  // engine places its units elsewhere at once instead of after the TTL, and returns true. A
  // plain stop or restart of fleetd returns false and leaves everything for the next fleetd to
  // adopt. Either way run() then ends, as after stop().
  registry::Task<bool> stop_for_signal();

  const AgentStats& stats() const { return stats_; }
  const std::string& machine_id() const { return opts_.machine.id; }
  // Units this agent has assigned right now (unit -> desired state), for status queries.
  const std::map<std::string, registry::Assignment>& assignments() const { return desired_; }

 private:
  struct Impl;
  registry::Task<void> acquire_lease();
  registry::Task<void> announce();
  // reconcile_pass() and its steps: gather current -> plan -> execute. False when the pass
  // could not read what it compares, or could not load units (etcd or systemd unreachable).
  registry::Task<bool> reconcile_pass();
  registry::Task<bool> fetch_contents(const std::map<std::string, registry::Assignment>& desired);
  void adopt_files_on_disk();
  registry::Task<std::optional<std::map<std::string, CurrentUnit>>> gather_current();
  // False when systemd could not be reached for a load (the pass is then retried with backoff);
  // unloads are queued for the unloaders, which retry them themselves.
  registry::Task<bool> execute(const std::vector<AgentTask>& tasks,
                               const std::map<std::string, registry::Assignment>& desired,
                               const std::map<std::string, CurrentUnit>& current);
  void queue_starts(std::vector<std::string> start);
  void queue_unloads(const std::vector<std::string>& unload);
  void report(const Status& st, std::string_view what);  // counts and logs a failed task
  registry::Task<void> flush_states();
  registry::Task<void> record_events(std::vector<registry::EventRecord> events);
  // The steps of run(): join the cluster, then these side by side until stop().
  registry::Task<void> join();
  registry::Task<void> follow_assignments();
  registry::Task<void> reboot_if_asked(const std::string& boot);
  registry::Task<void> reconcile_loop();
  registry::Task<void> start_loop();
  registry::Task<void> unload_loop();
  registry::Task<void> publish_loop();
  registry::Task<void> keep_lease();
  registry::Task<void> until_stopped();
  void request_pass();  // a reconcile pass soon
  registry::Task<void> guard_connection();
  registry::Task<void> disconnect(std::string why);
  registry::Task<void> reconnect();
  bool stops_on_disconnect(const std::string& unit);
  // Takes in systemd's report of a unit; `as_of` orders reports (see observations_).
  void observe(const UnitStatus& s, std::uint64_t as_of);

  registry::Registry& registry_;
  UnitManager& units_;
  AgentOptions opts_;
  AgentStats stats_;
  std::map<std::string, registry::Assignment> desired_;
  std::map<std::string, std::string> file_hash_;  // units we manage -> content hash
  std::set<std::string> start_requested_;
  // Units queued for the unloader or being unloaded: passes leave them alone until it is done
  // (it asks for a pass then), so a unit assigned back meanwhile is loaded after its unload.
  std::set<std::string> unloading_;
  // Units whose load failed: their files may be on disk without systemd knowing them, so they
  // are not adopted from disk while still assigned here; the next pass loads them again.
  std::set<std::string> load_failed_;
  std::map<std::string, std::string> contents_;  // hash -> canonical text
  std::map<std::string, registry::UnitStateRecord> published_, pending_;
  // Reports of systemd are numbered as they are taken in: a state signal when it arrives, a
  // listing when it is asked for. A listing asked for before a report already taken in may show
  // an older state (a pass's listing, slowed by its MainPID lookups, came back after the start's
  // listing and put a started unit back to "inactive" until the next resync); it is dropped.
  std::uint64_t observations_ = 0;
  std::map<std::string, std::uint64_t> observed_at_;  // unit -> number of its newest report
  // Units unloaded since the last flush: their states are deleted by the publish loop, before it
  // writes states, never beside a write of it (flush_states()).
  std::set<std::string> unpublish_;
  // Events of published states whose write failed: written with the next flush, oldest first,
  // at most kMaxUnrecordedEvents (agent.cpp).
  std::vector<registry::EventRecord> unrecorded_events_;
  std::map<std::string, bool> stop_on_disconnect_;  // content hash -> StopOnDisconnect
  bool disconnected_ = false;                       // out of touch: see the header comment
  bool rebooting_ = false;                          // asked systemd to reboot the host
  std::set<std::string> held_;                      // StopOnDisconnect units stopped for it
  std::unique_ptr<Impl> impl_;
};

}  // namespace fleet::agent
