#include "api/fake_client.h"

#include <algorithm>

namespace fleet::api {

Status FakeApiClient::api_error(int code, std::string message) {
  return fail(errc_for_http_status(code), format_api_error(code, message, ""));
}

Status FakeApiClient::check_failure(const std::string& call) const {
  auto it = failures_.find(call);
  if (it != failures_.end()) return outcome::failure(it->second);
  return ok();
}

void FakeApiClient::add_machine(Machine m) {
  std::string id = m.id;
  machines_[id] = std::move(m);
}

void FakeApiClient::remove_machine(const std::string& id) { machines_.erase(id); }

void FakeApiClient::put_unit(Unit u) {
  Entry& e = units_[u.name];
  e.unit.name = u.name;
  e.unit.options = std::move(u.options);
  e.unit.desired_state = u.desired_state.empty() ? std::string(kStateInactive) : u.desired_state;
  e.current_state = u.current_state;
  e.machine_id = u.machine_id;
  e.reason = u.reason;
  if (e.current_state.empty() && e.machine_id.empty()) apply(e);
}

void FakeApiClient::set_current_state(const std::string& name, std::string state,
                                      std::string machine_id) {
  auto it = units_.find(name);
  if (it == units_.end()) return;
  it->second.current_state = std::move(state);
  it->second.machine_id = std::move(machine_id);
}

void FakeApiClient::set_unschedulable(const std::string& name, std::string reason) {
  auto it = units_.find(name);
  if (it == units_.end()) return;
  it->second.reason = std::move(reason);
  apply(it->second);
}

void FakeApiClient::pin(const std::string& name, std::string machine_id) {
  auto it = units_.find(name);
  if (it != units_.end()) it->second.pinned = std::move(machine_id);
}

void FakeApiClient::put_unit_state(UnitState s) {
  auto it = std::find_if(states_.begin(), states_.end(), [&](const UnitState& x) {
    return x.name == s.name && x.machine_id == s.machine_id;
  });
  if (it != states_.end()) {
    *it = std::move(s);
  } else {
    states_.push_back(std::move(s));
  }
}

void FakeApiClient::clear_unit_states(const std::string& name) {
  std::erase_if(states_, [&](const UnitState& s) { return s.name == name; });
}

std::optional<Unit> FakeApiClient::unit(const std::string& name) const {
  auto it = units_.find(name);
  if (it == units_.end()) return std::nullopt;
  return view(it->second, false);
}

// Mirrors fleetd: current state/machine only for non-global units; in the list a global unit
// reports currentState "inactive", in GET it has none.
Unit FakeApiClient::view(const Entry& e, bool in_list) const {
  Unit u = e.unit;
  if (is_global(u.options)) {
    if (in_list) u.current_state = std::string(kStateInactive);
    return u;
  }
  u.current_state = e.current_state.empty() ? std::string(kStateInactive) : e.current_state;
  if (u.current_state != kStateInactive) u.machine_id = e.machine_id;
  u.reason = e.reason;  // a scheduled unit has one only when it cannot leave a draining machine
  return u;
}

void FakeApiClient::apply(Entry& e) {
  if (converge_ != Converge::instant) return;
  const std::string& name = e.unit.name;
  const std::string& desired = e.unit.desired_state;
  auto state_for = [&](const std::string& machine) {
    UnitState s;
    s.name = name;
    s.machine_id = machine;
    s.systemd_load_state = "loaded";
    bool running = desired == kStateLaunched;
    s.systemd_active_state = running ? "active" : "inactive";
    s.systemd_sub_state = running ? "running" : "dead";
    return s;
  };
  clear_unit_states(name);
  if (is_global(e.unit.options)) {
    if (desired == kStateInactive) return;
    for (const auto& [id, m] : machines_) states_.push_back(state_for(id));
    return;
  }
  if (desired == kStateInactive || desired.empty()) {
    e.current_state = std::string(kStateInactive);
    e.machine_id.clear();
    return;
  }
  std::string machine = e.pinned;
  if (machine.empty() && !machines_.empty()) machine = machines_.begin()->first;
  if (!e.reason.empty() || machine.empty()) {
    if (e.reason.empty()) e.reason = "no machines available";
    e.current_state = std::string(kStateInactive);
    e.machine_id.clear();
    return;
  }
  e.current_state = desired;
  e.machine_id = machine;
  states_.push_back(state_for(machine));
}

Result<std::vector<Unit>> FakeApiClient::list_units() {
  if (auto st = check_failure("list_units"); !st) return st.error();
  std::vector<Unit> out;
  for (const auto& [name, e] : units_) out.push_back(view(e, true));
  return out;
}

Result<std::optional<Unit>> FakeApiClient::get_unit(const std::string& name) {
  ++get_calls_;
  if (get_hook_) get_hook_(*this, name);
  if (auto st = check_failure("get_unit"); !st) return st.error();
  return unit(name);
}

Status FakeApiClient::create_unit(const Unit& u) {
  if (auto st = check_failure("create_unit"); !st) return st;
  calls_.push_back("create " + u.name + (u.desired_state.empty() ? "" : " " + u.desired_state));
  auto it = units_.find(u.name);
  bool differs = it == units_.end() || (!u.options.empty() && u.options != it->second.unit.options);
  if (it == units_.end() && u.options.empty()) {
    return api_error(409, "unit does not exist and options field empty");
  }
  if (differs) {
    Entry& e = units_[u.name];
    e.unit.name = u.name;
    e.unit.options = u.options;
    e.unit.desired_state = u.desired_state.empty() ? std::string(kStateInactive) : u.desired_state;
    apply(e);
    return ok();
  }
  return set_desired_state(u.name, u.desired_state);
}

Status FakeApiClient::set_desired_state(const std::string& name, std::string_view state) {
  if (auto st = check_failure("set_desired_state"); !st) return st;
  calls_.push_back("set " + name + " " + std::string(state));
  auto it = units_.find(name);
  if (it == units_.end()) return api_error(409, "unit does not exist and options field empty");
  if (state.empty()) return api_error(409, "must provide DesiredState to update existing unit");
  if (!is_valid_unit_state(state)) {
    return api_error(400, "invalid value \"" + std::string(state) + "\" for JobState");
  }
  auto at = name.find('@');
  bool is_template = at != std::string::npos && name.find('.', at) == at + 1;
  if (is_template && state != kStateInactive) {
    return api_error(400, "cannot activate template \"" + name + "\"");
  }
  it->second.unit.desired_state = std::string(state);
  apply(it->second);
  return ok();
}

Status FakeApiClient::destroy_unit(const std::string& name) {
  if (auto st = check_failure("destroy_unit"); !st) return st;
  calls_.push_back("destroy " + name);
  if (units_.erase(name) == 0) return api_error(404, "unit does not exist");
  if (converge_ == Converge::instant) clear_unit_states(name);
  return ok();
}

Result<std::vector<UnitState>> FakeApiClient::list_unit_states(const StateFilter& filter) {
  if (auto st = check_failure("list_unit_states"); !st) return st.error();
  std::vector<UnitState> out;
  for (const auto& s : states_) {
    if (!filter.machine_id.empty() && s.machine_id != filter.machine_id) continue;
    if (!filter.unit_name.empty() && s.name != filter.unit_name) continue;
    out.push_back(s);
  }
  std::sort(out.begin(), out.end(), [](const UnitState& a, const UnitState& b) {
    return std::tie(a.name, a.machine_id) < std::tie(b.name, b.machine_id);
  });
  return out;
}

Result<std::vector<Machine>> FakeApiClient::list_machines() {
  if (auto st = check_failure("list_machines"); !st) return st.error();
  std::vector<Machine> out;
  for (const auto& [id, m] : machines_) out.push_back(m);
  return out;
}

Status FakeApiClient::set_maintenance(const std::string& machine, std::string_view action,
                                      bool force) {
  if (auto st = check_failure("set_maintenance"); !st) return st;
  auto it = machines_.find(machine);
  std::string mode = action == "cordon" ? "cordoned" : action == "drain" ? "draining" : "";
  if (action != "uncordon" && mode.empty()) return api_error(404, "page not found");
  if (it == machines_.end()) {
    if (action == "uncordon") return ok();
    return api_error(404, "machine does not exist");
  }
  it->second.maintenance = mode;
  calls_.push_back(std::string(action) + " " + machine + (force ? " force" : ""));
  return ok();
}

Result<RebootStatus> FakeApiClient::reboot_status() {
  if (auto st = check_failure("reboot_status"); !st) return st.error();
  return reboots_;
}

Status FakeApiClient::start_reboot(const std::vector<std::string>& machines, int max_unavailable,
                                   std::int64_t timeout_seconds) {
  if (auto st = check_failure("start_reboot"); !st) return st;
  if (reboots_.rollout && reboots_.rollout->state == "running")
    return api_error(409, "a reboot rollout is in progress");
  RebootRollout r;
  r.state = "running";
  r.max_unavailable = max_unavailable > 0 ? max_unavailable : 1;
  r.timeout_seconds = timeout_seconds > 0 ? timeout_seconds : 600;
  for (const auto& m : machines) {
    if (!machines_.count(m)) return api_error(400, "machine " + m + " is not up");
    r.hosts.push_back({m, "pending", 0});
  }
  if (max_unavailable > 0) reboots_.max = max_unavailable;
  reboots_.rollout = std::move(r);
  std::string call = "reboot";
  for (const auto& m : machines) call += " " + m;
  calls_.push_back(call);
  return ok();
}

Result<std::vector<Rollout>> FakeApiClient::list_rollouts() {
  if (auto st = check_failure("list_rollouts"); !st) return st.error();
  std::vector<Rollout> out;
  for (const auto& [name, r] : rollouts_) out.push_back(r);
  return out;
}

Result<std::optional<Rollout>> FakeApiClient::get_rollout(const std::string& name) {
  if (auto st = check_failure("get_rollout"); !st) return st.error();
  auto it = rollouts_.find(name);
  if (it == rollouts_.end()) return std::optional<Rollout>();
  return std::optional<Rollout>(it->second);
}

// Records the rollout of every unit of that name (a template's instances) as running; tests
// move it along through rollouts().
Result<Rollout> FakeApiClient::start_rollout(const RolloutRequest& request) {
  if (auto st = check_failure("start_rollout"); !st) return st.error();
  if (auto it = rollouts_.find(request.name); it != rollouts_.end() && !it->second.over())
    return api_error(409, "a rollout of " + request.name + " is in progress").error();
  Rollout r;
  r.name = request.name;
  r.hash = "fake";
  r.state = "running";
  r.max_unavailable = request.max_unavailable;
  r.min_healthy_ms = request.min_healthy_ms;
  r.timeout_ms = request.timeout_ms;
  r.revert = request.revert;
  const bool tmpl = request.name.find("@.") != std::string::npos;
  const std::string stem = request.name.substr(0, request.name.find('@') + 1);
  for (const auto& [name, e] : units_) {
    if (e.unit.desired_state == kStateInactive) continue;
    if (tmpl ? name.starts_with(stem) : name == request.name)
      r.instances.push_back({name, "pending", {}, {}, 0, {}});
  }
  if (r.instances.empty())
    return api_error(400, "no loaded or launched unit " + request.name).error();
  rollouts_[r.name] = r;
  calls_.push_back("rollout " + request.name);
  return r;
}

Status FakeApiClient::abort_rollout(const std::string& name) {
  if (auto st = check_failure("abort_rollout"); !st) return st;
  auto it = rollouts_.find(name);
  if (it == rollouts_.end()) return api_error(404, "no rollout of " + name);
  if (it->second.over()) return api_error(409, "the rollout of " + name + " is over");
  it->second.abort = true;
  calls_.push_back("rollout-abort " + name);
  return ok();
}

Status FakeApiClient::reboot_lock(std::string_view action, const std::string& machine, int max) {
  if (auto st = check_failure("reboot_lock"); !st) return st;
  auto& h = reboots_.holders;
  bool holds = std::find(h.begin(), h.end(), machine) != h.end();
  if (action == "setMax") {
    reboots_.max = max;
  } else if (action == "lock") {
    if (!holds && static_cast<int>(h.size()) >= reboots_.max)
      return api_error(409, "no reboot slot is free");
    if (!holds) h.push_back(machine);
  } else if (action == "unlock") {
    if (!holds) return api_error(404, "machine " + machine + " does not hold the reboot lock");
    std::erase(h, machine);
  } else {
    return api_error(404, "page not found");
  }
  calls_.push_back("reboot-lock " + std::string(action) + " " +
                   (action == "setMax" ? std::to_string(max) : machine));
  return ok();
}

Result<CommandOutput> FakeApiClient::unit_status(const std::string& name,
                                                 const std::string& machine_id) {
  if (auto st = check_failure("unit_status"); !st) return st.error();
  auto it = status_.find(name + "@" + machine_id);
  if (it == status_.end()) it = status_.find(name);
  if (it != status_.end()) return it->second;
  return CommandOutput{"● " + name + "\n   Loaded: loaded\n", 0};
}

Result<CommandOutput> FakeApiClient::unit_journal(
    const std::string& name, const JournalOptions& opts,
    const std::function<bool(std::string_view)>& sink) {
  if (auto st = check_failure("unit_journal"); !st) return st.error();
  calls_.push_back("journal " + name + " lines=" + std::to_string(opts.lines) +
                   (opts.follow ? " follow" : ""));
  auto it = journal_.find(name);
  if (it != journal_.end()) sink(it->second);
  return CommandOutput{};
}

Status FakeApiClient::events(const EventQuery& q, const std::function<bool(const Event&)>& sink) {
  if (auto st = check_failure("events"); !st) return st.error();
  calls_.push_back(std::string("events") + (q.follow ? " follow" : ""));
  std::vector<Event> out;
  for (const auto& e : events_) {
    if (!q.units.empty() && std::find(q.units.begin(), q.units.end(), e.unit) == q.units.end())
      continue;
    if (!q.machine.empty() && e.machine.rfind(q.machine, 0) != 0) continue;
    if (e.position <= q.after) continue;
    out.push_back(e);
  }
  if (q.limit && out.size() > q.limit)
    out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(q.limit));
  for (const auto& e : out)
    if (!sink(e)) break;
  return ok();
}

}  // namespace fleet::api
