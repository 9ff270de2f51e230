#pragma once
// FakeApiClient: a complete in-memory fleet API for command tests. It applies the server's PUT
// rules and, depending on Converge, makes desired-state changes "happen":
//   Converge::instant  current state follows the desired state at once (the unit is placed on
//                      its pinned machine or the first machine; unit states appear/disappear);
//   Converge::manual   nothing happens until test code calls set_current_state().
// Units pinned with set_unschedulable() never get a machine and report Unit::reason.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/client.h"

namespace fleet::api {

class FakeApiClient : public ApiClient {
 public:
  enum class Converge { instant, manual };

  FakeApiClient() = default;

  // --- test set-up and inspection ---
  void set_converge(Converge c) { converge_ = c; }
  void add_machine(Machine m);
  void remove_machine(const std::string& id);
  // Stores a unit as is (no validation); its current state is derived as usual.
  void put_unit(Unit u);
  void set_current_state(const std::string& name, std::string state, std::string machine_id = {});
  void set_unschedulable(const std::string& name, std::string reason);
  void pin(const std::string& name, std::string machine_id);
  void put_unit_state(UnitState s);
  void clear_unit_states(const std::string& name);
  // `key` is a unit name, or "<name>@<machine ID>" for the status asked of that machine.
  void set_status(const std::string& key, CommandOutput out) { status_[key] = std::move(out); }
  void set_journal(const std::string& name, std::string text) { journal_[name] = std::move(text); }
  // Every call fails with `err` while set (keys: list_units, get_unit, create_unit,
  // set_desired_state, destroy_unit, list_unit_states, list_machines, set_maintenance, unit_status,
  // unit_journal).
  void set_failure(const std::string& call, Error err) { failures_[call] = std::move(err); }
  void clear_failure(const std::string& call) { failures_.erase(call); }
  // Called at the start of every get_unit (lets a test change state after N polls).
  void on_get_unit(std::function<void(FakeApiClient&, const std::string&)> hook) {
    get_hook_ = std::move(hook);
  }
  // Mutating calls in order, e.g. `create hello.service`, `set hello.service launched`,
  // `destroy hello.service`.
  const std::vector<std::string>& calls() const { return calls_; }
  int get_unit_calls() const { return get_calls_; }
  std::optional<Unit> unit(const std::string& name) const;

  // --- ApiClient ---
  Result<std::vector<Unit>> list_units() override;
  Result<std::optional<Unit>> get_unit(const std::string& name) override;
  Status create_unit(const Unit& unit) override;
  Status set_desired_state(const std::string& name, std::string_view state) override;
  Status destroy_unit(const std::string& name) override;
  Result<std::vector<UnitState>> list_unit_states(const StateFilter& filter) override;
  Result<std::vector<Machine>> list_machines() override;
  Status set_maintenance(const std::string& machine, std::string_view action, bool force) override;
  Result<RebootStatus> reboot_status() override;
  Result<std::vector<Rollout>> list_rollouts() override;
  Result<std::optional<Rollout>> get_rollout(const std::string& name) override;
  Result<Rollout> start_rollout(const RolloutRequest& request) override;
  Status abort_rollout(const std::string& name) override;
  Status start_reboot(const std::vector<std::string>& machines, int max_unavailable,
                      std::int64_t timeout_seconds) override;
  Status reboot_lock(std::string_view action, const std::string& machine, int max) override;
  // The reboot state the calls above read and change; tests move a rollout along through it.
  RebootStatus& reboots() { return reboots_; }
  // The rolling updates the calls above read and change, by name; tests move them along.
  std::map<std::string, Rollout>& rollouts() { return rollouts_; }
  Result<CommandOutput> unit_status(const std::string& name,
                                    const std::string& machine_id) override;
  Result<CommandOutput> unit_journal(const std::string& name, const JournalOptions& opts,
                                     const std::function<bool(std::string_view)>& sink) override;
  Status events(const EventQuery& q, const std::function<bool(const Event&)>& sink) override;
  // Test control: the events events() lists (filtered by unit and machine).
  void add_event(Event e) { events_.push_back(std::move(e)); }

 private:
  struct Entry {
    Unit unit;  // name, options, desired_state
    std::string current_state;
    std::string machine_id;
    std::string pinned;
    std::string reason;
  };
  Status check_failure(const std::string& call) const;
  Unit view(const Entry& e, bool in_list) const;
  void apply(Entry& e);
  static Status api_error(int code, std::string message);

  Converge converge_ = Converge::instant;
  std::map<std::string, Entry> units_;
  std::map<std::string, Machine> machines_;
  RebootStatus reboots_;
  std::map<std::string, Rollout> rollouts_;
  std::vector<UnitState> states_;
  std::map<std::string, CommandOutput> status_;
  std::map<std::string, std::string> journal_;
  std::map<std::string, Error> failures_;
  std::function<void(FakeApiClient&, const std::string&)> get_hook_;
  std::vector<std::string> calls_;
  int get_calls_ = 0;
  std::vector<Event> events_;
};

}  // namespace fleet::api
