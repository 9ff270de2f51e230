#pragma once
// UnitManager: the agent's only window on the local init system. Implementations:
// SystemdUnitManager (agent/systemd/, D-Bus) and FakeUnitManager (in memory, for tests).
//
// Loop affinity: every method must be called on the process's io_context thread; coroutines
// suspend only on that loop. Callbacks registered with on_state_change run on the same thread.
// Operations on batches try every unit and report the first failure (naming all failed units),
// so one bad unit never blocks the rest.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace fleet::agent {

template <class T>
using Task = boost::asio::awaitable<T>;

struct UnitFileSpec {
  std::string name;     // e.g. "web@1.service"; no '/', must end in a unit type suffix
  std::string content;  // full unit file text
};

struct UnitStatus {
  std::string name;
  std::string load_state;    // loaded, not-found, error, masked, ...
  std::string active_state;  // active, inactive, failed, activating, deactivating, reloading
  std::string sub_state;     // running, dead, failed, exited, start-pre, ...
  uint32_t main_pid = 0;     // 0 when there is none or it is not known cheaply

  bool operator==(const UnitStatus&) const = default;
};

// Status of a name the manager knows nothing about (systemd reports the same).
inline UnitStatus not_found_status(std::string name) {
  return UnitStatus{std::move(name), "not-found", "inactive", "dead", 0};
}

// Rejects names that are not safe as a file name in the units dir or not a unit name.
[[nodiscard]] Status check_unit_name(std::string_view name);

// Combines per-unit failures of a batch: ok when empty, else the first failure's code and a
// message naming every failed unit ("start: a.service: not_found: ...; b.service: ...").
[[nodiscard]] Status batch_status(std::string_view op,
                                  const std::vector<std::pair<std::string, Error>>& failures);

class UnitManager {
 public:
  using StateCallback = std::function<void(const UnitStatus&)>;

  virtual ~UnitManager() = default;

  // Writes each file into the units dir (overwriting), links it into the init system (runtime,
  // force) and reloads the init system once for the whole batch. New units end up
  // loaded/inactive/dead; a running unit keeps running with its new definition after the reload.
  // Errors: invalid_argument for a bad name (nothing is written then), internal/unavailable when
  // the write, link or reload fails.
  virtual Task<Status> load(std::vector<UnitFileSpec> units) = 0;

  // Stops, unlinks, resets the failed state of and deletes each unit, then reloads once.
  // Unknown names are not an error (unload is idempotent). Afterwards list() reports not-found.
  // Errors: unavailable when the init system cannot be reached, and then nothing was removed.
  virtual Task<Status> unload(std::vector<std::string> names) = 0;

  // Starts each unit and waits until its start job has finished. A finished job is not a
  // running process: a Type=simple unit whose process exits at once still starts "ok" and turns
  // failed/failed shortly after; watch states for that. Errors: not_found for a unit that is
  // not loaded, internal when a job fails, timeout when a job does not finish in time.
  virtual Task<Status> start(std::vector<std::string> names) = 0;

  // Stops each unit and waits for its stop job. A failed unit stays failed (until unload).
  virtual Task<Status> stop(std::vector<std::string> names) = 0;

  // Current status of each name, in the order given; unknown names get not_found_status().
  // An empty `names` lists every unit this manager tracks (loaded by it or found on disk).
  virtual Task<Result<std::vector<UnitStatus>>> list(std::vector<std::string> names) = 0;

  // Replaces the state-change callback. Level-triggered: called whenever the init system reports
  // a tracked unit's state, possibly repeating the same state; never polled.
  virtual void on_state_change(StateCallback cb) = 0;

  // Names of the unit files currently in the units dir (sorted): what a restarted agent adopts.
  virtual std::vector<std::string> files_on_disk() const = 0;

  // True while the init system itself is shutting down (systemd's SystemState "stopping": a
  // poweroff, reboot or halt is under way), as opposed to only fleetd being stopped or
  // restarted. Errors: unavailable/timeout when the init system does not answer.
  virtual Task<Result<bool>> system_stopping() = 0;

  // Reboots the host the way `systemctl reboot` does (starts reboot.target, job mode
  // replace-irreversibly): the init system stops every unit, fleetd included, then reboots.
  // Returns once the job is queued. Errors: as a failed start job, or unavailable/timeout.
  virtual Task<Status> reboot() = 0;
};

}  // namespace fleet::agent
