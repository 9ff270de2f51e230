#pragma once
// The typed records of the shared cluster state. Their JSON encodings live in codec.cpp; their
// keys in key_layout.h. Field names follow fleet's API vocabulary so they read the same in etcd.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fleet::registry {

// A unit's desired state ("target state" in fleet's code).
enum class TargetState { inactive, loaded, launched };

std::string_view to_string(TargetState s);
std::optional<TargetState> parse_target_state(std::string_view s);

// A unit as submitted: its content lives once per hash under content/<hash>.
struct UnitRecord {
  std::string name;
  std::string hash;  // SHA-1 hex of the canonical unit text
  TargetState desired = TargetState::inactive;
  std::int64_t mod_revision = 0;  // filled on read; used for compare-and-swap
  bool operator==(const UnitRecord&) const = default;
};

// An operator's hold on a machine (`fleetctl cordon` / `drain`), stored under
// maintenance/<machine> apart from the machine's lease, so it survives fleetd restarts, reboots
// and engine hand-overs. cordoned: no new units are placed there, its units stay. draining:
// cordoned, and every non-global unit that can run elsewhere moves away (stopped there first);
// units that fit nowhere else stay, or with `force` are stopped.
enum class MaintenanceMode { none, cordoned, draining };

std::string_view to_string(MaintenanceMode m);
std::optional<MaintenanceMode> parse_maintenance_mode(std::string_view s);

struct Maintenance {
  MaintenanceMode mode = MaintenanceMode::none;
  bool force = false;      // draining only
  std::int64_t since = 0;  // Unix seconds when it was set
  bool operator==(const Maintenance&) const = default;
};

// A host announcing itself; present only while its lease lives.
struct MachineRecord {
  std::string id;
  std::string public_ip;
  std::map<std::string, std::string> metadata;
  std::string version;
  bool disable_engine = false;
  // Where this machine's fleetd API answers other fleetds (status/journal proxying); may be empty.
  std::string api_url;
  // Identifies this boot of the host (a reboot changes it, a fleetd restart does not): how a
  // rolling reboot knows the machine came back from its reboot.
  std::string boot_id = {};
  // Not part of the announced record: merged in from maintenance/<id> when machines are listed.
  Maintenance maintenance = {};  // a default keeps older aggregate initialisations valid
  bool operator==(const MachineRecord&) const = default;
};

// What one machine's agent must run: written by the engine, watched by that agent only.
struct Assignment {
  std::string unit;
  std::string machine;
  std::string hash;
  TargetState desired = TargetState::loaded;  // loaded or launched
  // The unit's text (content/<hash>), sent along by the engine when it is at most
  // kInlineContentBytes, so the agent needs no fetch; empty otherwise, and from older engines.
  // Only a carrier: readers that keep assignments drop it.
  std::string content = {};
  bool operator==(const Assignment&) const = default;
};
// Larger contents are fetched by hash. (Registry::apply also bounds each txn's bytes, since
// escaping can grow a text several times, and a txn holds up to 128 assignments.)
inline constexpr std::size_t kInlineContentBytes = 4096;

// systemd's view of a unit on one machine, reported by that machine's agent under its lease.
struct UnitStateRecord {
  std::string unit;
  std::string machine;
  std::string hash;
  std::string load_state;
  std::string active_state;
  std::string sub_state;
  bool operator==(const UnitStateRecord&) const = default;
};

// The cluster-wide reboot semaphore (locksmith's etcd-lock): at most `max` machines hold it,
// i.e. are being drained, rebooted or otherwise in maintenance at once. Under reboot/lock.
struct RebootLock {
  int max = 1;
  std::vector<std::string> holders;  // machine IDs, in the order they took a slot
  std::int64_t mod_revision = 0;     // filled on read (0: no record yet); compare-and-swap
  bool operator==(const RebootLock&) const = default;
};

// A rolling reboot (fleetctl reboot), carried out by the engine leader host by host; the record
// is the whole state, so it survives fleetctl leaving and engine hand-overs. Under
// reboot/rollout.
enum class RebootStep { pending, draining, rebooting, done, failed };
std::string_view to_string(RebootStep s);
std::optional<RebootStep> parse_reboot_step(std::string_view s);

struct RebootHost {
  std::string machine;
  RebootStep step = RebootStep::pending;
  std::string boot_id;     // rebooting: the boot it was asked to leave
  std::int64_t since = 0;  // Unix seconds the step began
  bool operator==(const RebootHost&) const = default;
};

struct RebootRollout {
  enum class State { running, done, stopped };
  State state = State::running;
  int max_unavailable = 1;        // hosts of this rollout in maintenance at once
  std::int64_t timeout_s = 600;   // per host: drained and back within this, or the rollout stops
  std::int64_t started = 0;       // Unix seconds
  std::vector<RebootHost> hosts;  // in the order they are taken
  std::string message;            // why it stopped, or a summary when done
  std::int64_t mod_revision = 0;  // filled on read (0: no record); compare-and-swap
  bool operator==(const RebootRollout&) const = default;
};
std::string_view to_string(RebootRollout::State s);

// A rolling update of a unit's content (fleetctl rollout), carried out by the engine leader
// instance by instance like the rolling reboot above (engine/rollout_planner.h); the record is the
// whole state, so it survives fleetctl leaving and engine hand-overs. Under rollouts/<name>, one
// per unit or template name. While it is not over, every content it names stays in the registry
// (the engine's content collection skips them), so a revert always has the previous content.
enum class RolloutStep { pending, replacing, healthy, failed, reverting, reverted, skipped };
std::string_view to_string(RolloutStep s);
std::optional<RolloutStep> parse_rollout_step(std::string_view s);

struct RolloutInstance {
  std::string unit;
  std::string old_hash;  // its content before the rollout
  RolloutStep step = RolloutStep::pending;
  std::string machine = {};          // where it was replaced (or reverted)
  std::int64_t since_ms = 0;         // Unix milliseconds the step began
  std::int64_t active_since_ms = 0;  // seen active on the step's content since (0: not seen)
  std::string message = {};          // failed: what systemd reported
  bool operator==(const RolloutInstance&) const = default;
};

struct UnitRollout {
  enum class State { running, reverting, done, reverted, failed, aborted };
  std::string name;      // a unit, or a template (web@.service) whose instances are rolled
  std::string hash;      // the new content
  std::string old_hash;  // the named unit's content before (a template's), if it existed
  State state = State::running;
  int max_unavailable = 1;             // instances being replaced at once
  std::int64_t min_healthy_ms = 5000;  // active this long without leaving active: healthy
  std::int64_t timeout_ms = 300000;    // per instance: healthy within this, or unhealthy
  bool revert = true;                  // put changed instances back when one is unhealthy
  bool abort = false;                  // asked to stop (fleetctl rollout --abort)
  std::int64_t started_ms = 0;
  std::int64_t ended_ms = 0;
  std::vector<RolloutInstance> instances;
  std::string message;            // why it failed or was reverted, or a summary when done
  std::int64_t mod_revision = 0;  // filled on read (0: no record); compare-and-swap
  bool operator==(const UnitRollout&) const = default;
  bool over() const { return state != State::running && state != State::reverting; }
};
std::string_view to_string(UnitRollout::State s);
std::optional<UnitRollout::State> parse_rollout_state(std::string_view s);

// What the API lists: units, schedules, reported states and reasons read at one revision.
struct UnitsSnapshot {
  std::vector<UnitRecord> units;                // sorted by name
  std::map<std::string, std::string> schedule;  // unit -> machine
  // (unit, machine) with a state -> its systemd ActiveState
  std::map<std::pair<std::string, std::string>, std::string> reported;
  std::map<std::string, std::string> reasons;  // unit -> unschedulable reason
};

}  // namespace fleet::registry
