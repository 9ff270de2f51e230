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
  reasons_.clear();
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

bool ClusterModel::apply(const registry::cluster::Unit& c) {
  if (c.record) {
    units_[c.name] = *c.record;
    return true;
  }
  units_.erase(c.name);
  auto it = spec_cache_.lower_bound({c.name, std::string()});
  while (it != spec_cache_.end() && it->first.first == c.name) it = spec_cache_.erase(it);
  return true;
}

bool ClusterModel::apply(const registry::cluster::Content& c) {
  if (c.text)
    contents_[c.hash] = Content{*c.text, c.mod_revision};
  else
    contents_.erase(c.hash);
  return true;
}

bool ClusterModel::apply(const registry::cluster::Machine& c) {
  if (c.record)
    machines_[c.id] = *c.record;
  else
    machines_.erase(c.id);
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
  if (c.machine) return assign(schedule_, c.unit, *c.machine);
  return schedule_.erase(c.unit) > 0;
}

bool ClusterModel::apply(const registry::cluster::Assigned& c) {
  if (c.assignment) return assign(assignments_, std::make_pair(c.machine, c.unit), *c.assignment);
  return assignments_.erase({c.machine, c.unit}) > 0;
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

void ClusterModel::writes_for(const Plan& plan, registry::ScheduleBatch& removals,
                              registry::ScheduleBatch& additions) const {
  std::map<std::string, std::string> schedule = schedule_;
  std::set<std::pair<std::string, std::string>> globals;  // (machine, unit)
  for (const auto& [key, a] : assignments_) {
    auto u = units_.find(a.unit);
    if (u != units_.end()) {
      const UnitSpec* s = spec_of(u->second);
      if (s && s->global) globals.insert(key);
    }
  }
  std::map<std::string, std::optional<std::string>> reasons;  // unit -> set (value) / clear
  for (const auto& t : plan.tasks) {
    switch (t.kind) {
      case TaskKind::unschedule:
        schedule.erase(t.unit);
        break;
      case TaskKind::schedule:
        schedule[t.unit] = t.machine;
        break;
      case TaskKind::unassign_global:
        globals.erase({t.machine, t.unit});
        break;
      case TaskKind::assign_global:
        globals.insert({t.machine, t.unit});
        break;
      case TaskKind::set_reason:
        reasons[t.unit] = t.reason;
        break;
      case TaskKind::clear_reason:
        reasons[t.unit] = std::nullopt;
        break;
    }
  }

  // What each agent must run follows from the final schedule and global placements; diffing it
  // against the current assignments also repairs any assignment left over from earlier leaders.
  std::map<std::pair<std::string, std::string>, registry::Assignment> want;
  auto add = [&](const std::string& machine, const std::string& unit) {
    auto u = units_.find(unit);
    if (u == units_.end() || u->second.desired == registry::TargetState::inactive) return;
    want[{machine, unit}] = registry::Assignment{unit, machine, u->second.hash, u->second.desired};
  };
  for (const auto& [unit, machine] : schedule) add(machine, unit);
  for (const auto& [machine, unit] : globals) add(machine, unit);

  for (const auto& [key, a] : assignments_)
    if (!want.count(key)) removals.unassign(key.first, key.second);
  for (const auto& [unit, machine] : schedule_)
    if (!schedule.count(unit)) removals.unschedule(unit);
  for (const auto& [unit, reason] : reasons)
    if (!reason) removals.clear_reason(unit);

  std::map<std::string, std::vector<const registry::Assignment*>> assign_by_unit;
  for (const auto& [key, a] : want) {
    auto it = assignments_.find(key);
    if (it == assignments_.end() || !(it->second == a)) assign_by_unit[a.unit].push_back(&a);
  }
  std::set<std::string> touched;
  for (const auto& [unit, machine] : schedule) {
    auto cur = schedule_.find(unit);
    if (cur == schedule_.end() || cur->second != machine) touched.insert(unit);
  }
  for (const auto& [unit, as] : assign_by_unit) touched.insert(unit);
  for (const auto& [unit, reason] : reasons)
    if (reason) touched.insert(unit);
  for (const auto& unit : touched) {
    if (auto it = schedule.find(unit); it != schedule.end()) {
      auto cur = schedule_.find(unit);
      if (cur == schedule_.end() || cur->second != it->second) additions.schedule(unit, it->second);
    }
    if (auto it = assign_by_unit.find(unit); it != assign_by_unit.end())
      for (const auto* a : it->second) additions.assign(*a);
    if (auto it = reasons.find(unit); it != reasons.end() && it->second)
      additions.set_reason(unit, *it->second);
  }
}

std::vector<std::pair<std::string, registry::Revision>> ClusterModel::unused_contents() const {
  std::set<std::string> used;
  for (const auto& [name, u] : units_) used.insert(u.hash);
  // A rolling update keeps its new and previous contents until it is over: a revert needs them.
  for (const auto& [name, r] : unit_rollouts_) {
    if (r.over()) continue;
    used.insert(r.hash);
    used.insert(r.old_hash);
    for (const auto& i : r.instances) used.insert(i.old_hash);
  }
  std::vector<std::pair<std::string, registry::Revision>> out;
  for (const auto& [hash, c] : contents_)
    if (!used.count(hash)) out.emplace_back(hash, c.mod_revision);
  return out;
}

}  // namespace fleet::engine
