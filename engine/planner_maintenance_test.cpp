// Cordon and drain through plan_schedule(): what lands on a cordoned machine, how units leave a
// draining one (stop-then-start when they run there), what stays and why, and what a forced
// drain stops (with the reason it cannot run anywhere, as for any unit placed nowhere).

#include <doctest/doctest.h>

#include "engine/planner.h"
#include "engine/planner_test_util.h"

namespace fleet::engine {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): test builders

MachineSpec cordoned(std::string id) {
  MachineSpec m = machine(std::move(id));
  m.cordoned = true;
  return m;
}
MachineSpec draining(std::string id, bool force = false) {
  MachineSpec m = cordoned(std::move(id));
  m.drain = true;
  m.force = force;
  return m;
}

PlanStep step(TaskKind k, std::string u, std::string m, std::string r = {}) {
  return {k, std::move(u), std::move(m), std::move(r)};
}
const std::string kLaunched = "target state launched and unit not scheduled";

TEST_CASE("a cordoned machine takes no new unit and keeps the ones it has") {
  struct Row {
    const char* name;
    ClusterSnapshot snap;
    std::map<std::string, std::string> placed;  // unit -> machine after convergence ("-": none)
    std::map<std::string, std::string> reasons;
  };
  const Row rows[] = {
      {"new units avoid it even when it is the least loaded",
       cluster({cordoned("m1"), machine("m2")}, {unit("a.service"), unit("b.service")}),
       {{"a.service", "m2"}, {"b.service", "m2"}},
       {}},
      {"its units stay",
       cluster({cordoned("m1"), machine("m2")}, {unit("a.service")}, {{"a.service", "m1"}}),
       {{"a.service", "m1"}},
       {}},
      {"every machine cordoned: nowhere, with the reason",
       cluster({cordoned("m1"), cordoned("m2")}, {unit("a.service")}),
       {{"a.service", "-"}},
       {{"a.service", "every machine is cordoned (2 machines)"}}},
      {"MachineID of a cordoned machine",
       cluster({cordoned("m1"), machine("m2")}, {with_machine(unit("a.service"), "m1")}),
       {{"a.service", "-"}},
       {{"a.service", "required Machine(m1) cannot run it: Machine(m1) is cordoned"}}},
      {"a follower stays with its peer on a cordoned machine",
       cluster({cordoned("m1"), machine("m2")},
               {unit("a.service"), with_peers(unit("b.service"), {"a.service"})},
               {{"a.service", "m1"}, {"b.service", "m1"}}),
       {{"a.service", "m1"}, {"b.service", "m1"}},
       {}},
      {"global units still run there",
       cluster({cordoned("m1"), machine("m2")}, {global(unit("g.service"))}),
       {},
       {}},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    ClusterSnapshot s = row.snap;
    REQUIRE(converge(s) >= 0);
    for (const auto& [u, m] : row.placed) CHECK(where(s, u) == m);
    CHECK(s.reasons == row.reasons);
    if (std::string(row.name).starts_with("global"))
      CHECK(s.global_assignments["g.service"] == std::set<std::string>{"m1", "m2"});
  }
}

TEST_CASE("draining: a unit not running there moves in one plan") {
  auto s = cluster({draining("m1"), machine("m2"), machine("m3")}, {unit("a.service")},
                   {{"a.service", "m1"}});
  CHECK(plan_schedule(s).tasks ==
        std::vector<PlanStep>{
            step(TaskKind::unschedule, "a.service", "m1", "Machine(m1) is draining"),
            step(TaskKind::schedule, "a.service", "m2", kLaunched)});
}

TEST_CASE("draining: a running unit is stopped first and placed once its copy stopped") {
  auto s = cluster({draining("m1"), machine("m2")}, {unit("a.service")}, {{"a.service", "m1"}});
  s.running_on_draining["a.service"] = {"m1"};
  const std::string waiting = "stopping on draining Machine(m1) before it moves";
  CHECK(plan_schedule(s).tasks ==
        std::vector<PlanStep>{
            step(TaskKind::unschedule, "a.service", "m1", "Machine(m1) is draining"),
            step(TaskKind::set_reason, "a.service", "", waiting)});
  apply(s, plan_schedule(s));
  // Still running there (no state report yet): nothing more happens, no copy elsewhere.
  CHECK(plan_schedule(s).tasks.empty());
  s.running_on_draining.clear();  // the agent reported it stopped
  CHECK(plan_schedule(s).tasks ==
        std::vector<PlanStep>{step(TaskKind::schedule, "a.service", "m2", kLaunched),
                              step(TaskKind::clear_reason, "a.service", "")});
}

TEST_CASE("draining: units that fit nowhere else stay, with the reason, and forced they stop") {
  struct Row {
    const char* name;
    std::vector<UnitSpec> units;
    std::map<std::string, std::string> schedule;
    std::map<std::string, std::string> placed;
    std::map<std::string, std::string> reasons;
    std::map<std::string, std::string> forced_reasons;  // the forced drain stopped them
  };
  const std::string stay = "cannot leave draining Machine(m1): ";
  const Row rows[] = {
      {"MachineID",
       {with_machine(unit("a.service"), "m1")},
       {{"a.service", "m1"}},
       {{"a.service", "m1"}},
       {{"a.service", stay + "required Machine(m1) cannot run it: Machine(m1) is cordoned"}},
       {{"a.service", "required Machine(m1) cannot run it: Machine(m1) is cordoned"}}},
      {"Conflicts filling every other machine",
       {with_conflicts(unit("a.service"), {"x*"}), unit("x1.service")},
       {{"a.service", "m1"}, {"x1.service", "m2"}},
       {{"a.service", "m1"}, {"x1.service", "m2"}},
       {{"a.service",
         stay + "no machine can run it (2 machines): cordoned on 1 machine; conflicts with "
                "x1.service on 1 machine"}},
       {{"a.service",
         "no machine can run it (2 machines): cordoned on 1 machine; conflicts with "
         "x1.service on 1 machine"}}},
      {"a follower of a unit that stays stays too",
       {with_machine(unit("a.service"), "m1"), with_peers(unit("b.service"), {"a.service"})},
       {{"a.service", "m1"}, {"b.service", "m1"}},
       {{"a.service", "m1"}, {"b.service", "m1"}},
       {{"a.service", stay + "required Machine(m1) cannot run it: Machine(m1) is cordoned"},
        {"b.service", stay + "required peer Unit(a.service) cannot leave either"}},
       {{"a.service", "required Machine(m1) cannot run it: Machine(m1) is cordoned"},
        {"b.service", "waiting for peer a.service to be scheduled"}}},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    auto s = cluster({draining("m1"), machine("m2")}, row.units, row.schedule);
    REQUIRE(converge(s) >= 0);
    for (const auto& [u, m] : row.placed) CHECK(where(s, u) == m);
    CHECK(s.reasons == row.reasons);

    auto forced = cluster({draining("m1", true), machine("m2")}, row.units, row.schedule);
    REQUIRE(converge(forced) >= 0);
    for (const auto& [u, m] : row.placed) CHECK(where(forced, u) == (m == "m1" ? "-" : m));
    CHECK(forced.reasons == row.forced_reasons);
  }
}

TEST_CASE("draining: followers leave with their peer, global units stay") {
  auto s = cluster(
      {draining("m1"), machine("m2")},
      {unit("a.service"), with_peers(unit("b.service"), {"a.service"}), global(unit("g.service"))},
      {{"a.service", "m1"}, {"b.service", "m1"}});
  s.global_assignments["g.service"] = {"m1", "m2"};
  s.running_on_draining["a.service"] = {"m1"};
  s.running_on_draining["b.service"] = {"m1"};
  s.running_on_draining["g.service"] = {"m1"};
  auto p = plan_schedule(s);
  CHECK(tasks_of(p, TaskKind::unschedule).size() == 2);
  CHECK(tasks_of(p, TaskKind::schedule).empty());
  CHECK(tasks_of(p, TaskKind::unassign_global).empty());
  apply(s, p);
  s.running_on_draining.erase("a.service");
  s.running_on_draining.erase("b.service");
  REQUIRE(converge(s) >= 0);
  CHECK(where(s, "a.service") == "m2");
  CHECK(where(s, "b.service") == "m2");
  CHECK(s.global_assignments["g.service"] == std::set<std::string>{"m1", "m2"});
  CHECK(s.reasons.empty());
}

TEST_CASE("a drained machine that is uncordoned takes units again, without moving any back") {
  auto s = cluster({draining("m1"), machine("m2")}, {unit("a.service")}, {{"a.service", "m1"}});
  REQUIRE(converge(s) >= 0);
  CHECK(where(s, "a.service") == "m2");
  s.machines[0] = machine("m1");
  CHECK(plan_schedule(s).tasks.empty());
  s.units.push_back(unit("b.service"));
  REQUIRE(converge(s) >= 0);
  CHECK(where(s, "b.service") == "m1");
}

}  // namespace
}  // namespace fleet::engine
