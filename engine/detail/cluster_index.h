#pragma once
// Folder-private indexes used by plan_schedule(): an immutable Index over the snapshot (units and
// machines sorted, names resolved to dense ids, glob patterns pre-split) and a mutable View of
// which unit sits on which machine, with per-machine unit lists, loads and load-ordered machine
// sets per MachineMetadata requirement. Unit ids follow name order and machine ids follow machine
// ID order, so "smallest id" means "alphabetically first" everywhere.

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/cluster_snapshot.h"

namespace fleet::engine::detail {

inline constexpr uint32_t kNone = UINT32_MAX;
// A glob whose literal prefix is shared by more unit names than this is matched at placement
// time instead of being expanded into per-unit neighbor lists.
inline constexpr size_t kWidePatternLimit = 1024;
using Requirement = std::map<std::string, std::set<std::string>>;

struct Pattern {
  std::string text;
  size_t prefix_len = 0;  // bytes before the first glob metacharacter
  bool literal = true;    // no metacharacter: plain string equality
  bool usable = true;     // within unitfile::kMaxGlobBytes; a longer (stored) glob matches nothing

  explicit Pattern(std::string t);
  bool matches(std::string_view name) const;
};

bool any_matches(const std::vector<Pattern>& patterns, std::string_view name);

struct UnitInfo {
  const UnitSpec* spec = nullptr;
  bool active = false;  // desired state != inactive
  std::vector<Pattern> replaces;
  // Conflicts are pre-resolved against the distinct patterns of the snapshot: `conflict_ids` are
  // this unit's own patterns, `matched_by` the patterns matching its name (sorted ids into
  // Index::conflict_patterns). Only "wide" globs, whose literal prefix covers too many names to
  // enumerate, are matched during placement (`wide_conflicts`).
  std::vector<uint32_t> conflict_ids, matched_by;
  std::vector<Pattern> wide_conflicts;
  std::vector<uint32_t> peers;             // existing peer units, sorted
  std::vector<std::string> missing_peers;  // MachineOf names that are not units
  std::vector<uint32_t> followers;         // units listing this one in MachineOf
  std::string_view name() const { return spec->name; }
  bool global() const { return spec->global; }
};

struct MachineInfo {
  const MachineSpec* spec = nullptr;
  std::string_view id() const { return spec->id; }
};

class Index {
 public:
  explicit Index(const ClusterSnapshot& s);

  std::vector<UnitInfo> units;             // sorted by name
  std::vector<MachineInfo> machines;       // sorted by ID
  std::vector<uint32_t> globals;           // global unit ids, sorted
  std::vector<Pattern> conflict_patterns;  // distinct narrow Conflicts patterns

  uint32_t unit(std::string_view name) const;
  uint32_t machine(std::string_view id) const;

  struct Resolved {
    uint32_t machine = kNone;
    size_t matches = 0;
  };
  // A full ID wins; otherwise the machines whose short ID (first 8 chars) equals `req`.
  Resolved resolve_machine_id(std::string_view req) const;
  bool metadata_ok(const Requirement& req, uint32_t m) const;
  // True when `r`'s Replaces match `v` and the relation is not circular: units whose Replaces
  // form a cycle (a->b->a, a->b->c->a, ...) ignore each other, since no placement satisfies them.
  bool replaces(uint32_t r, uint32_t v) const;
  // Machines satisfying `req`, sorted; uses a (key,value) index so narrow requirements are cheap.
  std::vector<uint32_t> machines_matching(const Requirement& req) const;

 private:
  std::unordered_map<std::string_view, uint32_t> unit_by_name_, machine_by_id_;
  std::unordered_map<std::string_view, std::vector<uint32_t>> machines_by_short_;
  std::map<std::pair<std::string_view, std::string_view>, std::vector<uint32_t>> by_meta_;
  std::vector<uint32_t> replace_cycle_;  // per unit: id of its Replaces cycle, or kNone

  // Units whose names a pattern can match (names sharing its literal prefix), in name order.
  template <class F>
  void for_each_match(const Pattern& p, F&& f) const;
  size_t prefix_range_size(const Pattern& p) const;
  void resolve_conflicts();
  void find_replace_cycles();
};

enum class Verdict {
  ok,
  machine_id,
  metadata,
  cordoned,
  peer,
  conflict,
  replaced,
  displaced_again
};

struct Check {
  Verdict verdict = Verdict::ok;
  uint32_t blocker = kNone;  // the unit responsible (peer, conflicting or replacing unit)
};

class View {
 public:
  explicit View(const Index& ix);

  uint32_t placed(uint32_t u) const { return placed_[u]; }
  bool in_view(uint32_t u) const { return in_view_[u]; }
  // Records a placement that is not (yet) visible to conflict checks (pass 1, unvalidated).
  void set_placed(uint32_t u, uint32_t m) { placed_[u] = m; }
  // Makes a non-global placement visible to conflict checks and load.
  void confirm(uint32_t u, uint32_t m);
  // Removes a non-global unit from its machine (placement and view).
  void remove(uint32_t u);
  void add_global(uint32_t g, uint32_t m);
  // Removes every global assignment; returns the removed (unit, machine) pairs.
  std::set<std::pair<uint32_t, uint32_t>> clear_globals();
  const std::set<std::pair<uint32_t, uint32_t>>& global_pairs() const { return global_pairs_; }
  bool global_on(uint32_t g, uint32_t m) const;
  bool on_machine(uint32_t u, uint32_t m) const;

  // fleet's AbleToRun for unit `u` on machine `m` against the current view. `pass2` (a new
  // placement, not a unit staying where it is) adds that a cordoned machine takes no new unit
  // and that a replacing unit may not displace a unit that was already displaced.
  Check able(uint32_t u, uint32_t m, bool pass2) const;
  // The alphabetically first unit on `m` in conflict with `u`, or kNone; `u` must not be on `m`.
  uint32_t conflict_on(uint32_t u, uint32_t m) const;
  uint32_t replaced_by(uint32_t u, uint32_t m) const;           // alphabetically first, or kNone
  std::vector<uint32_t> victims(uint32_t u, uint32_t m) const;  // units `u` replaces on `m`

  uint32_t load(uint32_t m) const { return machines_[m].load; }
  // Load-ordered machines satisfying the MachineMetadata of `u` (created on first use).
  const std::set<std::pair<uint32_t, uint32_t>>& candidates(uint32_t u);
  size_t candidate_count(uint32_t u);

  std::vector<uint32_t> replace_evicted;  // per unit: times displaced by a Replaces this pass

 private:
  struct MachineView {
    std::vector<uint32_t> units, wide_conflictors, replacers;
    // Narrow pattern id -> number of units here holding it / matched by it.
    std::unordered_map<uint32_t, uint32_t> holders, matched;
    std::vector<uint32_t> classes;  // metadata classes containing this machine
    uint32_t load = 0;
  };
  struct MetaClass {
    std::vector<uint32_t> members;
    std::set<std::pair<uint32_t, uint32_t>> by_load;
  };
  struct ReqLess {
    bool operator()(const Requirement* a, const Requirement* b) const { return *a < *b; }
  };

  void add_to_view(uint32_t u, uint32_t m);
  void count_patterns(uint32_t u, MachineView& mv, int delta);
  bool conflicts_with(uint32_t u, uint32_t e) const;
  void set_load(uint32_t m, uint32_t load);
  uint32_t class_of(uint32_t u);

  const Index& ix_;
  std::vector<uint32_t> placed_;
  std::vector<bool> in_view_;
  std::vector<MachineView> machines_;
  std::vector<uint32_t> unit_class_;
  std::vector<MetaClass> classes_;
  std::map<const Requirement*, uint32_t, ReqLess> class_by_req_;
  std::set<std::pair<uint32_t, uint32_t>> global_pairs_;  // (global unit, machine)
  std::vector<uint32_t> global_slot_;                     // unit -> row in global_on_
  std::vector<std::vector<char>> global_on_;              // [slot][machine]
};

}  // namespace fleet::engine::detail
