#include "engine/detail/cluster_index.h"

#include <algorithm>

#include "common/glob.h"
#include "unitfile/requirements.h"

namespace fleet::engine::detail {
namespace {

void erase_value(std::vector<uint32_t>& v, uint32_t x) {
  auto it = std::find(v.begin(), v.end(), x);
  if (it == v.end()) return;
  *it = v.back();
  v.pop_back();
}

std::vector<Pattern> make_patterns(const std::vector<std::string>& texts) {
  std::vector<Pattern> out;
  out.reserve(texts.size());
  for (const auto& t : texts) out.emplace_back(t);
  return out;
}

}  // namespace

Pattern::Pattern(std::string t) : text(std::move(t)) {
  usable = unitfile::within_glob_limit(text);
  prefix_len = text.find_first_of("*?[\\");
  literal = prefix_len == std::string::npos;
  if (literal) prefix_len = text.size();
}

bool Pattern::matches(std::string_view name) const {
  if (!usable) return false;
  if (literal) return name == text;
  if (name.substr(0, prefix_len) != std::string_view(text).substr(0, prefix_len)) return false;
  return glob_match(text, name);
}

bool any_matches(const std::vector<Pattern>& patterns, std::string_view name) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const Pattern& p) { return p.matches(name); });
}

Index::Index(const ClusterSnapshot& s) {
  std::vector<const UnitSpec*> sorted;
  sorted.reserve(s.units.size());
  for (const auto& spec : s.units) sorted.push_back(&spec);
  std::sort(sorted.begin(), sorted.end(),
            [](const UnitSpec* a, const UnitSpec* b) { return a->name < b->name; });
  units.resize(sorted.size());
  for (size_t i = 0; i < sorted.size(); ++i) units[i].spec = sorted[i];
  unit_by_name_.reserve(units.size());
  for (uint32_t u = 0; u < units.size(); ++u) unit_by_name_.emplace(units[u].name(), u);

  for (uint32_t u = 0; u < units.size(); ++u) {
    UnitInfo& info = units[u];
    const UnitSpec& spec = *info.spec;
    info.active = spec.desired != TargetState::inactive;
    info.replaces = make_patterns(spec.replaces);
    if (spec.global) globals.push_back(u);
    for (const auto& p : spec.peers) {
      uint32_t pu = unit(p);
      if (pu == kNone) {
        info.missing_peers.push_back(p);
      } else if (pu != u) {
        info.peers.push_back(pu);
        units[pu].followers.push_back(u);
      }
    }
    std::sort(info.peers.begin(), info.peers.end());
    info.peers.erase(std::unique(info.peers.begin(), info.peers.end()), info.peers.end());
    std::sort(info.missing_peers.begin(), info.missing_peers.end());
  }
  for (auto& info : units) {
    info.followers.erase(std::unique(info.followers.begin(), info.followers.end()),
                         info.followers.end());
  }

  find_replace_cycles();
  resolve_conflicts();

  machines.reserve(s.machines.size());
  for (const auto& m : s.machines) machines.push_back(MachineInfo{&m});
  std::sort(machines.begin(), machines.end(),
            [](const MachineInfo& a, const MachineInfo& b) { return a.id() < b.id(); });
  for (uint32_t m = 0; m < machines.size(); ++m) {
    std::string_view id = machines[m].id();
    machine_by_id_.emplace(id, m);
    machines_by_short_[id.substr(0, 8)].push_back(m);
    for (const auto& [k, v] : machines[m].spec->metadata) by_meta_[{k, v}].push_back(m);
  }
}

template <class F>
void Index::for_each_match(const Pattern& p, F&& f) const {
  if (!p.usable) return;
  if (p.literal) {
    if (uint32_t u = unit(p.text); u != kNone) f(u);
    return;
  }
  std::string_view prefix = std::string_view(p.text).substr(0, p.prefix_len);
  auto it = std::lower_bound(units.begin(), units.end(), prefix,
                             [](const UnitInfo& a, std::string_view b) { return a.name() < b; });
  for (; it != units.end() && it->name().substr(0, prefix.size()) == prefix; ++it) {
    if (p.matches(it->name())) f(static_cast<uint32_t>(it - units.begin()));
  }
}

size_t Index::prefix_range_size(const Pattern& p) const {
  std::string_view prefix = std::string_view(p.text).substr(0, p.prefix_len);
  auto less = [](const UnitInfo& a, std::string_view b) { return a.name() < b; };
  auto lo = std::lower_bound(units.begin(), units.end(), prefix, less);
  auto hi = lo;
  while (hi != units.end() && hi->name().substr(0, prefix.size()) == prefix) {
    if (hi - lo > static_cast<long>(kWidePatternLimit)) break;
    ++hi;
  }
  return static_cast<size_t>(hi - lo);
}

void Index::resolve_conflicts() {
  std::unordered_map<std::string_view, uint32_t> ids;  // pattern text -> id, kNone when wide
  for (uint32_t u = 0; u < units.size(); ++u) {
    for (const auto& text : units[u].spec->conflicts) {
      auto it = ids.find(text);
      if (it == ids.end()) {
        Pattern p(text);
        bool wide = !p.literal && prefix_range_size(p) > kWidePatternLimit;
        it =
            ids.emplace(text, wide ? kNone : static_cast<uint32_t>(conflict_patterns.size())).first;
        if (!wide) conflict_patterns.push_back(std::move(p));
      }
      if (it->second == kNone) {
        units[u].wide_conflicts.emplace_back(text);
      } else {
        units[u].conflict_ids.push_back(it->second);
      }
    }
  }
  for (uint32_t id = 0; id < conflict_patterns.size(); ++id) {
    for_each_match(conflict_patterns[id], [&](uint32_t v) { units[v].matched_by.push_back(id); });
  }
  for (auto& info : units) {
    std::sort(info.conflict_ids.begin(), info.conflict_ids.end());
    info.conflict_ids.erase(std::unique(info.conflict_ids.begin(), info.conflict_ids.end()),
                            info.conflict_ids.end());
  }
}

// Tarjan's strongly connected components over the Replaces graph, iteratively (no recursion
// depth limit). Only units that have Replaces can be on a cycle.
void Index::find_replace_cycles() {
  replace_cycle_.assign(units.size(), kNone);
  std::vector<std::vector<uint32_t>> edges(units.size());
  std::vector<uint32_t> nodes;
  for (uint32_t u = 0; u < units.size(); ++u) {
    if (units[u].replaces.empty() || units[u].global()) continue;
    nodes.push_back(u);
    for (const Pattern& p : units[u].replaces) {
      for_each_match(p, [&](uint32_t v) {
        if (v != u && !units[v].replaces.empty() && !units[v].global()) edges[u].push_back(v);
      });
    }
  }
  std::vector<uint32_t> order(units.size(), kNone), low(units.size(), 0), stack;
  std::vector<bool> on_stack(units.size(), false);
  std::vector<std::pair<uint32_t, size_t>> calls;
  uint32_t counter = 0, cycles = 0;
  for (uint32_t root : nodes) {
    if (order[root] != kNone) continue;
    auto enter = [&](uint32_t v) {
      order[v] = low[v] = counter++;
      stack.push_back(v);
      on_stack[v] = true;
      calls.emplace_back(v, 0);
    };
    enter(root);
    while (!calls.empty()) {
      auto& [v, next] = calls.back();
      if (next < edges[v].size()) {
        uint32_t w = edges[v][next++];
        if (order[w] == kNone) {
          enter(w);
        } else if (on_stack[w]) {
          low[v] = std::min(low[v], order[w]);
        }
        continue;
      }
      uint32_t done = v;
      calls.pop_back();
      if (!calls.empty()) low[calls.back().first] = std::min(low[calls.back().first], low[done]);
      if (low[done] != order[done]) continue;
      std::vector<uint32_t> component;
      uint32_t w = kNone;
      do {
        w = stack.back();
        stack.pop_back();
        on_stack[w] = false;
        component.push_back(w);
      } while (w != done);
      if (component.size() < 2) continue;
      for (uint32_t c : component) replace_cycle_[c] = cycles;
      ++cycles;
    }
  }
}

bool Index::replaces(uint32_t r, uint32_t v) const {
  if (r == v || !any_matches(units[r].replaces, units[v].name())) return false;
  return replace_cycle_[r] == kNone || replace_cycle_[r] != replace_cycle_[v];
}

uint32_t Index::unit(std::string_view name) const {
  auto it = unit_by_name_.find(name);
  return it == unit_by_name_.end() ? kNone : it->second;
}

uint32_t Index::machine(std::string_view id) const {
  auto it = machine_by_id_.find(id);
  return it == machine_by_id_.end() ? kNone : it->second;
}

Index::Resolved Index::resolve_machine_id(std::string_view req) const {
  if (uint32_t m = machine(req); m != kNone) return {m, 1};
  auto it = machines_by_short_.find(req);
  if (it == machines_by_short_.end()) return {};
  return {it->second.size() == 1 ? it->second.front() : kNone, it->second.size()};
}

bool Index::metadata_ok(const Requirement& req, uint32_t m) const {
  const auto& md = machines[m].spec->metadata;
  for (const auto& [key, values] : req) {
    auto it = md.find(key);
    if (it == md.end() || values.count(it->second) == 0) return false;
  }
  return true;
}

std::vector<uint32_t> Index::machines_matching(const Requirement& req) const {
  std::vector<uint32_t> out;
  if (req.empty()) {
    out.resize(machines.size());
    for (uint32_t m = 0; m < machines.size(); ++m) out[m] = m;
    return out;
  }
  // Start from the key whose allowed values cover the fewest machines, then filter.
  const std::set<std::string>* narrow_values = nullptr;
  std::string_view narrow_key;
  size_t narrow_count = SIZE_MAX;
  for (const auto& [key, values] : req) {
    size_t count = 0;
    for (const auto& v : values) {
      auto it = by_meta_.find({key, v});
      if (it != by_meta_.end()) count += it->second.size();
    }
    if (count < narrow_count) {
      narrow_count = count;
      narrow_key = key;
      narrow_values = &values;
    }
  }
  for (const auto& v : *narrow_values) {
    auto it = by_meta_.find({narrow_key, v});
    if (it == by_meta_.end()) continue;
    for (uint32_t m : it->second) {
      if (metadata_ok(req, m)) out.push_back(m);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

View::View(const Index& ix)
    : replace_evicted(ix.units.size(), 0),
      ix_(ix),
      placed_(ix.units.size(), kNone),
      in_view_(ix.units.size(), false),
      machines_(ix.machines.size()),
      unit_class_(ix.units.size(), kNone),
      global_slot_(ix.units.size(), kNone) {
  for (uint32_t g : ix.globals) {
    global_slot_[g] = static_cast<uint32_t>(global_on_.size());
    global_on_.emplace_back(ix.machines.size(), 0);
  }
}

void View::add_to_view(uint32_t u, uint32_t m) {
  MachineView& mv = machines_[m];
  const UnitInfo& info = ix_.units[u];
  mv.units.push_back(u);
  if (!info.wide_conflicts.empty()) mv.wide_conflictors.push_back(u);
  count_patterns(u, mv, 1);
  if (!info.global() && !info.replaces.empty()) mv.replacers.push_back(u);
  set_load(m, mv.load + 1);
}

void View::confirm(uint32_t u, uint32_t m) {
  placed_[u] = m;
  in_view_[u] = true;
  add_to_view(u, m);
}

void View::remove(uint32_t u) {
  uint32_t m = placed_[u];
  placed_[u] = kNone;
  if (m == kNone || !in_view_[u]) return;
  in_view_[u] = false;
  MachineView& mv = machines_[m];
  erase_value(mv.units, u);
  erase_value(mv.wide_conflictors, u);
  count_patterns(u, mv, -1);
  erase_value(mv.replacers, u);
  set_load(m, mv.load - 1);
}

void View::add_global(uint32_t g, uint32_t m) {
  global_pairs_.emplace(g, m);
  global_on_[global_slot_[g]][m] = 1;
  add_to_view(g, m);
}

std::set<std::pair<uint32_t, uint32_t>> View::clear_globals() {
  for (const auto& [g, m] : global_pairs_) {
    MachineView& mv = machines_[m];
    erase_value(mv.units, g);
    erase_value(mv.wide_conflictors, g);
    count_patterns(g, mv, -1);
    set_load(m, mv.load - 1);
    global_on_[global_slot_[g]][m] = 0;
  }
  return std::exchange(global_pairs_, {});
}

bool View::global_on(uint32_t g, uint32_t m) const {
  return global_slot_[g] != kNone && global_on_[global_slot_[g]][m] != 0;
}

bool View::on_machine(uint32_t u, uint32_t m) const {
  if (ix_.units[u].global()) return global_on(u, m);
  return in_view_[u] && placed_[u] == m;
}

void View::set_load(uint32_t m, uint32_t load) {
  MachineView& mv = machines_[m];
  for (uint32_t c : mv.classes) {
    classes_[c].by_load.erase({mv.load, m});
    classes_[c].by_load.emplace(load, m);
  }
  mv.load = load;
}

Check View::able(uint32_t u, uint32_t m, bool pass2) const {
  const UnitInfo& info = ix_.units[u];
  const UnitSpec& spec = *info.spec;
  if (!spec.machine_id.empty() && ix_.resolve_machine_id(spec.machine_id).machine != m) {
    return {Verdict::machine_id, kNone};
  }
  if (!ix_.metadata_ok(spec.metadata, m)) return {Verdict::metadata, kNone};
  if (pass2 && ix_.machines[m].spec->cordoned) return {Verdict::cordoned, kNone};
  for (uint32_t p : info.peers) {
    const UnitInfo& peer = ix_.units[p];
    bool here = peer.global() ? peer.active && ix_.metadata_ok(peer.spec->metadata, m)
                              : peer.active && placed_[p] == m;
    if (!here) return {Verdict::peer, p};
  }
  if (!info.missing_peers.empty()) return {Verdict::peer, kNone};
  if (uint32_t c = conflict_on(u, m); c != kNone) return {Verdict::conflict, c};
  if (uint32_t r = replaced_by(u, m); r != kNone) return {Verdict::replaced, r};
  if (pass2) {
    for (uint32_t v : victims(u, m)) {
      if (replace_evicted[v] > 0) return {Verdict::displaced_again, v};
    }
  }
  return {};
}

void View::count_patterns(uint32_t u, MachineView& mv, int delta) {
  const UnitInfo& info = ix_.units[u];
  auto bump = [delta](std::unordered_map<uint32_t, uint32_t>& counts, uint32_t id) {
    uint32_t& n = counts[id];
    n = static_cast<uint32_t>(static_cast<int>(n) + delta);
    if (n == 0) counts.erase(id);
  };
  for (uint32_t id : info.conflict_ids) bump(mv.holders, id);
  for (uint32_t id : info.matched_by) bump(mv.matched, id);
}

bool View::conflicts_with(uint32_t u, uint32_t e) const {
  const UnitInfo& a = ix_.units[u];
  const UnitInfo& b = ix_.units[e];
  auto intersects = [](const std::vector<uint32_t>& x, const std::vector<uint32_t>& y) {
    auto i = x.begin();
    auto j = y.begin();
    while (i != x.end() && j != y.end()) {
      if (*i == *j) return true;
      *i < *j ? ++i : ++j;
    }
    return false;
  };
  return intersects(a.conflict_ids, b.matched_by) || intersects(b.conflict_ids, a.matched_by) ||
         any_matches(a.wide_conflicts, b.name()) || any_matches(b.wide_conflicts, a.name());
}

uint32_t View::conflict_on(uint32_t u, uint32_t m) const {
  const UnitInfo& info = ix_.units[u];
  const MachineView& mv = machines_[m];
  // Fast path: per-machine pattern counts say whether any conflict exists at all.
  bool found = false;
  for (uint32_t id : info.conflict_ids) found = found || mv.matched.count(id) > 0;
  for (uint32_t id : info.matched_by) found = found || mv.holders.count(id) > 0;
  for (uint32_t e : mv.wide_conflictors) {
    found = found || (e != u && any_matches(ix_.units[e].wide_conflicts, info.name()));
  }
  if (!found && info.wide_conflicts.empty()) return kNone;
  // Slow path, only when there is a conflict (or a wide pattern): name the first culprit.
  uint32_t best = kNone;
  for (uint32_t e : mv.units) {
    if (e != u && e < best && conflicts_with(u, e)) best = e;
  }
  return best;
}

uint32_t View::replaced_by(uint32_t u, uint32_t m) const {
  uint32_t best = kNone;
  for (uint32_t r : machines_[m].replacers) {
    if (r == u || r > best) continue;
    if (ix_.replaces(r, u)) best = r;
  }
  return best;
}

std::vector<uint32_t> View::victims(uint32_t u, uint32_t m) const {
  const UnitInfo& info = ix_.units[u];
  std::vector<uint32_t> out;
  if (info.replaces.empty()) return out;
  auto consider = [&](uint32_t v) {
    const UnitInfo& vi = ix_.units[v];
    if (v == u || vi.global() || !in_view_[v] || placed_[v] != m) return;
    if (ix_.replaces(u, v)) out.push_back(v);
  };
  for (const Pattern& p : info.replaces) {
    if (p.literal) {
      if (uint32_t v = ix_.unit(p.text); v != kNone) consider(v);
      continue;
    }
    for (uint32_t v : machines_[m].units) {
      if (p.matches(ix_.units[v].name())) consider(v);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

uint32_t View::class_of(uint32_t u) {
  if (unit_class_[u] != kNone) return unit_class_[u];
  const Requirement* req = &ix_.units[u].spec->metadata;
  auto [it, inserted] = class_by_req_.emplace(req, static_cast<uint32_t>(classes_.size()));
  if (inserted) {
    MetaClass cls;
    cls.members = ix_.machines_matching(*req);
    for (uint32_t m : cls.members) {
      cls.by_load.emplace(machines_[m].load, m);
      machines_[m].classes.push_back(it->second);
    }
    classes_.push_back(std::move(cls));
  }
  unit_class_[u] = it->second;
  return it->second;
}

const std::set<std::pair<uint32_t, uint32_t>>& View::candidates(uint32_t u) {
  return classes_[class_of(u)].by_load;
}

size_t View::candidate_count(uint32_t u) { return classes_[class_of(u)].members.size(); }

}  // namespace fleet::engine::detail
