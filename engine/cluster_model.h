#pragma once
// The engine leader's in-memory model of the cluster, fed by the registry's typed cluster feed
// (Registry::watch_cluster()). It turns those records into the planner's ClusterSnapshot and turns
// a Plan back into the registry writes (schedule, per-machine assignments, reasons, and collection
// of unit contents no unit uses any more). Pure: no I/O.

#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "engine/cluster_snapshot.h"
#include "engine/planner.h"
#include "engine/reboot_planner.h"
#include "engine/rollout_planner.h"
#include "registry/cluster_feed.h"
#include "registry/kv.h"
#include "registry/records.h"
#include "registry/registry.h"

namespace fleet::engine {

// Derives a unit's scheduling requirements from its name and canonical content. Injected so the
// model stays testable; production uses unitfile (see unit_spec_from_content()).
using SpecParser = std::function<UnitSpec(const std::string& name, const std::string& content)>;

UnitSpec unit_spec_from_content(const std::string& name, const std::string& content);

class ClusterModel {
 public:
  explicit ClusterModel(SpecParser parser = unit_spec_from_content);

  // Applies one change of the cluster. False when the change left the model as it was — the
  // watch echo of the engine's own schedule writes, already applied locally — so the engine need
  // not plan again for it.
  bool apply(const registry::ClusterChange& change);
  // Applies a write of the engine's own writes_for() once it is made: it brings the model to
  // what was just compared, so it does not mark its unit for the next writes_for().
  void apply_written(const registry::ClusterChange& change);
  void clear();

  ClusterSnapshot snapshot() const;

  // The registry writes that realise `plan` on top of the current model. Content collection is
  // returned separately because it is conditional on each content's revision. Only units that
  // changed since the previous call (or that the plan names) are compared with their
  // assignments; every unit after clear() or rewrite_all().
  void writes_for(const Plan& plan, registry::ScheduleBatch& batch) {
    writes_for(plan, batch, batch);
  }
  // The same writes split in two: `removals` (unassignments, unschedulings, cleared reasons)
  // must be applied before `additions`, so that no agent is told to start a unit before the
  // agent it moves away from (or a unit it conflicts with) was told to stop. Additions are
  // grouped per unit — its schedule, then its assignments — so a unit's writes share a txn.
  void writes_for(const Plan& plan, registry::ScheduleBatch& removals,
                  registry::ScheduleBatch& additions);
  // The writes of the last writes_for() were not made: the next one compares every unit again.
  void rewrite_all();
  std::vector<std::pair<std::string, registry::Revision>> unused_contents() const;

  // The state a rolling reboot is decided on, when one is running; `now` in Unix seconds.
  std::optional<RebootView> reboot_view(std::int64_t now) const;
  // The state each rolling update in progress is decided on; `now_ms` in Unix milliseconds.
  std::vector<RolloutView> rollout_views(std::int64_t now_ms) const;

  std::size_t unit_count() const { return units_.size(); }
  std::size_t machine_count() const { return machines_.size(); }
  const std::map<std::string, std::string>& schedule() const { return schedule_; }

 private:
  struct Content {
    std::string text;
    registry::Revision mod_revision = 0;
  };
  const UnitSpec* spec_of(const registry::UnitRecord& u) const;
  bool draining(const std::string& machine) const;
  // No unit that could leave is scheduled or running on `machine` (global units and units that
  // cannot leave a draining machine do not count).
  bool drained(const std::string& machine) const;
  // Records whether `unit` runs on `machine`; true when that matters to the plan.
  bool set_running(const std::string& machine, const std::string& unit, bool running);

  bool apply(const registry::cluster::Unit& c);
  bool apply(const registry::cluster::Content& c);
  bool apply(const registry::cluster::Machine& c);
  bool apply(const registry::cluster::Metadata& c);
  bool apply(const registry::cluster::Schedule& c);
  bool apply(const registry::cluster::Assigned& c);
  bool apply(const registry::cluster::Reason& c);
  bool apply(const registry::cluster::MaintenanceSet& c);
  bool apply(const registry::cluster::State& c);
  bool apply(const registry::cluster::Rollout& c);
  bool apply(const registry::cluster::Lock& c);
  bool apply(const registry::cluster::UnitRolloutSet& c);
  bool rolling() const;  // a rolling update is in progress

  SpecParser parser_;
  std::map<std::string, registry::UnitRecord> units_;
  std::map<std::string, Content> contents_;
  std::map<std::string, int> refs_;     // content hash -> units whose record names it
  std::set<std::string> unreferenced_;  // hashes in contents_ that no unit names
  void ref(const std::string& hash);
  void unref(const std::string& hash);
  std::map<std::string, registry::MachineRecord> machines_;
  std::map<std::string, std::map<std::string, std::string>> dynamic_metadata_;
  std::map<std::string, registry::Maintenance> maintenance_;  // machine -> cordon/drain
  // (machine, unit) pairs whose reported state is running; only draining machines' matter to
  // the planner, but states may arrive before the drain does.
  std::set<std::pair<std::string, std::string>> running_;
  std::optional<registry::RebootRollout> rollout_;
  registry::RebootLock reboot_lock_;
  std::map<std::string, registry::UnitRollout> unit_rollouts_;  // by name
  // Reported states by (unit, machine): what a rolling update judges an instance's health by.
  std::map<std::pair<std::string, std::string>, registry::UnitStateRecord> states_;
  std::map<std::string, std::string> schedule_;
  std::map<std::pair<std::string, std::string>, registry::Assignment> assignments_;  // (m, u)
  std::map<std::string, std::set<std::string>> assigned_to_;  // unit -> machines in assignments_
  // Units whose records, schedule or assignments changed since the last writes_for(): the only
  // ones whose assignments can be out of date, unless all_dirty_.
  std::set<std::string> dirty_;
  bool all_dirty_ = true;
  bool marking_ = true;  // false while apply_written() runs
  void mark(const std::string& unit) {
    if (marking_) dirty_.insert(unit);
  }
  std::map<std::string, std::string> reasons_;
  // Parsing unit files is the costly part of a pass: cache by (name, hash); contents are immutable.
  mutable std::map<std::pair<std::string, std::string>, UnitSpec> spec_cache_;
};

}  // namespace fleet::engine
