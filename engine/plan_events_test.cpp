#include "engine/plan_events.h"

#include <doctest/doctest.h>

using namespace fleet::engine;

TEST_CASE("a plan's moves, placements and reasons become events, in plan order") {
  Plan p;
  p.tasks = {
      {TaskKind::unschedule, "a.service", "m1", "target Machine(m1) went away"},
      {TaskKind::unassign_global, "g.service", "m1", "machine left"},
      {TaskKind::schedule, "a.service", "m2", "least loaded"},
      {TaskKind::assign_global, "g.service", "m3", "global"},
      {TaskKind::set_reason, "b.service", "", "no machine fits"},
      {TaskKind::clear_reason, "c.service", "", ""},
  };
  auto ev = plan_events(p);
  REQUIRE(ev.size() == 5);
  CHECK(ev[0].kind == "unscheduled");
  CHECK(ev[0].machine == "m1");
  CHECK(ev[0].reason == "target Machine(m1) went away");
  CHECK(ev[1].kind == "unscheduled");
  CHECK(ev[2].kind == "scheduled");
  CHECK(ev[2].unit == "a.service");
  CHECK(ev[2].machine == "m2");
  CHECK(ev[3].kind == "scheduled");
  CHECK(ev[4].kind == "unschedulable");
  CHECK(ev[4].machine.empty());
  CHECK(ev[4].reason == "no machine fits");
}

TEST_CASE("machines joining and leaving between passes are events, not those a leader first sees") {
  std::optional<std::set<std::string>> seen;
  auto first = membership_events(seen, {MachineSpec{"m1", {}}, MachineSpec{"m2", {}}});
  CHECK(first.empty());
  auto next = membership_events(seen, {MachineSpec{"m2", {}}, MachineSpec{"m3", {}}});
  REQUIRE(next.size() == 2);
  CHECK(next[0].kind == "machine-joined");
  CHECK(next[0].machine == "m3");
  CHECK(next[1].kind == "machine-left");
  CHECK(next[1].machine == "m1");
  CHECK(membership_events(seen, {MachineSpec{"m2", {}}, MachineSpec{"m3", {}}}).empty());
}
