#pragma once
// Everything the scheduler looks at, copied out of the registry at the start of an engine pass.
// Plain data: the planner never performs I/O, so tests build these by hand.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/target_state.h"

namespace fleet::engine {

// The scheduling-relevant view of one fleet unit (its [X-Fleet] requirements, already parsed,
// deduplicated and with specifiers substituted by the caller).
struct UnitSpec {
  std::string name;
  TargetState desired = TargetState::inactive;
  std::string hash;  // content hash; not used for placement, carried for the caller's convenience
  bool global = false;
  std::string machine_id;          // required MachineID: full ID or 8-char short ID; empty = none
  std::vector<std::string> peers;  // MachineOf: exact unit names that must share the machine
  std::vector<std::string> conflicts;  // Conflicts globs (Go path.Match), matched both ways
  std::vector<std::string> replaces;   // Replaces globs: matched units are moved away
  // MachineMetadata: same key = any of the values, different keys = all of them.
  std::map<std::string, std::set<std::string>> metadata;
};

struct MachineSpec {
  std::string id;
  std::map<std::string, std::string> metadata;
  // fleetctl cordon/drain. cordoned: no new unit is placed here (global units still are); the
  // units already here stay. drain (implies cordoned): every non-global unit that fits elsewhere
  // moves; one that fits nowhere else stays, or with `force` is stopped.
  bool cordoned = false;
  bool drain = false;
  bool force = false;
};

// Unit names and machine IDs must be unique; their order is irrelevant to the plan.
struct ClusterSnapshot {
  std::vector<UnitSpec> units;
  std::vector<MachineSpec> machines;  // machines currently alive (registered in the registry)
  std::map<std::string, std::string> schedule;  // non-global unit -> machine ID it is scheduled to
  // Global unit -> machines it is currently assigned to.
  std::map<std::string, std::set<std::string>> global_assignments;
  // Currently published unschedulable reasons (unit -> reason), so only changes get rewritten.
  std::map<std::string, std::string> reasons;
  // Units reported running (active, activating, deactivating, reloading) on a draining machine:
  // unit -> those machines. A unit leaving a draining machine starts elsewhere only once its copy
  // there has stopped (stop-then-start), so two copies never run at once.
  std::map<std::string, std::set<std::string>> running_on_draining;
};

}  // namespace fleet::engine
