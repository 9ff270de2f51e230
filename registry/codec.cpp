#include "registry/codec.h"

#include <nlohmann/json.hpp>

namespace fleet::registry {

using nlohmann::json;

std::string_view to_string(TargetState s) {
  switch (s) {
    case TargetState::inactive:
      return "inactive";
    case TargetState::loaded:
      return "loaded";
    case TargetState::launched:
      return "launched";
  }
  return "inactive";
}

std::optional<TargetState> parse_target_state(std::string_view s) {
  if (s == "inactive") return TargetState::inactive;
  if (s == "loaded") return TargetState::loaded;
  if (s == "launched") return TargetState::launched;
  return std::nullopt;
}

std::string_view to_string(MaintenanceMode m) {
  switch (m) {
    case MaintenanceMode::none:
      return "";
    case MaintenanceMode::cordoned:
      return "cordoned";
    case MaintenanceMode::draining:
      return "draining";
  }
  return "";
}

std::optional<MaintenanceMode> parse_maintenance_mode(std::string_view s) {
  if (s.empty()) return MaintenanceMode::none;
  if (s == "cordoned") return MaintenanceMode::cordoned;
  if (s == "draining") return MaintenanceMode::draining;
  return std::nullopt;
}

namespace {

Result<json> parse_object(std::string_view what, std::string_view text) {
  auto j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return fail(Errc::invalid_argument, std::string(what) + ": value is not a JSON object");
  return j;
}

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<TargetState> target_state(const std::string& s, std::string_view what) {
  auto t = parse_target_state(s);
  if (!t)
    return fail(Errc::invalid_argument, std::string(what) + ": invalid desiredState \"" + s + "\"");
  return *t;
}

Result<TargetState> state_field(const json& j, std::string_view what) {
  return target_state(str(j, "desiredState"), what);
}

// Reads a JSON string at t[i] (past its closing quote) into `out`; false for anything the fast
// path leaves to the full parser: \u escapes, control characters, non-ASCII bytes (which the
// parser checks for valid UTF-8).
bool simple_string(std::string_view t, std::size_t& i, std::string& out) {
  if (i >= t.size() || t[i] != '"') return false;
  ++i;
  out.clear();
  while (i < t.size()) {
    const char c = t[i++];
    if (c == '"') return true;
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x80) return false;
    if (c != '\\') {
      out += c;
      continue;
    }
    if (i >= t.size()) return false;
    switch (t[i++]) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      default:
        return false;
    }
  }
  return false;
}

// A flat JSON object of string values, as encode() writes unit, assignment and state records,
// read member by member without building a DOM (the DOM was a tenth of a 10,000-unit listing:
// every record is decoded on each read). Calls member(key, value) in order, the last of a key
// given twice winning as with the parser. False for any other text (numbers, nesting, escapes
// it leaves to the parser, trailing bytes): the caller then discards what it was given and
// takes the full parser, with the same results.
template <class F>
bool each_string_member(std::string_view t, F&& member) {
  std::size_t i = 0;
  const auto ws = [&] {
    while (i < t.size() && (t[i] == ' ' || t[i] == '\n' || t[i] == '\r' || t[i] == '\t')) ++i;
  };
  const auto at = [&](char c) { return i < t.size() && t[i] == c; };
  ws();
  if (!at('{')) return false;
  ++i;
  ws();
  std::string key, value;
  if (at('}')) {
    ++i;
  } else {
    while (true) {
      if (!simple_string(t, i, key)) return false;
      ws();
      if (!at(':')) return false;
      ++i;
      ws();
      if (!simple_string(t, i, value)) return false;
      member(key, value);
      ws();
      if (at(',')) {
        ++i;
        ws();
        continue;
      }
      if (!at('}')) return false;
      ++i;
      break;
    }
  }
  ws();
  return i == t.size();
}

}  // namespace

std::string encode(const UnitRecord& r) {
  return json{{"name", r.name}, {"hash", r.hash}, {"desiredState", to_string(r.desired)}}.dump();
}

std::string encode(const MachineRecord& r) {
  json j{{"id", r.id}, {"publicIP", r.public_ip}, {"version", r.version}};
  j["metadata"] = json::object();
  for (const auto& [k, v] : r.metadata) j["metadata"][k] = v;
  if (r.disable_engine) j["disableEngine"] = true;
  if (!r.api_url.empty()) j["apiURL"] = r.api_url;
  if (!r.boot_id.empty()) j["bootID"] = r.boot_id;
  return j.dump();
}

std::string encode(const Maintenance& r) {
  json j{{"mode", to_string(r.mode)}, {"since", r.since}};
  if (r.force) j["force"] = true;
  return j.dump();
}

std::string encode(const Assignment& r) {
  json j{{"hash", r.hash}, {"desiredState", to_string(r.desired)}};
  if (!r.content.empty()) j["content"] = r.content;
  // A content that is not UTF-8 (written to etcd by other means than the API) is sent mangled
  // rather than throwing inside the engine's pass: its hash no longer matches, so the agent
  // fetches it.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string encode(const UnitStateRecord& r) {
  return json{{"hash", r.hash},
              {"loadState", r.load_state},
              {"activeState", r.active_state},
              {"subState", r.sub_state}}
      .dump();
}

Result<UnitRecord> decode_unit(std::string_view name, std::string_view text) {
  UnitRecord fast;
  std::string desired;
  if (each_string_member(text, [&](const std::string& k, std::string& v) {
        if (k == "hash") fast.hash = std::move(v);
        if (k == "desiredState") desired = std::move(v);
      })) {
    fast.name = std::string(name);
    BOOST_OUTCOME_TRY(fast.desired, target_state(desired, "unit " + fast.name));
    return fast;
  }
  auto what = "unit " + std::string(name);
  BOOST_OUTCOME_TRY(auto j, parse_object(what, text));
  UnitRecord r;
  r.name = std::string(name);
  r.hash = str(j, "hash");
  BOOST_OUTCOME_TRY(r.desired, state_field(j, what));
  return r;
}

Result<MachineRecord> decode_machine(std::string_view id, std::string_view text) {
  BOOST_OUTCOME_TRY(auto j, parse_object("machine " + std::string(id), text));
  MachineRecord r;
  r.id = std::string(id);
  r.public_ip = str(j, "publicIP");
  r.version = str(j, "version");
  r.api_url = str(j, "apiURL");
  r.boot_id = str(j, "bootID");
  if (auto it = j.find("metadata"); it != j.end() && it->is_object())
    for (const auto& [k, v] : it->items())
      if (v.is_string()) r.metadata[k] = v.get<std::string>();
  if (auto it = j.find("disableEngine"); it != j.end() && it->is_boolean())
    r.disable_engine = it->get<bool>();
  return r;
}

Result<Assignment> decode_assignment(std::string_view unit, std::string_view machine,
                                     std::string_view text) {
  Assignment fast;
  std::string desired;
  if (each_string_member(text, [&](const std::string& k, std::string& v) {
        if (k == "hash") fast.hash = std::move(v);
        if (k == "desiredState") desired = std::move(v);
        if (k == "content") fast.content = std::move(v);
      })) {
    fast.unit = std::string(unit);
    fast.machine = std::string(machine);
    BOOST_OUTCOME_TRY(fast.desired, target_state(desired, "assignment " + fast.unit));
    return fast;
  }
  auto what = "assignment " + std::string(unit);
  BOOST_OUTCOME_TRY(auto j, parse_object(what, text));
  Assignment r;
  r.unit = std::string(unit);
  r.machine = std::string(machine);
  r.hash = str(j, "hash");
  r.content = str(j, "content");
  BOOST_OUTCOME_TRY(r.desired, state_field(j, what));
  return r;
}

Result<UnitStateRecord> decode_state(std::string_view unit, std::string_view machine,
                                     std::string_view text) {
  UnitStateRecord fast;
  if (each_string_member(text, [&](const std::string& k, std::string& v) {
        if (k == "hash") fast.hash = std::move(v);
        if (k == "loadState") fast.load_state = std::move(v);
        if (k == "activeState") fast.active_state = std::move(v);
        if (k == "subState") fast.sub_state = std::move(v);
      })) {
    fast.unit = std::string(unit);
    fast.machine = std::string(machine);
    return fast;
  }
  BOOST_OUTCOME_TRY(auto j, parse_object("state of " + std::string(unit), text));
  UnitStateRecord r;
  r.unit = std::string(unit);
  r.machine = std::string(machine);
  r.hash = str(j, "hash");
  r.load_state = str(j, "loadState");
  r.active_state = str(j, "activeState");
  r.sub_state = str(j, "subState");
  return r;
}

Result<Maintenance> decode_maintenance(std::string_view machine, std::string_view text) {
  auto what = "maintenance of " + std::string(machine);
  BOOST_OUTCOME_TRY(auto j, parse_object(what, text));
  Maintenance r;
  auto mode = parse_maintenance_mode(str(j, "mode"));
  if (!mode || *mode == MaintenanceMode::none)
    return fail(Errc::invalid_argument, what + ": invalid mode \"" + str(j, "mode") + "\"");
  r.mode = *mode;
  if (auto it = j.find("force"); it != j.end() && it->is_boolean()) r.force = it->get<bool>();
  if (auto it = j.find("since"); it != j.end() && it->is_number_integer())
    r.since = it->get<std::int64_t>();
  return r;
}

std::string_view to_string(RebootStep s) {
  switch (s) {
    case RebootStep::pending:
      return "pending";
    case RebootStep::draining:
      return "draining";
    case RebootStep::rebooting:
      return "rebooting";
    case RebootStep::done:
      return "done";
    case RebootStep::failed:
      return "failed";
  }
  return "pending";
}

std::optional<RebootStep> parse_reboot_step(std::string_view s) {
  for (auto step : {RebootStep::pending, RebootStep::draining, RebootStep::rebooting,
                    RebootStep::done, RebootStep::failed})
    if (s == to_string(step)) return step;
  return std::nullopt;
}

std::string_view to_string(RebootRollout::State s) {
  switch (s) {
    case RebootRollout::State::running:
      return "running";
    case RebootRollout::State::done:
      return "done";
    case RebootRollout::State::stopped:
      return "stopped";
  }
  return "running";
}

std::string encode(const RebootLock& r) {
  return json{{"max", r.max}, {"holders", r.holders}}.dump();
}

std::string encode(const RebootRollout& r) {
  json hosts = json::array();
  for (const auto& h : r.hosts) {
    json e{{"machine", h.machine}, {"step", to_string(h.step)}, {"since", h.since}};
    if (!h.boot_id.empty()) e["bootID"] = h.boot_id;
    hosts.push_back(std::move(e));
  }
  json j{{"state", to_string(r.state)},
         {"maxUnavailable", r.max_unavailable},
         {"timeoutSeconds", r.timeout_s},
         {"started", r.started},
         {"hosts", std::move(hosts)}};
  if (!r.message.empty()) j["message"] = r.message;
  return j.dump();
}

namespace {
std::int64_t integer(const json& j, const char* key, std::int64_t def) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : def;
}
}  // namespace

Result<RebootLock> decode_reboot_lock(std::string_view text) {
  BOOST_OUTCOME_TRY(auto j, parse_object("reboot lock", text));
  RebootLock r;
  r.max = static_cast<int>(integer(j, "max", 1));
  if (auto it = j.find("holders"); it != j.end() && it->is_array())
    for (const auto& h : *it)
      if (h.is_string()) r.holders.push_back(h.get<std::string>());
  return r;
}

Result<RebootRollout> decode_reboot_rollout(std::string_view text) {
  BOOST_OUTCOME_TRY(auto j, parse_object("reboot rollout", text));
  RebootRollout r;
  std::string state = str(j, "state");
  if (state == "running")
    r.state = RebootRollout::State::running;
  else if (state == "done")
    r.state = RebootRollout::State::done;
  else if (state == "stopped")
    r.state = RebootRollout::State::stopped;
  else
    return fail(Errc::invalid_argument, "reboot rollout: invalid state \"" + state + "\"");
  r.max_unavailable = static_cast<int>(integer(j, "maxUnavailable", 1));
  r.timeout_s = integer(j, "timeoutSeconds", 600);
  r.started = integer(j, "started", 0);
  r.message = str(j, "message");
  if (auto it = j.find("hosts"); it != j.end() && it->is_array())
    for (const auto& h : *it) {
      if (!h.is_object()) continue;
      RebootHost host;
      host.machine = str(h, "machine");
      auto step = parse_reboot_step(str(h, "step"));
      if (host.machine.empty() || !step)
        return fail(Errc::invalid_argument, "reboot rollout: malformed host entry");
      host.step = *step;
      host.boot_id = str(h, "bootID");
      host.since = integer(h, "since", 0);
      r.hosts.push_back(std::move(host));
    }
  return r;
}

std::string_view to_string(RolloutStep s) {
  switch (s) {
    case RolloutStep::pending:
      return "pending";
    case RolloutStep::replacing:
      return "replacing";
    case RolloutStep::healthy:
      return "healthy";
    case RolloutStep::failed:
      return "failed";
    case RolloutStep::reverting:
      return "reverting";
    case RolloutStep::reverted:
      return "reverted";
    case RolloutStep::skipped:
      return "skipped";
  }
  return "pending";
}

std::optional<RolloutStep> parse_rollout_step(std::string_view s) {
  for (auto step :
       {RolloutStep::pending, RolloutStep::replacing, RolloutStep::healthy, RolloutStep::failed,
        RolloutStep::reverting, RolloutStep::reverted, RolloutStep::skipped})
    if (s == to_string(step)) return step;
  return std::nullopt;
}

std::string_view to_string(UnitRollout::State s) {
  switch (s) {
    case UnitRollout::State::running:
      return "running";
    case UnitRollout::State::reverting:
      return "reverting";
    case UnitRollout::State::done:
      return "done";
    case UnitRollout::State::reverted:
      return "reverted";
    case UnitRollout::State::failed:
      return "failed";
    case UnitRollout::State::aborted:
      return "aborted";
  }
  return "running";
}

std::optional<UnitRollout::State> parse_rollout_state(std::string_view s) {
  using S = UnitRollout::State;
  for (auto state : {S::running, S::reverting, S::done, S::reverted, S::failed, S::aborted})
    if (s == to_string(state)) return state;
  return std::nullopt;
}

std::string encode(const UnitRollout& r) {
  json instances = json::array();
  for (const auto& i : r.instances) {
    json e{{"unit", i.unit},
           {"oldHash", i.old_hash},
           {"step", to_string(i.step)},
           {"sinceMs", i.since_ms}};
    if (!i.machine.empty()) e["machine"] = i.machine;
    if (i.active_since_ms != 0) e["activeSinceMs"] = i.active_since_ms;
    if (!i.message.empty()) e["message"] = i.message;
    instances.push_back(std::move(e));
  }
  json j{{"name", r.name},
         {"hash", r.hash},
         {"state", to_string(r.state)},
         {"maxUnavailable", r.max_unavailable},
         {"minHealthyMs", r.min_healthy_ms},
         {"timeoutMs", r.timeout_ms},
         {"revert", r.revert},
         {"startedMs", r.started_ms},
         {"instances", std::move(instances)}};
  if (!r.old_hash.empty()) j["oldHash"] = r.old_hash;
  if (r.abort) j["abort"] = true;
  if (r.ended_ms != 0) j["endedMs"] = r.ended_ms;
  if (!r.message.empty()) j["message"] = r.message;
  return j.dump();
}

Result<UnitRollout> decode_unit_rollout(std::string_view text) {
  BOOST_OUTCOME_TRY(auto j, parse_object("unit rollout", text));
  UnitRollout r;
  r.name = str(j, "name");
  r.hash = str(j, "hash");
  r.old_hash = str(j, "oldHash");
  auto state = parse_rollout_state(str(j, "state"));
  if (r.name.empty() || r.hash.empty() || !state)
    return fail(Errc::invalid_argument, "unit rollout: missing name, hash or state");
  r.state = *state;
  r.max_unavailable = static_cast<int>(integer(j, "maxUnavailable", 1));
  r.min_healthy_ms = integer(j, "minHealthyMs", 5000);
  r.timeout_ms = integer(j, "timeoutMs", 300000);
  auto flag = [&](const char* key, bool def) {
    auto it = j.find(key);
    return it != j.end() && it->is_boolean() ? it->get<bool>() : def;
  };
  r.revert = flag("revert", true);
  r.abort = flag("abort", false);
  r.started_ms = integer(j, "startedMs", 0);
  r.ended_ms = integer(j, "endedMs", 0);
  r.message = str(j, "message");
  if (auto it = j.find("instances"); it != j.end() && it->is_array())
    for (const auto& e : *it) {
      if (!e.is_object()) continue;
      RolloutInstance i;
      i.unit = str(e, "unit");
      auto step = parse_rollout_step(str(e, "step"));
      if (i.unit.empty() || !step)
        return fail(Errc::invalid_argument, "unit rollout: malformed instance entry");
      i.step = *step;
      i.old_hash = str(e, "oldHash");
      i.machine = str(e, "machine");
      i.since_ms = integer(e, "sinceMs", 0);
      i.active_since_ms = integer(e, "activeSinceMs", 0);
      i.message = str(e, "message");
      r.instances.push_back(std::move(i));
    }
  return r;
}

}  // namespace fleet::registry
