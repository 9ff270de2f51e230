#pragma once
// The process environment commands depend on, behind an interface so command tests run without
// touching the real environment, files, clock or exec: RealSystem (system.cpp) and FakeSystem.

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace fleet::fleetctl {

class System {
 public:
  virtual ~System() = default;
  virtual std::optional<std::string> getenv(const std::string& name) const = 0;
  // Errc::not_found when absent; messages like Go's (`open <p>: no such file or directory`).
  virtual Result<std::string> read_file(const std::string& path) const = 0;
  virtual bool file_exists(const std::string& path) const = 0;
  // Blocking waits between polls (fake: returns at once and counts).
  virtual void sleep(std::chrono::milliseconds d) = 0;
  // Replaces the process with argv (execvp); returns only on failure, with the reason.
  virtual Error exec(const std::vector<std::string>& argv) = 0;
  virtual bool stdin_is_terminal() const = 0;
  // Waits draw a progress line in place only on a terminal; elsewhere they print plain lines.
  virtual bool stdout_is_terminal() const = 0;
  // A monotonic clock for deadlines of waits (fake: advances only by sleep()).
  virtual std::chrono::steady_clock::time_point now() const = 0;
};

class RealSystem : public System {
 public:
  std::optional<std::string> getenv(const std::string& name) const override;
  Result<std::string> read_file(const std::string& path) const override;
  bool file_exists(const std::string& path) const override;
  void sleep(std::chrono::milliseconds d) override;
  Error exec(const std::vector<std::string>& argv) override;
  bool stdin_is_terminal() const override;
  bool stdout_is_terminal() const override;
  std::chrono::steady_clock::time_point now() const override;
};

class FakeSystem : public System {
 public:
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> files;
  std::chrono::milliseconds slept{0};
  int sleeps = 0;
  std::vector<std::vector<std::string>> execs;
  bool terminal = false;
  bool stdout_terminal = false;
  // Called on every sleep (lets a test make state change "over time").
  std::function<void(int sleeps)> on_sleep;

  std::optional<std::string> getenv(const std::string& name) const override {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  }
  Result<std::string> read_file(const std::string& path) const override {
    auto it = files.find(path);
    if (it == files.end()) {
      return fail(Errc::not_found, "open " + path + ": no such file or directory");
    }
    return it->second;
  }
  bool file_exists(const std::string& path) const override { return files.count(path) > 0; }
  void sleep(std::chrono::milliseconds d) override {
    slept += d;
    ++sleeps;
    if (on_sleep) on_sleep(sleeps);
  }
  Error exec(const std::vector<std::string>& argv) override {
    execs.push_back(argv);
    return Error{Errc::internal, "exec disabled in tests"};
  }
  bool stdin_is_terminal() const override { return terminal; }
  bool stdout_is_terminal() const override { return stdout_terminal; }
  std::chrono::steady_clock::time_point now() const override {
    return std::chrono::steady_clock::time_point{} + slept;
  }
};

}  // namespace fleet::fleetctl
