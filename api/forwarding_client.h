#pragma once
// ForwardingClient: an ApiClient passing every call on to another one. The base of wrappers that
// add a single concern around a client (fleetctl's SSH tunnel, a test lending its client).

#include "api/client.h"

namespace fleet::api {

class ForwardingClient : public ApiClient {
 public:
  explicit ForwardingClient(ApiClient& inner) : inner_(inner) {}

  Result<std::vector<Unit>> list_units() override { return inner_.list_units(); }
  Result<std::vector<Unit>> list_unit_summaries() override { return inner_.list_unit_summaries(); }
  Result<std::optional<Unit>> get_unit(const std::string& name) override {
    return inner_.get_unit(name);
  }
  Status create_unit(const Unit& unit) override { return inner_.create_unit(unit); }
  Status set_desired_state(const std::string& name, std::string_view state) override {
    return inner_.set_desired_state(name, state);
  }
  Status destroy_unit(const std::string& name) override { return inner_.destroy_unit(name); }
  Result<std::vector<Status>> set_desired_states(
      const std::vector<std::pair<std::string, std::string>>& changes) override {
    return inner_.set_desired_states(changes);
  }
  Result<std::vector<Status>> destroy_units(const std::vector<std::string>& names) override {
    return inner_.destroy_units(names);
  }
  Result<std::vector<Status>> create_units(const std::vector<Unit>& units) override {
    return inner_.create_units(units);
  }
  Result<std::vector<UnitState>> list_unit_states(const StateFilter& filter) override {
    return inner_.list_unit_states(filter);
  }
  Result<std::vector<Machine>> list_machines() override { return inner_.list_machines(); }
  Status set_maintenance(const std::string& machine, std::string_view action, bool force) override {
    return inner_.set_maintenance(machine, action, force);
  }
  Result<RebootStatus> reboot_status() override { return inner_.reboot_status(); }
  Result<std::vector<Rollout>> list_rollouts() override { return inner_.list_rollouts(); }
  Result<std::optional<Rollout>> get_rollout(const std::string& name) override {
    return inner_.get_rollout(name);
  }
  Result<Rollout> start_rollout(const RolloutRequest& request) override {
    return inner_.start_rollout(request);
  }
  Status abort_rollout(const std::string& name) override { return inner_.abort_rollout(name); }
  Status start_reboot(const std::vector<std::string>& machines, int max_unavailable,
                      std::int64_t timeout_seconds) override {
    return inner_.start_reboot(machines, max_unavailable, timeout_seconds);
  }
  Status reboot_lock(std::string_view action, const std::string& machine, int max) override {
    return inner_.reboot_lock(action, machine, max);
  }
  Result<CommandOutput> unit_status(const std::string& name,
                                    const std::string& machine_id) override {
    return inner_.unit_status(name, machine_id);
  }
  Result<CommandOutput> unit_journal(const std::string& name, const JournalOptions& opts,
                                     const std::function<bool(std::string_view)>& sink) override {
    return inner_.unit_journal(name, opts, sink);
  }
  Status events(const EventQuery& q, const std::function<bool(const Event&)>& sink) override {
    return inner_.events(q, sink);
  }

 private:
  ApiClient& inner_;
};

}  // namespace fleet::api
