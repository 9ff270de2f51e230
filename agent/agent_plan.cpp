#include "agent/agent_plan.h"

#include <algorithm>

namespace fleet::agent {

using registry::TargetState;

std::string_view to_string(TaskKind k) {
  switch (k) {
    case TaskKind::unload:
      return "unload";
    case TaskKind::load:
      return "load";
    case TaskKind::stop:
      return "stop";
    case TaskKind::start:
      return "start";
  }
  return "unknown";
}

bool is_running_state(std::string_view s) {
  return s == "active" || s == "activating" || s == "reloading";
}

std::vector<AgentTask> plan_agent(const std::map<std::string, DesiredUnit>& desired,
                                  const std::map<std::string, CurrentUnit>& current) {
  std::vector<AgentTask> tasks;
  auto add = [&](TaskKind k, const std::string& unit, const char* reason) {
    tasks.push_back({k, unit, reason});
  };

  for (const auto& [name, cur] : current) {
    auto it = desired.find(name);
    if (it == desired.end() || it->second.desired == TargetState::inactive) {
      add(TaskKind::unload, name, "unit loaded but not scheduled here");
    } else if (!cur.hash.empty() && cur.hash != it->second.hash) {
      add(TaskKind::unload, name, "unit loaded but hash differs to expected");
    }
  }

  for (const auto& [name, want] : desired) {
    if (want.desired == TargetState::inactive) continue;
    auto it = current.find(name);
    bool present = it != current.end();
    bool replaced = present && !it->second.hash.empty() && it->second.hash != want.hash;
    if (!present || replaced) {
      add(TaskKind::load, name,
          replaced ? "unit content replaced" : "unit scheduled here but not loaded");
      if (want.desired == TargetState::launched)
        add(TaskKind::start, name, "unit currently loaded but desired state is launched");
      continue;
    }
    const CurrentUnit& cur = it->second;
    bool running = is_running_state(cur.active_state);
    if (want.desired == TargetState::launched && !cur.start_requested && !running) {
      add(TaskKind::start, name, "unit currently loaded but desired state is launched");
    } else if (want.desired == TargetState::loaded && (cur.start_requested || running)) {
      add(TaskKind::stop, name, "unit currently launched but desired state is loaded");
    }
  }

  std::stable_sort(tasks.begin(), tasks.end(), [](const AgentTask& a, const AgentTask& b) {
    if (a.kind != b.kind) return a.kind < b.kind;
    return a.unit < b.unit;
  });
  return tasks;
}

}  // namespace fleet::agent
