#pragma once
// The agent's pure planner: what this machine should run (assignments from the engine) against
// what systemd and the units directory show, giving ordered tasks with reasons. Only the executor
// (agent.cpp) touches D-Bus and the registry.

#include <map>
#include <string>
#include <vector>

#include "registry/records.h"

namespace fleet::agent {

struct DesiredUnit {
  std::string hash;
  registry::TargetState desired = registry::TargetState::loaded;
};

struct CurrentUnit {
  std::string hash;          // of the file in the units directory; empty if unknown
  std::string active_state;  // systemd's ActiveState ("" if not loaded in systemd)
  // We asked systemd to start it (or adopted it running) and have not stopped it since. This is
  // what keeps a failed unit from being restarted on every pass (fleet's local cache).
  bool start_requested = false;
};

enum class TaskKind { unload, load, stop, start };  // also the execution order

std::string_view to_string(TaskKind k);

struct AgentTask {
  TaskKind kind;
  std::string unit;
  std::string reason;
  bool operator==(const AgentTask&) const = default;
};

// Tasks ordered by kind (unload, load, stop, start), then by unit name. Deterministic.
std::vector<AgentTask> plan_agent(const std::map<std::string, DesiredUnit>& desired,
                                  const std::map<std::string, CurrentUnit>& current);

// Whether systemd's ActiveState means the unit runs or is on its way (no start needed).
bool is_running_state(std::string_view active_state);

}  // namespace fleet::agent
