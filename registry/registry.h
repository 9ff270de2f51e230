#pragma once
// Registry: the typed view of the shared cluster state, built once over any KvStore (etcd in
// production, MemoryKv in unit tests and `fleetd --dev`), and the only way into it: the key layout
// (key_layout.h) and the value codecs (codec.h) are not seen outside registry/.
//
// Loop affinity and errors as KvStore: every call runs on the io_context thread, may suspend and
// returns a Result. Absence is Errc::not_found unless the return type is optional.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "registry/assignment_feed.h"
#include "registry/cluster_feed.h"
#include "registry/cluster_view.h"
#include "registry/event_log.h"
#include "registry/kv.h"
#include "registry/lease_keeper.h"
#include "registry/records.h"

namespace fleet::registry {

class KeyLayout;

// One step of a rolling reboot as the engine leader decided it (engine/reboot_planner.h): the
// new rollout and lock records (each written only if unchanged since read: their mod_revision),
// drains set or lifted, reboot requests made or withdrawn.
struct RebootWrite {
  RebootRollout rollout;
  RebootLock lock;
  std::map<std::string, Maintenance> maintenance;  // mode none: lift
  std::map<std::string, std::optional<std::string>> requests;
};

// One step of a rolling update as the engine leader decided it (engine/rollout_planner.h): the
// new rollout record and the unit records it changes (each written only if unchanged since read:
// their mod_revision), in one fenced txn.
struct RolloutWrite {
  UnitRollout rollout;
  std::vector<UnitRecord> units;
};

// A set of fenced writes of the engine leader (schedule, assignments, reasons).
class ScheduleBatch {
 public:
  explicit ScheduleBatch(const KeyLayout& keys) : keys_(&keys) {}
  void schedule(const std::string& unit, const std::string& machine);
  void unschedule(const std::string& unit);
  void assign(const Assignment& a);
  void unassign(const std::string& machine, const std::string& unit);
  void set_reason(const std::string& unit, const std::string& reason);
  void clear_reason(const std::string& unit);
  void delete_content(const std::string& hash);
  bool empty() const { return ops_.empty(); }
  std::size_t size() {
    compact();
    return ops_.size();
  }
  // The batch as the changes a ClusterFeed will report once it is written (so the engine can
  // apply its own writes to its model before their echo arrives).
  std::vector<ClusterChange> changes();
  std::vector<Op> take() {
    compact();
    return std::move(ops_);
  }
  // The batch in consecutive parts of at most `max_ops` ops, in order (this batch is left
  // empty): a large plan is written and applied part by part, so the changes of only one part
  // are held at a time.
  std::vector<ScheduleBatch> split(std::size_t max_ops);

 private:
  // etcd rejects a txn naming one key twice, so a later write to a key replaces the earlier one
  // (keeping the earlier one's place). Done once before the ops are used rather than with an
  // index per add: at 100,000 units that index was a second copy of every key.
  void add(Op op) {
    ops_.push_back(std::move(op));
    compacted_ = false;
  }
  void compact();

  const KeyLayout* keys_;
  std::vector<Op> ops_;
  bool compacted_ = true;
};

class Registry {
 public:
  // Keys under `prefix` (default "/fleet/").
  Registry(KvStore& kv, std::string prefix);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // For tests that play another component at the key level (they include key_layout.h).
  const KeyLayout& keys() const { return keys_; }

  // --- typed feeds and leases ---
  // `machine`'s assignments as typed changes (agent).
  std::unique_ptr<AssignmentFeed> watch_assignments(std::string machine);
  // The whole cluster as typed changes (engine leader's model).
  std::unique_ptr<ClusterFeed> watch_cluster();
  // A watch-fed copy of what listings show, followed while it is read (API).
  std::unique_ptr<ClusterView> cluster_view(ClusterViewOptions opts = {});
  // Changes of the leader key after revision `after` (a follower waiting to campaign again).
  std::unique_ptr<Watcher> watch_leader(Revision after);
  // A keeper of one lease on this registry's store (machine and leader leases).
  std::unique_ptr<LeaseKeeper> lease_keeper(LeaseKeeperOptions opts);
  // The cluster's event history (event_log.h).
  EventLog& events() { return events_; }

  // --- units (API) ---
  Task<Result<std::optional<UnitRecord>>> get_unit(std::string name);
  Task<Result<std::vector<UnitRecord>>> list_units();  // sorted by name
  // Errc::not_found when no unit content has this hash.
  Task<Result<std::string>> get_content(std::string hash);
  // Many contents in few round trips (txns of gets): the ones found, by hash; a hash with no
  // content is absent from the answer.
  Task<Result<std::map<std::string, std::string>>> get_contents(std::vector<std::string> hashes);
  // Creates the unit and stores its content; Errc::already_exists if the name is taken.
  Task<Status> create_unit(UnitRecord unit, std::string content);
  // Replaces content and desired state if the unit is unchanged since `expected` was read;
  // Errc::conflict otherwise, Errc::not_found if it vanished.
  Task<Status> replace_unit(const UnitRecord& expected, UnitRecord unit, std::string content);
  Task<Status> set_desired_state(std::string name, TargetState desired);
  // The same, starting from `current` as already read (one round trip less); re-reads only if
  // the unit changed since.
  Task<Status> set_desired_state(UnitRecord current, TargetState desired);
  Task<Status> destroy_unit(std::string name);  // Errc::not_found if absent

  // Many units at once, in few round trips (records read by txns of gets, written by txns that
  // compare each unit's mod_revision; a txn that loses a race is redone unit by unit). One status
  // per entry, in order, as the single-unit call would give it; a name given twice gets the same.
  Task<std::vector<Status>> set_desired_states(
      std::vector<std::pair<std::string, TargetState>> changes);
  Task<std::vector<Status>> destroy_units(std::vector<std::string> names);
  // Many new units (record and content each) in few txns, each unit created only if its name is
  // free; a txn that finds a name taken is redone unit by unit, so every entry gets the status
  // create_unit would give it (Errc::already_exists for a taken name, the second copy of a name
  // given twice included).
  Task<std::vector<Status>> create_units(std::vector<std::pair<UnitRecord, std::string>> units);

  // --- machines (agent, API) ---
  Task<Status> put_machine(const MachineRecord& m, LeaseId lease);
  // Writes the record only if no record exists or the existing one is under `lease` (ours):
  // a live record of another fleetd with the same machine ID (duplicate /etc/machine-id) is
  // never taken over; Errc::already_exists then.
  Task<Status> claim_machine(const MachineRecord& m, LeaseId lease);
  // Announced machines with dynamic metadata merged in; sorted by ID.
  Task<Result<std::vector<MachineRecord>>> list_machines();
  Task<Status> set_metadata(std::string machine, std::string key, std::string value);
  // Cordon or drain `machine` (mode != none), or lift it (mode none: deletes the record; not an
  // error when there is none). Kept apart from the machine's lease: it outlives restarts.
  Task<Status> set_maintenance(std::string machine, Maintenance m);

  // --- rolling reboots (API, engine) ---
  // The rollout (nullopt if none was ever started) and the semaphore, read at one revision.
  Task<Result<std::pair<std::optional<RebootRollout>, RebootLock>>> reboot_state();
  // Records a new rollout unless one is running (Errc::already_exists, nothing written). With
  // `lock_max`, also sets the semaphore's max.
  Task<Status> start_reboot_rollout(RebootRollout rollout, std::optional<int> lock_max);
  // Changes the semaphore by `change` (which may refuse with an error) with compare-and-swap,
  // retried on a concurrent change.
  Task<Status> update_reboot_lock(std::function<Status(RebootLock&)> change);
  // Writes an engine decision, fenced on the leader lease and conditional on the rollout and
  // lock being unchanged; Errc::conflict otherwise (decide again on fresh state).
  Task<Status> write_reboot_step(RebootWrite w, LeaseId fence);

  // --- rolling updates (API, engine) ---
  Task<Result<std::vector<UnitRollout>>> list_rollouts();  // sorted by name
  Task<Result<std::optional<UnitRollout>>> get_rollout(std::string name);
  // Records a new rollout and stores its content, unless one of that name is in progress
  // (Errc::already_exists). `named`, when given, is the named unit as read (a template): it gets
  // the new content in the same txn, if unchanged since (Errc::conflict otherwise).
  Task<Status> start_rollout(UnitRollout rollout, std::string content,
                             std::optional<UnitRecord> named);
  // Asks the engine to stop a rollout in progress (and revert, if the rollout reverts).
  // Errc::not_found without one, Errc::conflict when it is over.
  Task<Status> abort_rollout(std::string name);
  // Writes an engine decision, fenced on the leader lease and conditional on the rollout and
  // units being unchanged; Errc::conflict otherwise (decide again on fresh state). The
  // revision it was written at (the records' new mod_revision).
  Task<Result<Revision>> write_rollout_step(RolloutWrite w, LeaseId fence);

  // --- unit states (agent, API) ---
  Task<Status> put_states(const std::vector<UnitStateRecord>& states, LeaseId lease);
  Task<Status> delete_states(std::string machine, const std::vector<std::string>& units);
  Task<Result<std::vector<UnitStateRecord>>> list_states();  // sorted by (unit, machine)
  // The states reported for one unit (one per machine that runs it; several for a global unit).
  Task<Result<std::vector<UnitStateRecord>>> states_of(std::string unit);
  // Every unit, or only `name` (then `units` holds at most one record), with schedules, states
  // and reasons, all read at one revision (one txn).
  Task<Result<UnitsSnapshot>> units_snapshot(std::optional<std::string> name);

  // --- engine ---
  // An empty batch of the leader's writes, for apply().
  ScheduleBatch schedule_batch() const { return ScheduleBatch(keys_); }
  Task<Result<std::vector<Assignment>>> list_assignments(std::string machine);
  Task<Result<std::optional<std::string>>> get_schedule(std::string unit);
  Task<Result<std::optional<std::string>>> get_reason(std::string unit);
  // Becomes leader if nobody is; true when `machine` holds the leadership with `lease`.
  // `seen`, when given, receives the store's revision at the campaign (watch from seen + 1 to
  // miss no later change of the leader key).
  Task<Result<bool>> campaign(std::string machine, LeaseId lease, Revision* seen = nullptr);
  Task<Result<std::optional<std::string>>> leader();
  Task<Status> resign(LeaseId lease);
  // Applies the batch in as few txns as the backend allows, each fenced on still holding the
  // leader lease. Errc::conflict when the fence failed (deposed): nothing further is written.
  Task<Status> apply(ScheduleBatch batch, LeaseId fence);
  // Deletes unit contents no unit uses, each only if unchanged since `mod_revision` (a unit
  // created meanwhile with the same content rewrote it). Fenced like apply().
  Task<Status> collect_contents(const std::vector<std::pair<std::string, Revision>>& unused,
                                LeaseId fence);

 private:
  Task<Result<RangeResponse>> range_prefix(const std::string& prefix);
  Task<Result<std::vector<UnitStateRecord>>> states_under(std::string prefix);

  KvStore& kv_;
  std::unique_ptr<const KeyLayout> layout_;
  const KeyLayout& keys_;  // *layout_
  EventLog events_;
};

}  // namespace fleet::registry
