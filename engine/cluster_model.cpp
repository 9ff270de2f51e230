#include "engine/cluster_model.h"

#include <algorithm>
#include <optional>
#include <variant>

#include "unitfile/requirements.h"
#include "unitfile/unit_file.h"

namespace fleet::engine {

UnitSpec unit_spec_from_content(const std::string& name, const std::string& content) {
  UnitSpec spec;
  spec.name = name;
  auto file = unitfile::UnitFile::parse(content);
  if (!file) return spec;  // stored contents were validated on submission; stay permissive
  auto req = unitfile::requirements_of(file.value(), name);
  spec.global = req.global;
  spec.machine_id = req.machine_id;
  spec.peers = req.peers;
  spec.conflicts = req.conflicts;
  spec.replaces = req.replaces;
  spec.metadata = req.metadata;
  return spec;
}

ClusterModel::ClusterModel(SpecParser parser) : parser_(std::move(parser)) {}

void ClusterModel::clear() {
  units_.clear();
  contents_.clear();
  refs_.clear();
  unreferenced_.clear();
  machines_.clear();
  dynamic_metadata_.clear();
  maintenance_.clear();
  running_.clear();
  rollout_.reset();
  reboot_lock_ = {};
  unit_rollouts_.clear();
  states_.clear();
  schedule_.clear();
  assignments_.clear();
  assigned_to_.clear();
  reasons_.clear();
  rewrite_all();
}

namespace {
// Sets map[key] = value; true when that changed the map.
template <class Map, class Key, class Value>
bool assign(Map& map, const Key& key, Value value) {
  auto [it, inserted] = map.try_emplace(key, value);
  if (inserted) return true;
  if (it->second == value) return false;
  it->second = std::move(value);
  return true;
}

bool is_running(std::string_view active_state) {
  return active_state == "active" || active_state == "activating" ||
         active_state == "deactivating" || active_state == "reloading";
}
}  // namespace

bool ClusterModel::draining(const std::string& machine) const {
  auto it = maintenance_.find(machine);
  return it != maintenance_.end() && it->second.mode == registry::MaintenanceMode::draining;
}

bool ClusterModel::set_running(const std::string& machine, const std::string& unit, bool running) {
  auto key = std::make_pair(machine, unit);
  bool changed = running ? running_.insert(key).second : running_.erase(key) > 0;
  return changed && draining(machine);
}

bool ClusterModel::apply(const registry::ClusterChange& change) {
  return std::visit([this](const auto& c) { return apply(c); }, change);
}

void ClusterModel::apply_written(const registry::ClusterChange& change) {
  marking_ = false;
  apply(change);
  marking_ = true;
}

void ClusterModel::ref(const std::string& hash) {
  if (++refs_[hash] == 1) unreferenced_.erase(hash);
}

void ClusterModel::unref(const std::string& hash) {
  auto r = refs_.find(hash);
  if (r == refs_.end() || --r->second > 0) return;
  refs_.erase(r);
  if (contents_.count(hash)) unreferenced_.insert(hash);
}

bool ClusterModel::apply(const registry::cluster::Unit& c) {
  mark(c.name);
  auto old = units_.find(c.name);
  if (c.record) {
    if (old == units_.end() || old->second.hash != c.record->hash) {
      ref(c.record->hash);
      if (old != units_.end()) unref(old->second.hash);
    }
    units_[c.name] = *c.record;
    return true;
  }
  if (old != units_.end()) {
    unref(old->second.hash);
    units_.erase(old);
  }
  auto it = spec_cache_.lower_bound({c.name, std::string()});
  while (it != spec_cache_.end() && it->first.first == c.name) it = spec_cache_.erase(it);
  return true;
}

bool ClusterModel::apply(const registry::cluster::Content& c) {
  if (c.text) {
    contents_[c.hash] = Content{*c.text, c.mod_revision};
    if (!refs_.count(c.hash)) unreferenced_.insert(c.hash);
  } else {
    contents_.erase(c.hash);
    unreferenced_.erase(c.hash);
  }
  return true;
}

bool ClusterModel::apply(const registry::cluster::Machine& c) {
  if (c.record) {
    machines_[c.id] = *c.record;
    return true;
  }
  machines_.erase(c.id);
  // Whatever was assigned there is looked at again, as the plan moves it.
  for (auto a = assignments_.lower_bound({c.id, std::string()});
       a != assignments_.end() && a->first.first == c.id; ++a)
    mark(a->first.second);
  return true;
}

bool ClusterModel::apply(const registry::cluster::Metadata& c) {
  if (c.value) {
    dynamic_metadata_[c.machine][c.key] = *c.value;
  } else if (auto it = dynamic_metadata_.find(c.machine); it != dynamic_metadata_.end()) {
    it->second.erase(c.key);
  }
  return true;
}

bool ClusterModel::apply(const registry::cluster::Schedule& c) {
  const bool changed =
      c.machine ? assign(schedule_, c.unit, *c.machine) : schedule_.erase(c.unit) > 0;
  if (changed) mark(c.unit);
  return changed;
}

bool ClusterModel::apply(const registry::cluster::Assigned& c) {
  bool changed = false;
  if (c.assignment) {
    // The content it may carry is the agent's; the model has each content once, by hash.
    const registry::Assignment& a = *c.assignment;
    changed = assign(assignments_, std::make_pair(c.machine, c.unit),
                     registry::Assignment{a.unit, a.machine, a.hash, a.desired});
    if (changed) assigned_to_[c.unit].insert(c.machine);
  } else if (assignments_.erase({c.machine, c.unit}) > 0) {
    changed = true;
    if (auto a = assigned_to_.find(c.unit); a != assigned_to_.end()) {
      a->second.erase(c.machine);
      if (a->second.empty()) assigned_to_.erase(a);
    }
  }
  if (changed) mark(c.unit);
  return changed;
}

bool ClusterModel::apply(const registry::cluster::Reason& c) {
  if (c.reason) return assign(reasons_, c.unit, *c.reason);
  return reasons_.erase(c.unit) > 0;
}

bool ClusterModel::apply(const registry::cluster::MaintenanceSet& c) {
  if (c.maintenance) return assign(maintenance_, c.machine, *c.maintenance);
  return maintenance_.erase(c.machine) > 0;
}

bool ClusterModel::apply(const registry::cluster::State& c) {
  bool changed = false;
  if (c.state)
    changed = assign(states_, std::make_pair(c.unit, c.machine), *c.state);
  else
    changed = states_.erase({c.unit, c.machine}) > 0;
  // States matter to the plan on draining machines, and to a rolling update's health checks.
  const bool matters = changed && rolling();
  return set_running(c.machine, c.unit, c.state && is_running(c.state->active_state)) || matters;
}

bool ClusterModel::apply(const registry::cluster::UnitRolloutSet& c) {
  if (c.rollout) return assign(unit_rollouts_, c.name, *c.rollout);
  return unit_rollouts_.erase(c.name) > 0;
}

bool ClusterModel::rolling() const {
  return std::any_of(unit_rollouts_.begin(), unit_rollouts_.end(),
                     [](const auto& r) { return !r.second.over(); });
}

bool ClusterModel::apply(const registry::cluster::Rollout& c) {
  rollout_ = c.rollout;
  return true;
}

bool ClusterModel::apply(const registry::cluster::Lock& c) {
  if (c.lock)
    reboot_lock_ = *c.lock;
  else
    reboot_lock_ = {};
  return true;
}

const UnitSpec* ClusterModel::spec_of(const registry::UnitRecord& u) const {
  auto key = std::make_pair(u.name, u.hash);
  auto it = spec_cache_.find(key);
  if (it == spec_cache_.end()) {
    auto c = contents_.find(u.hash);
    if (c == contents_.end()) return nullptr;  // content not seen yet: skip until it arrives
    it = spec_cache_.emplace(key, parser_(u.name, c->second.text)).first;
  }
  return &it->second;
}

bool ClusterModel::drained(const std::string& machine) const {
  auto stays = [&](const std::string& unit) {
    auto r = reasons_.find(unit);
    if (r != reasons_.end() && r->second.starts_with(reasons::kCannotLeavePrefix)) return true;
    auto u = units_.find(unit);
    const UnitSpec* spec = u == units_.end() ? nullptr : spec_of(u->second);
    return spec && spec->global;
  };
  for (const auto& [unit, m] : schedule_)
    if (m == machine && !stays(unit)) return false;
  for (auto r = running_.lower_bound({machine, std::string()});
       r != running_.end() && r->first == machine; ++r)
    if (!stays(r->second)) return false;
  return true;
}

std::optional<RebootView> ClusterModel::reboot_view(std::int64_t now) const {
  if (!rollout_ || rollout_->state != registry::RebootRollout::State::running) return std::nullopt;
  RebootView v;
  v.rollout = *rollout_;
  v.lock = reboot_lock_;
  v.now = now;
  for (const auto& [id, m] : machines_) v.machines[id] = RebootMachine{m.boot_id, drained(id)};
  return v;
}

std::vector<RolloutView> ClusterModel::rollout_views(std::int64_t now_ms) const {
  std::vector<RolloutView> out;
  for (const auto& [name, r] : unit_rollouts_) {
    if (r.over()) continue;
    RolloutView v;
    v.rollout = r;
    v.now_ms = now_ms;
    if (auto n = units_.find(name); n != units_.end()) v.named = n->second;
    for (const auto& i : r.instances) {
      auto u = units_.find(i.unit);
      if (u == units_.end()) continue;
      RolloutUnit ru{u->second, {}, std::nullopt};
      if (auto m = schedule_.find(i.unit); m != schedule_.end()) {
        ru.machine = m->second;
        if (auto st = states_.find({i.unit, m->second}); st != states_.end()) ru.state = st->second;
      }
      v.units.emplace(i.unit, std::move(ru));
    }
    out.push_back(std::move(v));
  }
  return out;
}

ClusterSnapshot ClusterModel::snapshot() const {
  ClusterSnapshot snap;
  snap.units.reserve(units_.size());
  std::set<std::string> globals;
  for (const auto& [name, u] : units_) {
    const UnitSpec* cached = spec_of(u);
    if (!cached) continue;
    UnitSpec spec = *cached;
    spec.name = name;
    spec.hash = u.hash;
    spec.desired = u.desired;
    if (spec.global) globals.insert(name);
    snap.units.push_back(std::move(spec));
  }
  snap.machines.reserve(machines_.size());
  for (const auto& [id, m] : machines_) {
    MachineSpec ms{id, m.metadata};
    if (auto it = dynamic_metadata_.find(id); it != dynamic_metadata_.end())
      for (const auto& [k, v] : it->second) {
        if (v.empty())
          ms.metadata.erase(k);  // an empty dynamic value removes the key
        else
          ms.metadata[k] = v;
      }
    if (auto it = maintenance_.find(id); it != maintenance_.end()) {
      ms.cordoned = it->second.mode != registry::MaintenanceMode::none;
      ms.drain = it->second.mode == registry::MaintenanceMode::draining;
      ms.force = ms.drain && it->second.force;
      if (ms.drain)
        for (auto r = running_.lower_bound({id, std::string()});
             r != running_.end() && r->first == id; ++r)
          snap.running_on_draining[r->second].insert(id);
    }
    snap.machines.push_back(std::move(ms));
  }
  snap.schedule = schedule_;
  for (const auto& [key, a] : assignments_)
    if (globals.count(a.unit)) snap.global_assignments[a.unit].insert(a.machine);
  snap.reasons = reasons_;
  return snap;
}

// Only the units that changed since the last call, and those the plan names, are compared with
// their assignments: at 100,000 units comparing every unit cost each pass ~0.3 s of CPU and a
// copy of the schedule and of every wanted assignment, while a pass usually changes a few units
// (bench/engine/model_bench.cpp). A fresh model (a new term) compares every unit once, which
// also repairs any assignment left over from earlier leaders.
void ClusterModel::writes_for(const Plan& plan, registry::ScheduleBatch& removals,
                              registry::ScheduleBatch& additions) {
  std::map<std::string, std::optional<std::string>> moved;  // unit -> machine after the plan
  std::map<std::string, std::set<std::string>> globals_added, globals_removed;  // unit -> machines
  std::map<std::string, std::optional<std::string>> reasons;  // unit -> set (value) / clear
  for (const auto& t : plan.tasks) {
    switch (t.kind) {
      case TaskKind::unschedule:
        moved[t.unit] = std::nullopt;
        break;
      case TaskKind::schedule:
        moved[t.unit] = t.machine;
        break;
      case TaskKind::unassign_global:
        globals_added[t.unit].erase(t.machine);
        globals_removed[t.unit].insert(t.machine);
        break;
      case TaskKind::assign_global:
        globals_removed[t.unit].erase(t.machine);
        globals_added[t.unit].insert(t.machine);
        break;
      case TaskKind::set_reason:
        reasons[t.unit] = t.reason;
        break;
      case TaskKind::clear_reason:
        reasons[t.unit] = std::nullopt;
        break;
    }
  }

  std::set<std::string> candidates;
  if (all_dirty_) {
    for (const auto& [unit, u] : units_) candidates.insert(unit);
    for (const auto& [unit, m] : schedule_) candidates.insert(unit);
    for (const auto& [unit, ms] : assigned_to_) candidates.insert(unit);
  } else {
    candidates.swap(dirty_);
  }
  dirty_.clear();
  all_dirty_ = false;
  for (const auto& [unit, m] : moved) candidates.insert(unit);
  for (const auto& [unit, ms] : globals_added) candidates.insert(unit);
  for (const auto& [unit, ms] : globals_removed) candidates.insert(unit);

  struct UnitWrites {
    std::optional<std::string> schedule;
    std::vector<registry::Assignment> assign;
    std::optional<std::string> reason;
  };
  std::map<std::string, UnitWrites> writes;                   // additions, by unit
  std::vector<std::pair<std::string, std::string>> unassign;  // (machine, unit)
  std::vector<std::string> unschedule;
  const std::set<std::string> none;
  for (const auto& unit : candidates) {
    const std::string* final_machine = nullptr;
    if (auto m = moved.find(unit); m != moved.end()) {
      if (m->second) final_machine = &*m->second;
    } else if (auto s = schedule_.find(unit); s != schedule_.end()) {
      final_machine = &s->second;
    }
    auto cur_sched = schedule_.find(unit);
    if (final_machine && (cur_sched == schedule_.end() || cur_sched->second != *final_machine))
      writes[unit].schedule = *final_machine;
    if (!final_machine && cur_sched != schedule_.end()) unschedule.push_back(unit);

    // What the unit's agents must run follows from its final schedule and global placements.
    auto u = units_.find(unit);
    const bool runs = u != units_.end() && u->second.desired != registry::TargetState::inactive;
    const UnitSpec* spec = u == units_.end() ? nullptr : spec_of(u->second);
    const bool global = spec && spec->global;
    auto a = assigned_to_.find(unit);
    const std::set<std::string>& current = a == assigned_to_.end() ? none : a->second;
    std::set<std::string> wanted;
    if (runs) {
      if (final_machine) wanted.insert(*final_machine);
      auto removed = globals_removed.find(unit);
      if (global)
        for (const auto& m : current)
          if (removed == globals_removed.end() || !removed->second.count(m)) wanted.insert(m);
      if (auto added = globals_added.find(unit); added != globals_added.end())
        wanted.insert(added->second.begin(), added->second.end());
    }
    for (const auto& m : current)
      if (!wanted.count(m)) unassign.emplace_back(m, unit);
    for (const auto& m : wanted) {
      auto cur = assignments_.find({m, unit});
      if (cur != assignments_.end() && cur->second.hash == u->second.hash &&
          cur->second.desired == u->second.desired)
        continue;
      registry::Assignment next{unit, m, u->second.hash, u->second.desired};
      // Sent along when small, so the agent need not fetch it (one etcd request per agent pass
      // fewer: launching 100,000 units, the agents fetched 108,769 contents). Not
      // for global units: one text copied to every machine's key would cost etcd far more
      // than the one fetch per machine it saves.
      if (auto text = contents_.find(next.hash);
          !global && text != contents_.end() &&
          text->second.text.size() <= registry::kInlineContentBytes)
        next.content = text->second.text;
      writes[unit].assign.push_back(std::move(next));
    }
  }
  for (const auto& [unit, reason] : reasons)
    if (reason) writes[unit].reason = *reason;

  std::sort(unassign.begin(), unassign.end());
  for (const auto& [machine, unit] : unassign) removals.unassign(machine, unit);
  for (const auto& unit : unschedule) removals.unschedule(unit);
  for (const auto& [unit, reason] : reasons)
    if (!reason) removals.clear_reason(unit);
  for (const auto& [unit, w] : writes) {
    if (w.schedule) additions.schedule(unit, *w.schedule);
    for (const auto& a : w.assign) additions.assign(a);
    if (w.reason) additions.set_reason(unit, *w.reason);
  }
}

void ClusterModel::rewrite_all() {
  all_dirty_ = true;
  dirty_.clear();
}

// From the contents no unit refers to, kept up to date as units and contents change: building
// the set of every unit's hash cost each pass ~0.2 s at 100,000 units.
std::vector<std::pair<std::string, registry::Revision>> ClusterModel::unused_contents() const {
  // A rolling update keeps its new and previous contents until it is over: a revert needs them.
  std::set<std::string> kept;
  for (const auto& [name, r] : unit_rollouts_) {
    if (r.over()) continue;
    kept.insert(r.hash);
    kept.insert(r.old_hash);
    for (const auto& i : r.instances) kept.insert(i.old_hash);
  }
  std::vector<std::pair<std::string, registry::Revision>> out;
  for (const auto& hash : unreferenced_) {
    auto c = contents_.find(hash);
    if (c != contents_.end() && !kept.count(hash)) out.emplace_back(hash, c->second.mod_revision);
  }
  return out;
}

}  // namespace fleet::engine
