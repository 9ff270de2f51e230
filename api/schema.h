#pragma once
// fleet's HTTP API v1 entities with their JSON codecs. Field names are fleet's;
// every field is omitted when empty (Go `omitempty`), so an empty page encodes as `{}`.
// Additions beyond fleet, also omitempty so fleet clients ignore them: Unit::reason (why the
// engine cannot place the unit) and Machine::version (the fleetd version of that machine).

#include <cstddef>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace fleet::api {

// Largest request body fleetd's API reads (413 beyond), and fleetctl's check before it sends a
// unit. A unit file may hold up to 1 MiB of text (unitfile::kMaxFileBytes); its JSON form is
// larger (each option repeats its section, escapes grow control characters up to six times), so
// the limit leaves room for every realistic unit of that size: one fleet accepts is accepted
// end to end. fleet itself had no limit.
inline constexpr std::size_t kMaxRequestBodyBytes = 8 * 1024 * 1024;

// Desired/current state vocabulary.
inline constexpr std::string_view kStateInactive = "inactive";
inline constexpr std::string_view kStateLoaded = "loaded";
inline constexpr std::string_view kStateLaunched = "launched";
bool is_valid_unit_state(std::string_view s);

struct UnitOption {
  std::string section;
  std::string name;
  std::string value;
  bool operator==(const UnitOption&) const = default;
};

struct Unit {
  std::string name;
  std::vector<UnitOption> options;
  std::string desired_state;  // "desiredState"
  std::string current_state;  // "currentState"
  std::string machine_id;     // "machineID"
  std::string reason;         // "reason": unschedulable reason (addition)
  // Additions written only in the basic view of a listing (GET /fleet/v1/units?view=basic),
  // which leaves `options` out: what fleetctl's list-unit-files derives from them. `global` is
  // set exactly when the unit came in the basic view.
  std::string hash = {};            // "hash": sha1 of the unit file, hex
  std::string description = {};     // "description": [Unit] Description=
  std::optional<bool> global = {};  // "global": [X-Fleet] Global=true
  bool operator==(const Unit&) const = default;
};

struct UnitState {
  std::string name;
  std::string hash;
  std::string machine_id;            // "machineID"
  std::string systemd_load_state;    // "systemdLoadState"
  std::string systemd_active_state;  // "systemdActiveState"
  std::string systemd_sub_state;     // "systemdSubState"
  bool operator==(const UnitState&) const = default;
};

struct Machine {
  std::string id;
  std::string primary_ip;                       // "primaryIP"
  std::map<std::string, std::string> metadata;  // sorted by key
  std::string version;                          // "version" (addition)
  // "maintenance" (addition): "cordoned" or "draining" (fleetctl cordon/drain); empty otherwise.
  std::string maintenance = {};  // a default keeps older aggregate initialisations valid
  bool operator==(const Machine&) const = default;
};

struct UnitPage {
  std::vector<Unit> units;
  std::string next_page_token;  // "nextPageToken"
  bool operator==(const UnitPage&) const = default;
};

struct UnitStatePage {
  std::vector<UnitState> states;
  std::string next_page_token;
  bool operator==(const UnitStatePage&) const = default;
};

struct MachinePage {
  std::vector<Machine> machines;
  std::string next_page_token;
  bool operator==(const MachinePage&) const = default;
};

// Beyond fleet: many units in one request. `POST /fleet/v1/units:batchUpdate` takes a UnitPage
// whose units carry name + desiredState, `POST /fleet/v1/units:batchDelete` one whose units carry
// names. The answer holds one result per unit, in order: the status code the single-unit request
// would have answered (204, 400, 404, ...) and, for an error, its message.
struct BatchResult {
  std::string name;
  int code = 0;
  std::string message;
  bool operator==(const BatchResult&) const = default;
};

struct BatchResults {
  std::vector<BatchResult> results;
  bool operator==(const BatchResults&) const = default;
};

// True when the last `[X-Fleet] Global=` value is truthy.
bool is_global(const std::vector<UnitOption>& options);
// The same for a unit from either view of a listing: its `global` when set, else its options.
bool is_global(const Unit& u);

// The error body `{"error":{"code":N,"message":"..."}}`.
struct ApiError {
  int code = 0;
  std::string message;
  bool operator==(const ApiError&) const = default;
};

// How googleapi (the Go client fleetctl used) prints an API error:
// `googleapi: Error <code>: <message>`, or, without a message,
// `googleapi: got HTTP response code <code> with body: <body>`.
std::string format_api_error(int code, std::string_view message, std::string_view body);
// HTTP status → our error vocabulary (404 → not_found, 409 → conflict, 503 → unavailable, ...).
Errc errc_for_http_status(int code);

// nlohmann ADL codecs. from_json throws nlohmann::json::exception on a type mismatch; use the
// decode_* functions below for a Result instead.
void to_json(nlohmann::json& j, const UnitOption& v);
void from_json(const nlohmann::json& j, UnitOption& v);
void to_json(nlohmann::json& j, const Unit& v);
void from_json(const nlohmann::json& j, Unit& v);
void to_json(nlohmann::json& j, const UnitState& v);
void from_json(const nlohmann::json& j, UnitState& v);
void to_json(nlohmann::json& j, const Machine& v);
void from_json(const nlohmann::json& j, Machine& v);
void to_json(nlohmann::json& j, const UnitPage& v);
void from_json(const nlohmann::json& j, UnitPage& v);
void to_json(nlohmann::json& j, const UnitStatePage& v);
void from_json(const nlohmann::json& j, UnitStatePage& v);
void to_json(nlohmann::json& j, const MachinePage& v);
void from_json(const nlohmann::json& j, MachinePage& v);
void to_json(nlohmann::json& j, const ApiError& v);  // wraps in {"error":{...}}
void from_json(const nlohmann::json& j, ApiError& v);
void to_json(nlohmann::json& j, const BatchResult& v);
void from_json(const nlohmann::json& j, BatchResult& v);
void to_json(nlohmann::json& j, const BatchResults& v);
void from_json(const nlohmann::json& j, BatchResults& v);

// Beyond fleet: rolling reboots (GET /fleet/v1/reboot). Field names as stored in the registry.
struct RebootHost {
  std::string machine;
  std::string step;        // pending, draining, rebooting, done, failed
  std::int64_t since = 0;  // Unix seconds the step began
  bool operator==(const RebootHost&) const = default;
};
struct RebootRollout {
  std::string state;  // running, done, stopped
  int max_unavailable = 1;
  std::int64_t timeout_seconds = 0;
  std::int64_t started = 0;
  std::vector<RebootHost> hosts;
  std::string message;
  bool operator==(const RebootRollout&) const = default;
};
struct RebootStatus {
  int max = 1;                       // the semaphore: at most this many holders
  std::vector<std::string> holders;  // machine IDs
  std::optional<RebootRollout> rollout;
  bool operator==(const RebootStatus&) const = default;
};
void to_json(nlohmann::json& j, const RebootStatus& v);
void from_json(const nlohmann::json& j, RebootStatus& v);
std::string encode(const RebootStatus& v);
Result<RebootStatus> decode_reboot_status(std::string_view text);

// Beyond fleet: rolling updates (/fleet/v1/rollouts). Field names as stored in the registry.
struct RolloutInstance {
  std::string unit;
  std::string step;     // pending, replacing, healthy, failed, reverting, reverted, skipped
  std::string machine;  // where it was replaced; may be empty
  std::string old_hash;
  std::int64_t since_ms = 0;  // Unix milliseconds the step began
  std::string message;        // failed: what systemd reported
  bool operator==(const RolloutInstance&) const = default;
};
struct Rollout {
  std::string name;  // unit or template
  std::string hash;  // new content
  std::string old_hash;
  std::string state;  // running, reverting, done, reverted, failed, aborted
  int max_unavailable = 1;
  std::int64_t min_healthy_ms = 0;
  std::int64_t timeout_ms = 0;
  bool revert = true;
  bool abort = false;
  std::int64_t started_ms = 0;
  std::int64_t ended_ms = 0;
  std::vector<RolloutInstance> instances;
  std::string message;
  bool operator==(const Rollout&) const = default;
  bool over() const { return state != "running" && state != "reverting"; }
};
// The most instances a rollout replaces at once, and hosts a rolling reboot takes down at once.
// The engine writes each step (the rollout or reboot record and every unit or host it changes)
// in one fenced etcd txn, and etcd allows 128 operations per txn (--max-txn-ops): a rollout step
// changes up to maxUnavailable units and the template, a reboot step up to 4 keys per host.
// Larger values made every step fail, and the engine retry it for good.
constexpr int kMaxRolloutUnavailable = 100;
constexpr int kMaxRebootUnavailable = 30;

// POST /fleet/v1/rollouts: new content for a unit or a template's instances.
struct RolloutRequest {
  std::string name;
  std::vector<UnitOption> options;
  int max_unavailable = 1;
  std::int64_t min_healthy_ms = 5000;
  std::int64_t timeout_ms = 300000;
  bool revert = true;
};
void to_json(nlohmann::json& j, const Rollout& v);
void from_json(const nlohmann::json& j, Rollout& v);
std::string encode(const Rollout& v);
std::string encode(const RolloutRequest& v);
Result<Rollout> decode_rollout(std::string_view text);
Result<std::vector<Rollout>> decode_rollout_list(std::string_view text);  // {"rollouts":[...]}
Result<RolloutRequest> decode_rollout_request(std::string_view text);

// Compact JSON text of one entity.
std::string encode(const Unit& v);
std::string encode(const UnitState& v);
std::string encode(const Machine& v);
std::string encode(const UnitPage& v);
std::string encode(const UnitStatePage& v);
std::string encode(const MachinePage& v);
std::string encode(const ApiError& v);
std::string encode(const BatchResults& v);

// For a server that encodes each unit content's options once and reuses them in every listing:
// the `options` array as encode(UnitPage) writes it ("" for none), and encode(UnitPage) with
// units[i]'s options written as options_json[i] when that is not empty. The same bytes.
std::string encode_options(const std::vector<UnitOption>& options);
std::string encode(const UnitPage& v, const std::vector<std::string_view>& options_json);

// Parsing; Errc::invalid_argument with the parser's message on malformed input.
Result<Unit> decode_unit(std::string_view text);
// Listing pages are read without a DOM (page_reader.cpp), with the same results.
Result<UnitPage> decode_unit_page(std::string_view text);
Result<UnitStatePage> decode_unit_state_page(std::string_view text);
Result<MachinePage> decode_machine_page(std::string_view text);
Result<ApiError> decode_api_error(std::string_view text);
Result<BatchResults> decode_batch_results(std::string_view text);

}  // namespace fleet::api
