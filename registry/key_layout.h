#pragma once
// Where each record lives under the configurable prefix (default "/fleet/"). Designed so that no
// change wakes a reader that does not care about it (fleet's every-change-wakes-every-agent
// problem): an agent watches only assign/<its machine>/, the engine one watch over the prefix.
//
//   units/<unit>                  UnitRecord JSON (name, hash, desiredState)      users via the API
//   content/<sha1>                canonical unit text, once per distinct content  API; GC by engine
//   schedule/<unit>               machine ID of a non-global unit                 engine (fenced)
//   assign/<machine>/<unit>       Assignment JSON: what that agent must run (with  engine (fenced)
//                                 the unit's text when small: no fetch needed)
//   reasons/<unit>                why the unit cannot be placed                   engine (fenced)
//   machines/<machine>            MachineRecord JSON, attached to its lease       agent
//   metadata/<machine>/<key>      dynamic metadata (API PATCH), survives leases   API
//   maintenance/<machine>         Maintenance JSON (cordon/drain), survives leases API
//   states/<unit>/<machine>       UnitStateRecord JSON, attached to machine lease agent
//   engine/leader                 machine ID of the engine leader, leader lease   engine
//   reboot/lock                   RebootLock JSON (semaphore)                      API, engine
//   reboot/rollout                RebootRollout JSON                               API, engine
//   rollouts/<name>               UnitRollout JSON (fleetctl rollout)              API, engine
//   assign/<machine>/reboot       boot ID the agent must reboot from (a unit name  engine (fenced)
//                                 always has a type suffix, so it cannot clash)

#include <optional>
#include <string>
#include <string_view>

namespace fleet::registry {

enum class KeyKind {
  unit,
  content,
  schedule,
  assignment,
  reason,
  machine,
  metadata,
  maintenance,
  state,
  leader,
  reboot_lock,
  reboot_rollout,
  reboot_request,  // first = machine
  unit_rollout,    // first = unit or template name
};

struct ParsedKey {
  KeyKind kind;
  std::string first;   // unit, hash or machine
  std::string second;  // machine (assign: unit; states: machine; metadata: key)
};

class KeyLayout {
 public:
  explicit KeyLayout(std::string prefix = "/fleet/");

  const std::string& prefix() const { return prefix_; }

  std::string unit(std::string_view name) const { return join("units/", name); }
  std::string units() const { return prefix_ + "units/"; }
  std::string content(std::string_view hash) const { return join("content/", hash); }
  std::string contents() const { return prefix_ + "content/"; }
  std::string schedule(std::string_view unit) const { return join("schedule/", unit); }
  std::string schedules() const { return prefix_ + "schedule/"; }
  std::string assignment(std::string_view machine, std::string_view unit) const;
  std::string assignments(std::string_view machine) const;  // one machine's folder
  std::string all_assignments() const { return prefix_ + "assign/"; }
  std::string reason(std::string_view unit) const { return join("reasons/", unit); }
  std::string reasons() const { return prefix_ + "reasons/"; }
  std::string machine(std::string_view id) const { return join("machines/", id); }
  std::string machines() const { return prefix_ + "machines/"; }
  std::string metadata(std::string_view machine, std::string_view key) const;
  std::string all_metadata() const { return prefix_ + "metadata/"; }
  std::string maintenance(std::string_view machine) const { return join("maintenance/", machine); }
  std::string all_maintenance() const { return prefix_ + "maintenance/"; }
  std::string state(std::string_view unit, std::string_view machine) const;
  std::string states_of(std::string_view unit) const;
  std::string states() const { return prefix_ + "states/"; }
  std::string leader() const { return prefix_ + "engine/leader"; }
  std::string reboot_lock() const { return prefix_ + "reboot/lock"; }
  std::string reboot_rollout() const { return prefix_ + "reboot/rollout"; }
  std::string rollout(std::string_view name) const { return join("rollouts/", name); }
  std::string rollouts() const { return prefix_ + "rollouts/"; }
  std::string reboot_request(std::string_view machine) const {
    return assignments(machine) + "reboot";
  }

  // Classifies a full key; nullopt for keys outside the layout.
  std::optional<ParsedKey> parse(std::string_view key) const;

 private:
  std::string join(std::string_view folder, std::string_view name) const;
  std::string prefix_;
};

}  // namespace fleet::registry
