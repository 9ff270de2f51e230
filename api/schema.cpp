#include "api/schema.h"

#include <nlohmann/json.hpp>

#include "common/strings.h"

namespace fleet::api {

using nlohmann::json;

bool is_valid_unit_state(std::string_view s) {
  return s == kStateInactive || s == kStateLoaded || s == kStateLaunched;
}

bool is_global(const std::vector<UnitOption>& options) {
  bool global = false;
  for (const auto& o : options) {
    if (o.section == "X-Fleet" && o.name == "Global") global = parse_truthy(o.value);
  }
  return global;
}

std::string format_api_error(int code, std::string_view message, std::string_view body) {
  if (message.empty()) {
    return "googleapi: got HTTP response code " + std::to_string(code) +
           " with body: " + std::string(body);
  }
  return "googleapi: Error " + std::to_string(code) + ": " + std::string(message);
}

Errc errc_for_http_status(int code) {
  switch (code) {
    case 400:
    case 405:
    case 415:
      return Errc::invalid_argument;
    case 404:
      return Errc::not_found;
    case 409:
      return Errc::conflict;
    case 503:
      return Errc::unavailable;
    case 504:
      return Errc::timeout;
    default:
      return Errc::internal;
  }
}

namespace {

// omitempty: only non-empty strings are written.
void put(json& j, const char* key, const std::string& v) {
  if (!v.empty()) j[key] = v;
}

// Go's decoder leaves a field at its zero value when the key is absent or null.
void get(const json& j, const char* key, std::string& v) {
  auto it = j.find(key);
  if (it != j.end() && !it->is_null()) v = it->get<std::string>();
}

template <class T>
void get_list(const json& j, const char* key, std::vector<T>& v) {
  auto it = j.find(key);
  if (it != j.end() && !it->is_null()) v = it->get<std::vector<T>>();
}

template <class T>
void put_list(json& j, const char* key, const std::vector<T>& v) {
  if (!v.empty()) j[key] = v;
}

void require_object(const json& j, const char* what) {
  if (!j.is_object()) {
    throw json::type_error::create(302, std::string(what) + " must be a JSON object", &j);
  }
}

template <class T>
Result<T> decode(std::string_view text, const char* what) {
  try {
    json j = json::parse(text);
    require_object(j, what);
    return j.get<T>();
  } catch (const json::exception& e) {
    return fail(Errc::invalid_argument, std::string("invalid ") + what + ": " + e.what());
  }
}

}  // namespace

void to_json(json& j, const UnitOption& v) {
  j = json::object();
  put(j, "section", v.section);
  put(j, "name", v.name);
  put(j, "value", v.value);
}
void from_json(const json& j, UnitOption& v) {
  require_object(j, "UnitOption");
  get(j, "section", v.section);
  get(j, "name", v.name);
  get(j, "value", v.value);
}

void to_json(json& j, const Unit& v) {
  j = json::object();
  put(j, "name", v.name);
  put_list(j, "options", v.options);
  put(j, "desiredState", v.desired_state);
  put(j, "currentState", v.current_state);
  put(j, "machineID", v.machine_id);
  put(j, "reason", v.reason);
}
void from_json(const json& j, Unit& v) {
  require_object(j, "Unit");
  get(j, "name", v.name);
  get_list(j, "options", v.options);
  get(j, "desiredState", v.desired_state);
  get(j, "currentState", v.current_state);
  get(j, "machineID", v.machine_id);
  get(j, "reason", v.reason);
}

void to_json(json& j, const UnitState& v) {
  j = json::object();
  put(j, "name", v.name);
  put(j, "hash", v.hash);
  put(j, "machineID", v.machine_id);
  put(j, "systemdLoadState", v.systemd_load_state);
  put(j, "systemdActiveState", v.systemd_active_state);
  put(j, "systemdSubState", v.systemd_sub_state);
}
void from_json(const json& j, UnitState& v) {
  require_object(j, "UnitState");
  get(j, "name", v.name);
  get(j, "hash", v.hash);
  get(j, "machineID", v.machine_id);
  get(j, "systemdLoadState", v.systemd_load_state);
  get(j, "systemdActiveState", v.systemd_active_state);
  get(j, "systemdSubState", v.systemd_sub_state);
}

void to_json(json& j, const Machine& v) {
  j = json::object();
  put(j, "id", v.id);
  put(j, "primaryIP", v.primary_ip);
  if (!v.metadata.empty()) j["metadata"] = v.metadata;
  put(j, "version", v.version);
}
void from_json(const json& j, Machine& v) {
  require_object(j, "Machine");
  get(j, "id", v.id);
  get(j, "primaryIP", v.primary_ip);
  auto it = j.find("metadata");
  if (it != j.end() && !it->is_null()) v.metadata = it->get<std::map<std::string, std::string>>();
  get(j, "version", v.version);
}

void to_json(json& j, const UnitPage& v) {
  j = json::object();
  put_list(j, "units", v.units);
  put(j, "nextPageToken", v.next_page_token);
}
void from_json(const json& j, UnitPage& v) {
  require_object(j, "UnitPage");
  get_list(j, "units", v.units);
  get(j, "nextPageToken", v.next_page_token);
}

void to_json(json& j, const UnitStatePage& v) {
  j = json::object();
  put_list(j, "states", v.states);
  put(j, "nextPageToken", v.next_page_token);
}
void from_json(const json& j, UnitStatePage& v) {
  require_object(j, "UnitStatePage");
  get_list(j, "states", v.states);
  get(j, "nextPageToken", v.next_page_token);
}

void to_json(json& j, const MachinePage& v) {
  j = json::object();
  put_list(j, "machines", v.machines);
  put(j, "nextPageToken", v.next_page_token);
}
void from_json(const json& j, MachinePage& v) {
  require_object(j, "MachinePage");
  get_list(j, "machines", v.machines);
  get(j, "nextPageToken", v.next_page_token);
}

// Unlike the entities, the error body always carries both fields (message "" when none).
void to_json(json& j, const ApiError& v) {
  j = json{{"error", {{"code", v.code}, {"message", v.message}}}};
}
void from_json(const json& j, ApiError& v) {
  require_object(j, "error body");
  const json& e = j.at("error");
  require_object(e, "error");
  v.code = e.value("code", 0);
  v.message = e.value("message", std::string());
}

std::string encode(const Unit& v) { return json(v).dump(); }
std::string encode(const UnitState& v) { return json(v).dump(); }
std::string encode(const Machine& v) { return json(v).dump(); }
std::string encode(const UnitPage& v) { return json(v).dump(); }
std::string encode(const UnitStatePage& v) { return json(v).dump(); }
std::string encode(const MachinePage& v) { return json(v).dump(); }
std::string encode(const ApiError& v) { return json(v).dump(); }

Result<Unit> decode_unit(std::string_view text) { return decode<Unit>(text, "Unit"); }
Result<UnitPage> decode_unit_page(std::string_view text) {
  return decode<UnitPage>(text, "UnitPage");
}
Result<UnitStatePage> decode_unit_state_page(std::string_view text) {
  return decode<UnitStatePage>(text, "UnitStatePage");
}
Result<MachinePage> decode_machine_page(std::string_view text) {
  return decode<MachinePage>(text, "MachinePage");
}
Result<ApiError> decode_api_error(std::string_view text) {
  return decode<ApiError>(text, "error body");
}

}  // namespace fleet::api
