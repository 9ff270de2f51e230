#pragma once
// FakeUnitManager: a complete in-memory UnitManager with systemd's observable semantics, for
// agent unit tests. Operations never suspend; state-change callbacks fire synchronously from
// within the operation, on the caller's thread.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/unit_manager.h"

namespace fleet::agent {

class FakeUnitManager final : public UnitManager {
 public:
  enum class Failure {
    none,
    process_exits,  // like a failing Type=simple: start job "done", then failed/failed
    job_fails,      // like a failing Type=oneshot: start returns an error, unit failed/failed
  };

  // `on_disk`: unit files left by a previous run (adoption after restart); loaded/inactive/dead.
  explicit FakeUnitManager(std::vector<UnitFileSpec> on_disk = {});

  Task<Status> load(std::vector<UnitFileSpec> units) override;
  Task<Status> unload(std::vector<std::string> names) override;
  Task<Status> start(std::vector<std::string> names) override;
  Task<Status> stop(std::vector<std::string> names) override;
  Task<Result<std::vector<UnitStatus>>> list(std::vector<std::string> names) override;
  void on_state_change(StateCallback cb) override { callback_ = std::move(cb); }
  std::vector<std::string> files_on_disk() const override;
  Task<Result<bool>> system_stopping() override;
  // What system_stopping() answers (false until set).
  void set_system_stopping(bool stopping) { system_stopping_ = stopping; }
  // Records the request and reports the system stopping from then on.
  Task<Status> reboot() override;
  int reboots() const { return reboots_; }

  // --- Test controls and inspection. ---
  // How a unit behaves on its next starts (set before or after it is loaded).
  void set_failure(const std::string& name, Failure f) { failures_[name] = f; }
  // Simulates a change from outside (a process crashing, an admin's systemctl); fires callbacks.
  // Returns false for an unknown unit.
  bool set_state(const std::string& name, std::string active, std::string sub);
  // While unavailable, every operation fails with Errc::unavailable (D-Bus down).
  void set_unavailable(bool v) { unavailable_ = v; }
  // Operations refused so far because the manager was unavailable.
  int refused() const { return refused_; }
  // While set, starts fail with Errc::unavailable and every other operation works: systemd
  // dropping off the bus with the jobs and joining again at once. Counted in refused().
  void set_starts_lost(bool v) { starts_lost_ = v; }
  std::optional<std::string> content(const std::string& name) const;
  int reloads() const { return reloads_; }
  // Operations in order, e.g. "load a.service", "start a.service", "reload".
  const std::vector<std::string>& calls() const { return calls_; }

 private:
  Error refuse(const char* op) {
    ++refused_;
    return make_error(Errc::unavailable, std::string(op) + ": init system unavailable");
  }
  struct Unit {
    std::string content;
    std::string active = "inactive";
    std::string sub = "dead";
    uint32_t pid = 0;
  };

  UnitStatus status_of(const std::string& name) const;
  void transition(const std::string& name, Unit& u, std::string active, std::string sub);

  std::map<std::string, Unit> units_;
  std::map<std::string, Failure> failures_;
  StateCallback callback_;
  std::vector<std::string> calls_;
  int reloads_ = 0;
  uint32_t next_pid_ = 1000;
  bool unavailable_ = false;
  bool starts_lost_ = false;
  int refused_ = 0;
  bool system_stopping_ = false;
  int reboots_ = 0;
};

}  // namespace fleet::agent
