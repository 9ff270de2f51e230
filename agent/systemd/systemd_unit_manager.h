#pragma once
// SystemdUnitManager: UnitManager over systemd's D-Bus API (sdbus-c++ 1.2), the project's only
// D-Bus code. It runs on the caller's io_context: no sdbus thread; the bus fd is watched with a
// stream_descriptor and sd-bus timeouts with a steady_timer. Every
// method call is asynchronous; start/stop wait for JobRemoved, recorded by job path because it
// may arrive before the StartUnit reply.

#include <chrono>
#include <memory>
#include <string>

#include "agent/unit_manager.h"

namespace fleet::agent {

struct SystemdOptions {
  std::string units_dir = "/run/fleet/units";     // fleet's unit files live here, linked at runtime
  std::chrono::milliseconds call_timeout{10000};  // per D-Bus method call
  std::chrono::milliseconds job_timeout{90000};   // start/stop until JobRemoved
};

class SystemdUnitManager final : public UnitManager {
 public:
  // Connects to the system bus ($DBUS_SYSTEM_BUS_ADDRESS or /run/dbus/system_bus_socket),
  // registers the signal matches and subscribes, on the calling coroutine's executor. The
  // connect handshake and match registration are short synchronous calls on a local socket
  // (sdbus-c++ 1.2 has no async variant); everything afterwards is asynchronous.
  // Error: unavailable when the bus or systemd cannot be reached.
  static Task<Result<std::unique_ptr<SystemdUnitManager>>> connect(SystemdOptions opts = {});

  SystemdUnitManager(const SystemdUnitManager&) = delete;
  SystemdUnitManager& operator=(const SystemdUnitManager&) = delete;
  ~SystemdUnitManager() override;

  Task<Status> load(std::vector<UnitFileSpec> units) override;
  Task<Status> unload(std::vector<std::string> names) override;
  Task<Status> start(std::vector<std::string> names) override;
  Task<Status> stop(std::vector<std::string> names) override;
  Task<Result<std::vector<UnitStatus>>> list(std::vector<std::string> names) override;
  void on_state_change(StateCallback cb) override;
  std::vector<std::string> files_on_disk() const override;
  Task<Result<bool>> system_stopping() override;
  Task<Status> reboot() override;

  // False while the bus connection is down (dbus-daemon restarted): operations fail with
  // Errc::unavailable meanwhile. The manager reconnects by itself (250 ms, doubling up to 5 s),
  // subscribes again and reports every tracked unit's state once through the callback.
  bool connected() const;

  struct Impl;

 private:
  explicit SystemdUnitManager(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// systemd's object path label escaping, reversed: "web_40_2e1_2eservice" -> "web@.1.service".
std::string unescape_bus_label(std::string_view label);

}  // namespace fleet::agent
