// Cluster dynamics through plan_schedule(): what each plan does when the snapshot changes (a
// machine lost or returning, units moved, Replaces, fleet's scheduling scenarios), plus
// the planner's contracts: deterministic, incremental, reasons rewritten only when they change.

#include <doctest/doctest.h>

#include <random>

#include "engine/planner.h"
#include "engine/planner_test_util.h"

namespace fleet::engine {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): test builders
constexpr auto kInactive = TargetState::inactive;

PlanStep unschedule(std::string u, std::string m, std::string r) {
  return {TaskKind::unschedule, std::move(u), std::move(m), std::move(r)};
}
PlanStep schedule(std::string u, std::string m) {
  return {TaskKind::schedule, std::move(u), std::move(m),
          "target state launched and unit not scheduled"};
}

std::vector<UnitSpec> conflicting(const std::string& prefix, int n) {
  std::vector<UnitSpec> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(with_conflicts(unit(prefix + std::to_string(i) + ".service"), {prefix + "*"}));
  }
  return out;
}

std::vector<MachineSpec> machines(int n) {
  std::vector<MachineSpec> out;
  for (int i = 1; i <= n; ++i) out.push_back(machine("m" + std::to_string(i)));
  return out;
}

TEST_CASE("a unit whose desired state became inactive is unscheduled") {
  auto s = cluster(machines(2), {unit("a.service", kInactive)}, {{"a.service", "m1"}});
  CHECK(plan_schedule(s).tasks ==
        std::vector<PlanStep>{unschedule("a.service", "m1", "target state inactive")});
}

TEST_CASE("a unit whose machine went away is unscheduled and rescheduled in the same plan") {
  auto s = cluster(machines(2), {unit("a.service")}, {{"a.service", "m9"}});
  CHECK(plan_schedule(s).tasks ==
        std::vector<PlanStep>{unschedule("a.service", "m9", "target Machine(m9) went away"),
                              schedule("a.service", "m1")});
}

TEST_CASE("a unit whose machine lost the required metadata moves") {
  auto s = cluster({machine("m1"), machine("m2", {{"role", "db"}})},
                   {with_metadata(unit("a.service"), {{"role", {"db"}}})}, {{"a.service", "m1"}});
  CHECK(plan_schedule(s).tasks ==
        std::vector<PlanStep>{unschedule("a.service", "m1",
                                         "target Machine(m1) unable to run unit: local Machine "
                                         "metadata insufficient"),
                              schedule("a.service", "m2")});
}

TEST_CASE("a unit whose MachineID changed moves to the required machine") {
  auto s = cluster(machines(2), {with_machine(unit("a.service"), "m2")}, {{"a.service", "m1"}});
  CHECK(plan_schedule(s).tasks ==
        std::vector<PlanStep>{unschedule("a.service", "m1",
                                         "target Machine(m1) unable to run unit: agent ID \"m1\" "
                                         "does not match required \"m2\""),
                              schedule("a.service", "m2")});
}

TEST_CASE("of two scheduled units that now conflict, the alphabetically first stays") {
  auto s =
      cluster(machines(2), {with_conflicts(unit("b.service"), {"a.service"}), unit("a.service")},
              {{"a.service", "m1"}, {"b.service", "m1"}});
  CHECK(
      plan_schedule(s).tasks ==
      std::vector<PlanStep>{unschedule("b.service", "m1",
                                       "target Machine(m1) unable to run unit: found conflict with "
                                       "locally-scheduled Unit(a.service)"),
                            schedule("b.service", "m2")});
}

TEST_CASE("schedule entries of destroyed or global units are removed") {
  auto s = cluster(machines(1), {global(unit("g.service"))},
                   {{"gone.service", "m1"}, {"g.service", "m1"}});
  auto tasks = tasks_of(plan_schedule(s), TaskKind::unschedule);
  CHECK(tasks ==
        std::vector<PlanStep>{unschedule("g.service", "m1", "global units are not scheduled"),
                              unschedule("gone.service", "m1", "unit no longer exists")});
}

TEST_CASE("machine loss: its units move to the least loaded machines, nothing else moves") {
  // TestDynamicClusterNewMemberUnitMigration: 4 machines, 3 conflicting units.
  auto s = cluster(machines(4), conflicting("conflict.", 3));
  REQUIRE(converge(s) == 1);
  auto before = s.schedule;
  std::string lost = where(s, "conflict.1.service");
  remove_machine(s, lost);
  REQUIRE(converge(s) == 1);
  CHECK(where(s, "conflict.0.service") == before["conflict.0.service"]);
  CHECK(where(s, "conflict.2.service") == before["conflict.2.service"]);
  CHECK(where(s, "conflict.1.service") == "m4");  // the previously empty machine
  CHECK(s.reasons.empty());
}

TEST_CASE("machine loss with no free machine leaves conflicting units unscheduled") {
  auto s = cluster(machines(3), conflicting("conflict.", 3));
  REQUIRE(converge(s) == 1);
  remove_machine(s, "m2");
  REQUIRE(converge(s) == 1);
  CHECK(where(s, "conflict.1.service") == "-");
  CHECK(s.reasons == std::map<std::string, std::string>{
                         {"conflict.1.service",
                          "conflicts with conflict.0.service, conflict.2.service on every "
                          "machine (2 machines)"}});
  // TestDynamicClusterMemberReboot: the replacement member takes exactly that one unit.
  s.machines.push_back(machine("m4"));
  auto before = s.schedule;
  REQUIRE(converge(s) == 1);
  CHECK(where(s, "conflict.1.service") == "m4");
  CHECK(where(s, "conflict.0.service") == before["conflict.0.service"]);
  CHECK(where(s, "conflict.2.service") == before["conflict.2.service"]);
  CHECK(s.reasons.empty());
}

TEST_CASE("a returning machine gets nothing back") {
  auto s = cluster(machines(3), {unit("a.service"), unit("b.service"), unit("c.service")});
  REQUIRE(converge(s) == 1);
  remove_machine(s, "m2");
  REQUIRE(converge(s) == 1);
  s.machines.push_back(machine("m2"));
  CHECK(plan_schedule(s).tasks.empty());
}

TEST_CASE("a pinned unit on a lost machine stays unscheduled (TestNodeShutdown)") {
  auto s = cluster(machines(2), {with_machine(unit("pin@m1.service"), "m1")});
  REQUIRE(converge(s) == 1);
  REQUIRE(where(s, "pin@m1.service") == "m1");
  remove_machine(s, "m1");
  REQUIRE(converge(s) == 1);
  CHECK(s.schedule.empty());
  CHECK(s.reasons["pin@m1.service"] == "MachineID m1 matches no machine");
}

TEST_CASE("MachineOf followers follow a peer that moves (TestScheduleMachineOf)") {
  std::vector<UnitSpec> units;
  for (int i = 0; i < 3; ++i) {
    std::string n = std::to_string(i);
    units.push_back(unit("ping." + n + ".service"));
    units.push_back(with_peers(unit("pong." + n + ".service"), {"ping." + n + ".service"}));
  }
  auto s = cluster(machines(3), units);
  REQUIRE(converge(s) == 1);
  std::set<std::string> hosts;
  for (int i = 0; i < 3; ++i) {
    std::string n = std::to_string(i);
    CHECK(where(s, "pong." + n + ".service") == where(s, "ping." + n + ".service"));
    hosts.insert(where(s, "ping." + n + ".service"));
  }
  CHECK(hosts.size() == 3);
  std::string lost = where(s, "ping.1.service");
  remove_machine(s, lost);
  REQUIRE(converge(s) == 1);
  CHECK(where(s, "ping.1.service") != lost);
  CHECK(where(s, "ping.1.service") != "-");
  CHECK(where(s, "pong.1.service") == where(s, "ping.1.service"));
}

TEST_CASE("a follower moves with its peer in the same plan when the peer must move") {
  auto s = cluster({machine("m1"), machine("m2", {{"role", "db"}})},
                   {with_metadata(unit("p.service"), {{"role", {"db"}}}),
                    with_peers(unit("f.service"), {"p.service"})},
                   {{"p.service", "m1"}, {"f.service", "m1"}});
  CHECK(plan_schedule(s).tasks ==
        std::vector<PlanStep>{unschedule("f.service", "m1",
                                         "target Machine(m1) unable to run unit: required peer "
                                         "Unit(p.service) is not scheduled locally"),
                              unschedule("p.service", "m1",
                                         "target Machine(m1) unable to run unit: local Machine "
                                         "metadata insufficient"),
                              schedule("f.service", "m2"), schedule("p.service", "m2")});
}

TEST_CASE("a follower whose peer became inactive is unscheduled and waits") {
  auto s = cluster(machines(2),
                   {unit("p.service", kInactive), with_peers(unit("f.service"), {"p.service"})},
                   {{"p.service", "m1"}, {"f.service", "m1"}});
  REQUIRE(converge(s) == 1);
  CHECK(s.schedule.empty());
  CHECK(s.reasons["f.service"] == "waiting for peer p.service to be scheduled");
}

TEST_CASE("the replaced unit moves and the replacing unit stays (TestScheduleReplace)") {
  auto s = cluster(machines(2), {unit("replace.0.service")});
  REQUIRE(converge(s) == 1);
  std::string a = where(s, "replace.0.service");
  s.units.push_back(unit("replace.1.service"));
  s.units.push_back(with_peers(unit("replace.2.service"), {"replace.1.service"}));
  REQUIRE(converge(s) == 1);
  s.units.push_back(with_replaces(unit("replace-kick0.service"), {"replace.0.service"}));
  Plan p = plan_schedule(s);
  CHECK(tasks_of(p, TaskKind::unschedule) ==
        std::vector<PlanStep>{unschedule("replace.0.service", a,
                                         "target Machine(" + a +
                                             ") unable to run unit: replaced by locally-scheduled "
                                             "Unit(replace-kick0.service)")});
  apply(s, p);
  CHECK(where(s, "replace-kick0.service") == a);
  CHECK(where(s, "replace.0.service") != a);
  CHECK(where(s, "replace.0.service") != "-");
  CHECK(s.schedule.size() == 4);
  CHECK(plan_schedule(s).tasks.empty());
}

TEST_CASE("the replaced unit moves whatever the input order") {
  // Both already on one machine: Go moved whichever unit it visited second.
  auto base =
      cluster(machines(2), {unit("v.service"), with_replaces(unit("a-r.service"), {"v.service"})},
              {{"v.service", "m1"}, {"a-r.service", "m1"}});
  for (unsigned seed = 0; seed < 20; ++seed) {
    auto s = shuffled(base, seed);
    REQUIRE(converge(s) == 1);
    CHECK(where(s, "a-r.service") == "m1");
    CHECK(where(s, "v.service") == "m2");
  }
}

TEST_CASE("circular replaces are ignored (TestScheduleCircularReplace)") {
  auto s =
      cluster(machines(1), {with_replaces(unit("replace.0.service"), {"replace-kick0.service"})});
  REQUIRE(converge(s) == 1);
  s.units.push_back(with_replaces(unit("replace-kick0.service"), {"replace.0.service"}));
  REQUIRE(converge(s) == 1);
  CHECK(where(s, "replace.0.service") == "m1");
  CHECK(where(s, "replace-kick0.service") == "m1");
}

TEST_CASE("units pinned by full machine ID run on exactly that machine (ConditionMachineID)") {
  std::vector<MachineSpec> ms = {machine("0b1f2c6e1a7a4f0aa7c3b8d2e9f01234"),
                                 machine("5d2e8f3a9b1c4e7f8a6b2c1d0e9f5678"),
                                 machine("9e8d7c6b5a4f3e2d1c0b9a8f7e6d9abc")};
  std::vector<UnitSpec> units;
  for (const auto& m : ms) units.push_back(with_machine(unit("pinned-" + m.id + ".service"), m.id));
  auto s = cluster(ms, units);
  REQUIRE(converge(s) == 1);
  for (const auto& m : ms) CHECK(where(s, "pinned-" + m.id + ".service") == m.id);
}

TEST_CASE("global units run everywhere next to normal units (TestScheduleGlobalUnits)") {
  auto s = cluster(machines(3), {unit("hello.service"), unit("goodbye.service")});
  REQUIRE(converge(s) == 1);
  s.units.push_back(global(unit("global.service")));
  Plan p = plan_schedule(s);
  CHECK(tasks_of(p, TaskKind::assign_global).size() == 3);
  CHECK(tasks_of(p, TaskKind::schedule).empty());
  CHECK(tasks_of(p, TaskKind::unschedule).empty());
  apply(s, p);
  CHECK(s.global_assignments["global.service"] == std::set<std::string>{"m1", "m2", "m3"});
  CHECK(s.schedule.size() == 2);
  set_desired(s, "global.service", kInactive);
  p = plan_schedule(s);
  CHECK(tasks_of(p, TaskKind::unassign_global).size() == 3);
  CHECK(p.tasks.front().reason == "target state inactive");
}

TEST_CASE(
    "a running global keeps its machines when a conflicting global starts "
    "(TestScheduleGlobalConflicts)") {
  auto s =
      cluster(machines(3),
              {global(with_conflicts(unit("conflict-global.0.service"), {"conflict-global.*"}))});
  REQUIRE(converge(s) == 1);
  s.units.push_back(
      global(with_conflicts(unit("conflict-global.1.service"), {"conflict-global.*"})));
  Plan p = plan_schedule(s);
  CHECK(tasks_of(p, TaskKind::assign_global).empty());
  CHECK(tasks_of(p, TaskKind::unassign_global).empty());
  CHECK(p.unschedulable.count("conflict-global.1.service") == 1);
}

TEST_CASE("globals honour Conflicts and ignore options rejected at submission") {
  auto g = global(with_conflicts(unit("g.service"), {"a.service"}));
  g.machine_id = "m1";  // rejected by validation; the planner must not crash or pin
  g.peers = {"a.service"};
  g.replaces = {"a.service"};
  auto s = cluster(machines(3), {unit("a.service"), g}, {{"a.service", "m2"}});
  REQUIRE(converge(s) == 1);
  CHECK(s.global_assignments["g.service"] == std::set<std::string>{"m1", "m3"});
  CHECK(where(s, "a.service") == "m2");
}

TEST_CASE("a non-global unit wins over a global that conflicts with it on its machine") {
  auto s = cluster(machines(2),
                   {unit("a.service"), global(with_conflicts(unit("g.service"), {"a.service"}))},
                   {{"a.service", "m1"}});
  s.global_assignments["g.service"] = {"m1", "m2", "gone"};
  Plan p = plan_schedule(s);
  CHECK(p.tasks ==
        std::vector<PlanStep>{
            {TaskKind::unassign_global, "g.service", "gone", "target Machine(gone) went away"},
            {TaskKind::unassign_global, "g.service", "m1",
             "target Machine(m1) unable to run unit: found conflict with "
             "locally-scheduled Unit(a.service)"}});
}

TEST_CASE(
    "a one-way conflict resolves once the conflicting unit is destroyed "
    "(TestScheduleOneWayConflict)") {
  auto s = cluster(machines(1),
                   {with_conflicts(unit("conflicts-with-hello.service"), {"hello.service"})});
  REQUIRE(converge(s) == 1);
  s.units.push_back(unit("hello.service"));
  REQUIRE(converge(s) == 1);
  CHECK(where(s, "hello.service") == "-");
  CHECK(s.reasons.count("hello.service") == 1);
  s.units.erase(s.units.begin());  // destroy; its schedule entry is still in the snapshot
  Plan p = plan_schedule(s);
  CHECK(p.tasks == std::vector<PlanStep>{
                       unschedule("conflicts-with-hello.service", "m1", "unit no longer exists"),
                       schedule("hello.service", "m1"),
                       {TaskKind::clear_reason, "hello.service", "", ""}});
}

TEST_CASE("unschedulable reasons are rewritten only when they change") {
  auto s = cluster(machines(1), {with_metadata(unit("a.service"), {{"role", {"web"}}})});
  Plan p = plan_schedule(s);
  CHECK(p.tasks == std::vector<PlanStep>{{TaskKind::set_reason, "a.service", "",
                                          "no machine satisfies MachineMetadata role=web"}});
  apply(s, p);
  p = plan_schedule(s);
  CHECK(p.tasks.empty());
  CHECK(p.unschedulable.at("a.service") == "no machine satisfies MachineMetadata role=web");
  s.machines.clear();
  p = plan_schedule(s);
  CHECK(p.tasks ==
        std::vector<PlanStep>{{TaskKind::set_reason, "a.service", "", "no machines available"}});
  set_desired(s, "a.service", kInactive);
  CHECK(plan_schedule(s).tasks ==
        std::vector<PlanStep>{{TaskKind::clear_reason, "a.service", "", ""}});
}

// A mixed random cluster: constraints of every kind, part of it already scheduled.
ClusterSnapshot random_cluster(unsigned seed, int n_units, int n_machines) {
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  ClusterSnapshot s;
  for (int m = 0; m < n_machines; ++m) {
    s.machines.push_back(
        machine("machine-" + std::to_string(m),
                {{"role", pick(2) ? "web" : "db"}, {"zone", "z" + std::to_string(pick(3))}}));
  }
  for (int i = 0; i < n_units; ++i) {
    UnitSpec u = unit("u" + std::to_string(i) + ".service",
                      pick(6) == 0 ? kInactive : TargetState::launched);
    switch (pick(8)) {
      case 0:
        u.conflicts = {"u" + std::to_string(pick(n_units)) + ".service", "u1*.service"};
        break;
      case 1:
        u.peers = {"u" + std::to_string(pick(n_units)) + ".service"};
        break;
      case 2:
        u.metadata = {{"role", {"web"}}, {"zone", {"z0", "z2"}}};
        break;
      case 3:
        u.replaces = {"u" + std::to_string(pick(n_units)) + ".service"};
        break;
      case 4:
        u.machine_id = "machine-" + std::to_string(pick(n_machines + 2));
        break;
      case 5:
        if (pick(4) == 0) u = global(with_conflicts(u, {"u2*.service"}));
        break;
      default:
        break;
    }
    s.units.push_back(u);
    if (!u.global && pick(3) == 0) {
      s.schedule[u.name] = "machine-" + std::to_string(pick(n_machines + 2));
    }
  }
  return s;
}

TEST_CASE("the plan does not depend on the order of the input") {
  for (unsigned seed = 1; seed <= 5; ++seed) {
    auto s = random_cluster(seed, 300, 12);
    Plan reference = plan_schedule(s);
    CHECK_FALSE(reference.tasks.empty());
    for (unsigned shuffle = 0; shuffle < 5; ++shuffle) {
      Plan p = plan_schedule(shuffled(s, seed * 100 + shuffle));
      CHECK(p.tasks == reference.tasks);
      CHECK(p.unschedulable == reference.unschedulable);
    }
  }
}

TEST_CASE("a satisfied snapshot produces an empty plan") {
  for (unsigned seed = 1; seed <= 5; ++seed) {
    auto s = random_cluster(seed, 300, 12);
    apply(s, plan_schedule(s));
    Plan second = plan_schedule(s);
    for (const auto& t : second.tasks) MESSAGE(describe(t));
    CHECK(second.tasks.empty());  // one plan is enough to reach a fixed point
    CHECK(plan_schedule(shuffled(s, seed)).tasks.empty());
  }
}

TEST_CASE("moves are an unschedule before the schedule of the same unit") {
  auto s = random_cluster(7, 300, 12);
  Plan p = plan_schedule(s);
  std::map<std::string, size_t> first_schedule;
  for (size_t i = 0; i < p.tasks.size(); ++i) {
    if (p.tasks[i].kind == TaskKind::schedule) first_schedule.emplace(p.tasks[i].unit, i);
  }
  for (size_t i = 0; i < p.tasks.size(); ++i) {
    const PlanStep& t = p.tasks[i];
    if (t.kind != TaskKind::unschedule || !first_schedule.count(t.unit)) continue;
    CHECK(i < first_schedule[t.unit]);
  }
}

}  // namespace
}  // namespace fleet::engine
