#pragma once
// ApiClient: what fleetctl (and tests) need from fleet's HTTP API v1, as a
// synchronous interface: fleetctl is a short-lived program that does one request at a time.
// Implementations: HttpApiClient (api/http_client.h) and FakeApiClient (api/fake_client.h).
//
// Errors are values. An API error response carries the googleapi-formatted text fleetctl has
// always printed (`googleapi: Error 404: unit does not exist`) and an Errc from its status
// (errc_for_http_status); transport failures are Errc::unavailable or Errc::timeout.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/schema.h"
#include "common/result.h"

namespace fleet::api {

struct StateFilter {
  std::string machine_id;  // empty = any
  std::string unit_name;   // empty = any
};

struct JournalOptions {
  int lines = 10;
  bool follow = false;
  std::string output = "short";  // journalctl --output mode
  bool sudo = false;             // fleetctl --sudo (the server decides whether it matters)
};

// GET /events: which events (Documentation/api.md#events).
struct EventQuery {
  std::vector<std::string> units;  // any of these; empty = all
  std::string machine;             // machine ID prefix
  std::string since;               // RFC 3339 UTC time; empty = all
  std::int64_t after = 0;          // only events after this position
  std::size_t limit = 0;           // the newest N; 0 = all
  bool follow = false;             // keep streaming new events
};

struct Event {
  std::int64_t position = 0;
  std::string time, kind, unit, machine, reason;
};

// Output of a command run for a unit on its machine (status, journal).
struct CommandOutput {
  std::string text;
  int exit_code = 0;  // of the remote command (e.g. 3 from `systemctl status` of a dead unit)
};

class ApiClient {
 public:
  virtual ~ApiClient() = default;

  // GET /units, following nextPageToken to the end; sorted by name.
  virtual Result<std::vector<Unit>> list_units() = 0;
  // Beyond fleet: the same in the basic view (GET /units?view=basic), for a caller that needs no
  // options: each unit with `hash`, `global` and `description` set instead (Unit). A server
  // without the view sends fleet's units, options and all (`global` unset): the caller must
  // take either. The default is list_units().
  virtual Result<std::vector<Unit>> list_unit_summaries();
  // GET /units/<name>; nullopt (not an error) when the unit does not exist.
  virtual Result<std::optional<Unit>> get_unit(const std::string& name) = 0;
  // PUT /units/<name> with the whole unit (name, options, desiredState if non-empty): creates
  // the unit, or replaces its content when the options differ.
  virtual Status create_unit(const Unit& unit) = 0;
  // PUT /units/<name> with only name + desiredState.
  virtual Status set_desired_state(const std::string& name, std::string_view state) = 0;
  // DELETE /units/<name>; Errc::not_found when it did not exist.
  virtual Status destroy_unit(const std::string& name) = 0;
  // Beyond fleet: many units per request (POST /units:batchUpdate, :batchDelete, :batchCreate;
  // schema.h).
  // One status per entry, in order, as the single-unit call would give it. The defaults make one
  // call per unit; HttpApiClient batches, and falls back to them against a server without it.
  virtual Result<std::vector<Status>> set_desired_states(
      const std::vector<std::pair<std::string, std::string>>& changes);
  virtual Result<std::vector<Status>> destroy_units(const std::vector<std::string>& names);
  // POST /units:batchCreate: new units with their options and desired states (each as
  // create_unit of a unit that does not exist; Errc::conflict for a name that is taken).
  virtual Result<std::vector<Status>> create_units(const std::vector<Unit>& units);
  // GET /state[?machineID=&unitName=], all pages; sorted by (name, machine ID).
  virtual Result<std::vector<UnitState>> list_unit_states(const StateFilter& filter = {}) = 0;
  // GET /machines, all pages; sorted by ID.
  virtual Result<std::vector<Machine>> list_machines() = 0;

  // Additions beyond fleet (served by fleetd, not by fleet v1.0):
  // POST /machines/<id>:cordon | :drain (with {"force": true} when `force`) | :uncordon.
  // Errc::not_found when cordoning or draining a machine that is not up.
  virtual Status set_maintenance(const std::string& machine, std::string_view action,
                                 bool force) = 0;
  // GET /reboot: the reboot semaphore and the rolling reboot, if one was ever started.
  virtual Result<RebootStatus> reboot_status() = 0;
  // POST /reboot: a rolling reboot of `machines` (IDs, taken in this order), each to be drained
  // and back within `timeout_seconds` (0: the server's default); `max_unavailable` > 0 also sets
  // the semaphore's max. Errc::conflict (409) while one is running.
  virtual Status start_reboot(const std::vector<std::string>& machines, int max_unavailable,
                              std::int64_t timeout_seconds) = 0;
  // POST /reboot:lock or :unlock {"machine": ...} (take or free a slot of the semaphore, as a
  // host's own update agent would), or :setMax {"max": ...}.
  virtual Status reboot_lock(std::string_view action, const std::string& machine, int max) = 0;
  // GET /rollouts: every rolling update recorded (in progress or the last one of each name).
  virtual Result<std::vector<Rollout>> list_rollouts() = 0;
  // GET /rollouts/<name>; nullopt (not an error) when none was recorded.
  virtual Result<std::optional<Rollout>> get_rollout(const std::string& name) = 0;
  // POST /rollouts: records a rolling update the cluster carries out. Errc::conflict (409) while
  // one of that name is in progress, Errc::invalid_argument (400) for bad content or no
  // instance to roll.
  virtual Result<Rollout> start_rollout(const RolloutRequest& request) = 0;
  // DELETE /rollouts/<name>: asks the cluster to stop it (reverting, if it reverts).
  // Errc::not_found without one, Errc::conflict when it is over.
  virtual Status abort_rollout(const std::string& name) = 0;
  // GET /units/<name>/status[?machineID=M] → text of `systemctl status -l <name>` on the unit's
  // machine, or on `machine_id` when not empty (required for a global unit running on several
  // machines); exit code in the `Fleet-Exit-Code` response header.
  virtual Result<CommandOutput> unit_status(const std::string& name,
                                            const std::string& machine_id) = 0;
  // GET /units/<name>/journal?lines=N&output=M[&follow=1] → journal text, streamed to `sink` as
  // it arrives (CommandOutput::text stays empty). With follow the call returns only when the
  // server ends the stream or `sink` returns false.
  virtual Result<CommandOutput> unit_journal(const std::string& name, const JournalOptions& opts,
                                             const std::function<bool(std::string_view)>& sink) = 0;
  // GET /events: each matching event, oldest first, passed to `sink` as it arrives. With follow
  // the call returns only when the server ends the stream or `sink` returns false.
  virtual Status events(const EventQuery& q, const std::function<bool(const Event&)>& sink) = 0;
};

}  // namespace fleet::api
