#include "api/schema.h"

#include <nlohmann/json.hpp>

#include "api/schema_fields.h"
#include "common/strings.h"
#include "common/utf8.h"

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

bool is_global(const Unit& u) { return u.global ? *u.global : is_global(u.options); }

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

// omitempty: only non-empty strings, lists and maps are written.
template <class T>
void put(json& j, const char* key, const T& v) {
  if (!v.empty()) j[key] = v;
}
void put(json& j, const char* key, const std::optional<bool>& v) {
  if (v) j[key] = *v;
}

// Go's decoder leaves a field at its zero value when the key is absent or null.
template <class T>
void get(const json& j, const char* key, T& v) {
  auto it = j.find(key);
  if (it != j.end() && !it->is_null()) v = it->get<T>();
}
void get(const json& j, const char* key, std::optional<bool>& v) {
  auto it = j.find(key);
  if (it != j.end() && !it->is_null()) v = it->get<bool>();
}

void require_object(const json& j, const char* what) {
  if (!j.is_object()) {
    throw json::type_error::create(302, std::string(what) + " must be a JSON object", &j);
  }
}

// Go's encoding/json writes each byte of invalid UTF-8 as U+FFFD and reads it back the same way;
// nlohmann would throw instead (fleetctl died on a unit file holding such bytes). Strings that
// reach the encoder are normally valid already (unit files are made valid when parsed).
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

template <class T>
Result<T> decode(std::string_view text, const char* what) {
  try {
    json j = json::parse(to_valid_utf8(text));
    require_object(j, what);
    return j.get<T>();
  } catch (const json::exception& e) {
    return fail(Errc::invalid_argument, std::string("invalid ") + what + ": " + e.what());
  }
}

}  // namespace

namespace {

using detail::each_field;

template <class T>
void write_fields(json& j, const T& v) {
  j = json::object();
  each_field(v, [&j](const char* key, const auto& field) { put(j, key, field); });
}

template <class T>
void read_fields(const json& j, T& v, const char* what) {
  require_object(j, what);
  each_field(v, [&j](const char* key, auto& field) { get(j, key, field); });
}

}  // namespace

void to_json(json& j, const UnitOption& v) { write_fields(j, v); }
void from_json(const json& j, UnitOption& v) { read_fields(j, v, "UnitOption"); }

void to_json(json& j, const Unit& v) { write_fields(j, v); }
void from_json(const json& j, Unit& v) {
  require_object(j, "Unit");
  each_field(v, [&j](const char* key, auto& field) {
    // The basic view's members are only ever written by fleetd. fleet ignored members it did
    // not know, so a request that carries one of these names with another type is not refused.
    using Field = std::decay_t<decltype(field)>;
    const std::string_view k = key;
    if (k == "hash" || k == "description" || k == "global") {
      auto it = j.find(key);
      if (it == j.end()) return;
      if constexpr (std::is_same_v<Field, std::optional<bool>>) {
        if (it->is_boolean()) field = it->get<bool>();
      } else if constexpr (std::is_same_v<Field, std::string>) {
        if (it->is_string()) field = it->get<std::string>();
      }
      return;
    }
    get(j, key, field);
  });
}

void to_json(json& j, const UnitState& v) { write_fields(j, v); }
void from_json(const json& j, UnitState& v) { read_fields(j, v, "UnitState"); }

void to_json(json& j, const Machine& v) { write_fields(j, v); }
void from_json(const json& j, Machine& v) { read_fields(j, v, "Machine"); }

void to_json(json& j, const UnitPage& v) { write_fields(j, v); }
void from_json(const json& j, UnitPage& v) { read_fields(j, v, "UnitPage"); }

void to_json(json& j, const UnitStatePage& v) { write_fields(j, v); }
void from_json(const json& j, UnitStatePage& v) { read_fields(j, v, "UnitStatePage"); }

void to_json(json& j, const MachinePage& v) { write_fields(j, v); }
void from_json(const json& j, MachinePage& v) { read_fields(j, v, "MachinePage"); }

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

// The code is always written: 0 is no valid status, so a missing one is caught when decoding.
void to_json(json& j, const BatchResult& v) {
  j = json::object();
  j["name"] = v.name;
  j["code"] = v.code;
  put(j, "message", v.message);
}
void from_json(const json& j, BatchResult& v) {
  require_object(j, "BatchResult");
  get(j, "name", v.name);
  v.code = j.at("code").get<int>();
  get(j, "message", v.message);
}
void to_json(json& j, const BatchResults& v) { j = json{{"results", v.results}}; }
void from_json(const json& j, BatchResults& v) {
  require_object(j, "BatchResults");
  get(j, "results", v.results);
}

namespace {

// Listing pages written straight to text: building the DOM first (a map node and a string copy
// per field) was a third of the server's time in a 10,000-unit listing. The bytes are dump()'s:
// keys in sorted order, empty fields left out, the same escapes; a string with non-ASCII bytes
// takes dump() itself (it also replaces invalid UTF-8).
void write_string(std::string& out, const std::string& s) {
  const std::size_t start = out.size();
  out += '"';
  // Runs of bytes that need no escape are appended whole (byte by byte, this was a quarter of
  // the server's time in a 10,000-unit listing).
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      out.resize(start);
      out += dump(json(s));
      return;
    }
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s, run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        out += "\\u00";
        out += kHex[(c >> 4) & 0xf];
        out += kHex[c & 0xf];
      }
    }
  }
  out.append(s, run, std::string::npos);
  out += '"';
}

// Writes `"key":` before each present member and the commas between them.
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string& out) : out_(out) { out_ += '{'; }
  ~ObjectWriter() { out_ += '}'; }
  ObjectWriter(const ObjectWriter&) = delete;
  ObjectWriter& operator=(const ObjectWriter&) = delete;
  std::string& key(const char* k) {
    if (!first_) out_ += ',';
    first_ = false;
    out_ += '"';
    out_ += k;
    out_ += "\":";
    return out_;
  }
  void str(const char* k, const std::string& v) {
    if (!v.empty()) write_string(key(k), v);
  }

 private:
  std::string& out_;
  bool first_ = true;
};

template <class T, class F>
void write_array(std::string& out, const std::vector<T>& items, F&& write_item) {
  out += '[';
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    write_item(out, items[i]);
  }
  out += ']';
}

void write_options(std::string& out, const std::vector<UnitOption>& options) {
  write_array(out, options, [](std::string& w, const UnitOption& opt) {
    ObjectWriter oo(w);
    oo.str("name", opt.name);
    oo.str("section", opt.section);
    oo.str("value", opt.value);
  });
}

// Members in the sorted order of their keys, as dump() writes a std::map. `options_json`, when
// not empty, is u's options as write_options wrote them.
void write_unit(std::string& out, const Unit& u, std::string_view options_json) {
  ObjectWriter o(out);
  o.str("currentState", u.current_state);
  o.str("description", u.description);
  o.str("desiredState", u.desired_state);
  if (u.global) o.key("global") += *u.global ? "true" : "false";
  o.str("hash", u.hash);
  o.str("machineID", u.machine_id);
  o.str("name", u.name);
  if (!options_json.empty()) {
    o.key("options") += options_json;
  } else if (!u.options.empty()) {
    write_options(o.key("options"), u.options);
  }
  o.str("reason", u.reason);
}

void write_state(std::string& out, const UnitState& st) {
  ObjectWriter o(out);
  o.str("hash", st.hash);
  o.str("machineID", st.machine_id);
  o.str("name", st.name);
  o.str("systemdActiveState", st.systemd_active_state);
  o.str("systemdLoadState", st.systemd_load_state);
  o.str("systemdSubState", st.systemd_sub_state);
}

template <class T, class F>
void write_page(std::string& out, const char* key, const std::vector<T>& items,
                const std::string& token, F&& write_item) {
  ObjectWriter o(out);
  o.str("nextPageToken", token);
  if (!items.empty()) write_array(o.key(key), items, write_item);
}

}  // namespace

std::string encode(const Unit& v) { return dump(json(v)); }
std::string encode(const UnitState& v) { return dump(json(v)); }
std::string encode(const Machine& v) { return dump(json(v)); }
std::string encode(const UnitPage& v) {
  std::string out;
  write_page(out, "units", v.units, v.next_page_token,
             [](std::string& w, const Unit& u) { write_unit(w, u, {}); });
  return out;
}
std::string encode_options(const std::vector<UnitOption>& options) {
  std::string out;
  if (!options.empty()) write_options(out, options);
  return out;
}
std::string encode(const UnitPage& v, const std::vector<std::string_view>& options_json) {
  std::string out;
  std::size_t i = 0;
  write_page(out, "units", v.units, v.next_page_token, [&](std::string& w, const Unit& u) {
    write_unit(w, u, i < options_json.size() ? options_json[i] : std::string_view());
    ++i;
  });
  return out;
}
std::string encode(const UnitStatePage& v) {
  std::string out;
  write_page(out, "states", v.states, v.next_page_token, write_state);
  return out;
}
std::string encode(const MachinePage& v) { return dump(json(v)); }
std::string encode(const ApiError& v) { return dump(json(v)); }
std::string encode(const BatchResults& v) { return dump(json(v)); }

Result<Unit> decode_unit(std::string_view text) { return decode<Unit>(text, "Unit"); }
Result<MachinePage> decode_machine_page(std::string_view text) {
  return decode<MachinePage>(text, "MachinePage");
}
Result<ApiError> decode_api_error(std::string_view text) {
  return decode<ApiError>(text, "error body");
}
Result<BatchResults> decode_batch_results(std::string_view text) {
  return decode<BatchResults>(text, "BatchResults");
}

// {"lock":{"max":N,"holders":[...]},"rollout":{"state",...,"hosts":[{"machine","step","since"}]}}
void to_json(json& j, const RebootStatus& v) {
  j = json{{"lock", {{"max", v.max}, {"holders", v.holders}}}};
  if (!v.rollout) return;
  const auto& r = *v.rollout;
  json hosts = json::array();
  for (const auto& h : r.hosts)
    hosts.push_back({{"machine", h.machine}, {"step", h.step}, {"since", h.since}});
  j["rollout"] = {{"state", r.state},
                  {"maxUnavailable", r.max_unavailable},
                  {"timeoutSeconds", r.timeout_seconds},
                  {"started", r.started},
                  {"hosts", std::move(hosts)}};
  if (!r.message.empty()) j["rollout"]["message"] = r.message;
}
void from_json(const json& j, RebootStatus& v) {
  require_object(j, "RebootStatus");
  const json& lock = j.at("lock");
  v.max = lock.value("max", 1);
  v.holders = lock.value("holders", std::vector<std::string>{});
  v.rollout.reset();
  if (auto it = j.find("rollout"); it != j.end() && it->is_object()) {
    RebootRollout r;
    r.state = it->value("state", std::string());
    r.max_unavailable = it->value("maxUnavailable", 1);
    r.timeout_seconds = it->value("timeoutSeconds", std::int64_t{0});
    r.started = it->value("started", std::int64_t{0});
    r.message = it->value("message", std::string());
    for (const auto& h : it->value("hosts", json::array()))
      r.hosts.push_back({h.value("machine", std::string()), h.value("step", std::string()),
                         h.value("since", std::int64_t{0})});
    v.rollout = std::move(r);
  }
}
std::string encode(const RebootStatus& v) { return dump(json(v)); }
Result<RebootStatus> decode_reboot_status(std::string_view text) {
  return decode<RebootStatus>(text, "RebootStatus");
}

void to_json(json& j, const Rollout& v) {
  json instances = json::array();
  for (const auto& i : v.instances) {
    json e{{"unit", i.unit}, {"step", i.step}, {"oldHash", i.old_hash}, {"sinceMs", i.since_ms}};
    if (!i.machine.empty()) e["machine"] = i.machine;
    if (!i.message.empty()) e["message"] = i.message;
    instances.push_back(std::move(e));
  }
  j = json{{"name", v.name},
           {"hash", v.hash},
           {"state", v.state},
           {"maxUnavailable", v.max_unavailable},
           {"minHealthyMs", v.min_healthy_ms},
           {"timeoutMs", v.timeout_ms},
           {"revert", v.revert},
           {"startedMs", v.started_ms},
           {"instances", std::move(instances)}};
  if (!v.old_hash.empty()) j["oldHash"] = v.old_hash;
  if (v.abort) j["abort"] = true;
  if (v.ended_ms != 0) j["endedMs"] = v.ended_ms;
  if (!v.message.empty()) j["message"] = v.message;
}
void from_json(const json& j, Rollout& v) {
  require_object(j, "Rollout");
  v.name = j.value("name", std::string());
  v.hash = j.value("hash", std::string());
  v.old_hash = j.value("oldHash", std::string());
  v.state = j.value("state", std::string());
  v.max_unavailable = j.value("maxUnavailable", 1);
  v.min_healthy_ms = j.value("minHealthyMs", std::int64_t{0});
  v.timeout_ms = j.value("timeoutMs", std::int64_t{0});
  v.revert = j.value("revert", true);
  v.abort = j.value("abort", false);
  v.started_ms = j.value("startedMs", std::int64_t{0});
  v.ended_ms = j.value("endedMs", std::int64_t{0});
  v.message = j.value("message", std::string());
  v.instances.clear();
  for (const auto& e : j.value("instances", json::array()))
    v.instances.push_back({e.value("unit", std::string()), e.value("step", std::string()),
                           e.value("machine", std::string()), e.value("oldHash", std::string()),
                           e.value("sinceMs", std::int64_t{0}), e.value("message", std::string())});
}
std::string encode(const Rollout& v) { return dump(json(v)); }
std::string encode(const RolloutRequest& v) {
  json options = json::array();
  for (const auto& o : v.options) options.push_back(o);
  return dump(json{{"name", v.name},
                   {"options", std::move(options)},
                   {"maxUnavailable", v.max_unavailable},
                   {"minHealthyMs", v.min_healthy_ms},
                   {"timeoutMs", v.timeout_ms},
                   {"revert", v.revert}});
}
Result<Rollout> decode_rollout(std::string_view text) { return decode<Rollout>(text, "Rollout"); }
Result<std::vector<Rollout>> decode_rollout_list(std::string_view text) {
  auto j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return fail(Errc::invalid_argument, "RolloutList: expected a JSON object");
  try {
    return j.value("rollouts", std::vector<Rollout>{});
  } catch (const json::exception& e) {
    return fail(Errc::invalid_argument, std::string("RolloutList: ") + e.what());
  }
}
Result<RolloutRequest> decode_rollout_request(std::string_view text) {
  auto j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return fail(Errc::invalid_argument, "unable to decode body: expected a JSON object");
  try {
    RolloutRequest r;
    r.name = j.value("name", std::string());
    r.options = j.value("options", std::vector<UnitOption>{});
    r.max_unavailable = j.value("maxUnavailable", 1);
    r.min_healthy_ms = j.value("minHealthyMs", r.min_healthy_ms);
    r.timeout_ms = j.value("timeoutMs", r.timeout_ms);
    r.revert = j.value("revert", true);
    return r;
  } catch (const json::exception& e) {
    return fail(Errc::invalid_argument, std::string("unable to decode body: ") + e.what());
  }
}

}  // namespace fleet::api
