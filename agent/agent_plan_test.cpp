#include "agent/agent_plan.h"

#include <doctest/doctest.h>

using namespace fleet::agent;
using fleet::registry::TargetState;

namespace {
struct Case {
  const char* name;
  std::map<std::string, DesiredUnit> desired;
  std::map<std::string, CurrentUnit> current;
  std::vector<AgentTask> expected;
};
}  // namespace

TEST_CASE("agent plans follow desired against current state") {
  const auto L = TargetState::loaded;
  const auto R = TargetState::launched;
  std::vector<Case> cases = {
      {"nothing desired and nothing present gives no task", {}, {}, {}},
      {"a unit scheduled here and launched is loaded then started",
       {{"a.service", {"h1", R}}},
       {},
       {{TaskKind::load, "a.service", "unit scheduled here but not loaded"},
        {TaskKind::start, "a.service", "unit currently loaded but desired state is launched"}}},
      {"a unit scheduled here as loaded is only loaded",
       {{"a.service", {"h1", L}}},
       {},
       {{TaskKind::load, "a.service", "unit scheduled here but not loaded"}}},
      {"a unit no longer scheduled here is unloaded",
       {},
       {{"a.service", {"h1", "active", true}}},
       {{TaskKind::unload, "a.service", "unit loaded but not scheduled here"}}},
      {"an inactive assignment unloads the unit",
       {{"a.service", {"h1", TargetState::inactive}}},
       {{"a.service", {"h1", "inactive", false}}},
       {{TaskKind::unload, "a.service", "unit loaded but not scheduled here"}}},
      {"a running unit that should run needs nothing",
       {{"a.service", {"h1", R}}},
       {{"a.service", {"h1", "active", true}}},
       {}},
      {"a running unit adopted after a restart is not started again",
       {{"a.service", {"h1", R}}},
       {{"a.service", {"h1", "active", false}}},
       {}},
      {"a failed unit we already started is not restarted on every pass",
       {{"a.service", {"h1", R}}},
       {{"a.service", {"h1", "failed", true}}},
       {}},
      {"a loaded unit whose desired state becomes launched is started",
       {{"a.service", {"h1", R}}},
       {{"a.service", {"h1", "inactive", false}}},
       {{TaskKind::start, "a.service", "unit currently loaded but desired state is launched"}}},
      {"a launched unit whose desired state becomes loaded is stopped",
       {{"a.service", {"h1", L}}},
       {{"a.service", {"h1", "active", true}}},
       {{TaskKind::stop, "a.service", "unit currently launched but desired state is loaded"}}},
      {"a unit whose content changed is unloaded, loaded and started again",
       {{"a.service", {"h2", R}}},
       {{"a.service", {"h1", "active", true}}},
       {{TaskKind::unload, "a.service", "unit loaded but hash differs to expected"},
        {TaskKind::load, "a.service", "unit content replaced"},
        {TaskKind::start, "a.service", "unit currently loaded but desired state is launched"}}},
      {"tasks are ordered unload, load, stop, start and by name",
       {{"b.service", {"h", R}}, {"a.service", {"h", R}}, {"c.service", {"h", L}}},
       {{"z.service", {"h", "active", true}}, {"c.service", {"h", "active", true}}},
       {{TaskKind::unload, "z.service", "unit loaded but not scheduled here"},
        {TaskKind::load, "a.service", "unit scheduled here but not loaded"},
        {TaskKind::load, "b.service", "unit scheduled here but not loaded"},
        {TaskKind::stop, "c.service", "unit currently launched but desired state is loaded"},
        {TaskKind::start, "a.service", "unit currently loaded but desired state is launched"},
        {TaskKind::start, "b.service", "unit currently loaded but desired state is launched"}}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto got = plan_agent(c.desired, c.current);
    REQUIRE(got.size() == c.expected.size());
    for (size_t i = 0; i < got.size(); ++i) {
      CAPTURE(i);
      CHECK(got[i].kind == c.expected[i].kind);
      CHECK(got[i].unit == c.expected[i].unit);
      CHECK(got[i].reason == c.expected[i].reason);
    }
  }
}
