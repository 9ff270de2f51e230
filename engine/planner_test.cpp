// Placement rules of plan_schedule(), table-driven: each row starts from a snapshot, runs the
// planner (applying its tasks) until it settles, then checks where units ended up and which
// unschedulable reasons were published.

#include "engine/planner.h"

#include <doctest/doctest.h>

#include "engine/planner_test_util.h"

namespace fleet::engine {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): test builders
constexpr auto kInactive = TargetState::inactive;
constexpr auto kLoaded = TargetState::loaded;

struct Case {
  const char* name;
  ClusterSnapshot snapshot;
  std::map<std::string, std::string> want;          // unit -> machine, "-" = not scheduled
  std::map<std::string, std::string> want_reasons;  // the complete published reason set
  std::map<std::string, std::set<std::string>> want_globals = {};  // complete, when non-empty
};

void run_table(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    INFO(std::string(c.name));
    ClusterSnapshot s = c.snapshot;
    REQUIRE(converge(s) >= 0);
    for (const auto& [unit, machine] : c.want) {
      INFO("unit ", unit);
      CHECK(where(s, unit) == machine);
    }
    CHECK(s.reasons == c.want_reasons);
    if (!c.want_globals.empty()) CHECK(s.global_assignments == c.want_globals);
  }
}

TEST_CASE("units are placed on the least loaded machine that can run them") {
  run_table({
      {"a unit is placed on the only machine",
       cluster({machine("m1")}, {unit("a.service")}),
       {{"a.service", "m1"}},
       {}},
      {"units spread over machines by load, ties broken by machine ID",
       cluster({machine("m2"), machine("m3"), machine("m1")},
               {unit("a.service"), unit("b.service"), unit("c.service"), unit("d.service")}),
       {{"a.service", "m1"}, {"b.service", "m2"}, {"c.service", "m3"}, {"d.service", "m1"}},
       {}},
      {"load counts units already scheduled",
       cluster({machine("m1"), machine("m2")},
               {unit("a.service"), unit("b.service"), unit("c.service")},
               {{"a.service", "m1"}, {"b.service", "m1"}}),
       {{"c.service", "m2"}},
       {}},
      {"inactive units are not placed and have no reason",
       cluster({machine("m1")}, {unit("a.service", kInactive)}),
       {{"a.service", "-"}},
       {}},
      {"loaded units are placed like launched ones",
       cluster({machine("m1")}, {unit("a.service", kLoaded)}),
       {{"a.service", "m1"}},
       {}},
      {"inactive units do not count as load",
       cluster({machine("m1"), machine("m2")}, {unit("a.service", kInactive), unit("b.service")},
               {{"a.service", "m1"}}),
       {{"a.service", "-"}, {"b.service", "m1"}},
       {}},
      {"without machines every active unit is unschedulable",
       cluster({}, {unit("a.service"), unit("b.service", kInactive)}),
       {{"a.service", "-"}},
       {{"a.service", "no machines available"}}},
  });
}

TEST_CASE("MachineID pins a unit to one machine by full or unique short ID") {
  std::vector<MachineSpec> ms = {machine("aaaaaaaa11111111"), machine("bbbbbbbb22222222")};
  run_table({
      {"a full machine ID pins the unit",
       cluster(ms, {with_machine(unit("x.service"), "bbbbbbbb22222222")}),
       {{"x.service", "bbbbbbbb22222222"}},
       {}},
      {"an 8-character short ID pins the unit",
       cluster(ms, {with_machine(unit("x.service"), "bbbbbbbb")}),
       {{"x.service", "bbbbbbbb22222222"}},
       {}},
      {"pinned units ignore load",
       cluster(ms, {unit("a.service"), with_machine(unit("x.service"), "aaaaaaaa")}),
       {{"a.service", "aaaaaaaa11111111"}, {"x.service", "aaaaaaaa11111111"}},
       {}},
      {"a short ID shared by two machines is ambiguous",
       cluster({machine("2f1a9c3e01"), machine("2f1a9c3e02")},
               {with_machine(unit("x.service"), "2f1a9c3e")}),
       {{"x.service", "-"}},
       {{"x.service", "MachineID 2f1a9c3e is ambiguous: matches 2 machines"}}},
      {"a full ID wins over another machine's short ID",
       cluster({machine("2f1a9c3e"), machine("2f1a9c3e02")},
               {with_machine(unit("x.service"), "2f1a9c3e")}),
       {{"x.service", "2f1a9c3e"}},
       {}},
      {"a MachineID that matches no machine leaves the unit unschedulable",
       cluster(ms, {with_machine(unit("x.service"), "2f1a9c3e")}),
       {{"x.service", "-"}},
       {{"x.service", "MachineID 2f1a9c3e matches no machine"}}},
      {"a pinned unit whose machine conflicts says so",
       cluster(ms, {unit("a.service"),
                    with_conflicts(with_machine(unit("x.service"), "aaaaaaaa"), {"a.service"})}),
       {{"a.service", "aaaaaaaa11111111"}, {"x.service", "-"}},
       {{"x.service",
         "required Machine(aaaaaaaa11111111) cannot run it: found conflict with "
         "locally-scheduled Unit(a.service)"}}},
  });
}

TEST_CASE("MachineMetadata selects machines: any value of one key, all keys") {
  std::vector<MachineSpec> ms = {machine("m1", {{"role", "db"}, {"region", "us"}}),
                                 machine("m2", {{"role", "web"}, {"region", "us"}}),
                                 machine("m3", {{"role", "cache"}, {"region", "eu"}}),
                                 machine("m4", {{"role", "web"}, {"region", "eu"}})};
  run_table({
      {"one of several values of a key is enough",
       cluster(ms, {with_metadata(unit("a.service"), {{"role", {"web", "cache"}}}),
                    with_metadata(unit("b.service"), {{"role", {"web", "cache"}}}),
                    with_metadata(unit("c.service"), {{"role", {"web", "cache"}}})}),
       {{"a.service", "m2"}, {"b.service", "m3"}, {"c.service", "m4"}},
       {}},
      {"every key must match",
       cluster(ms, {with_metadata(unit("a.service"), {{"role", {"web"}}, {"region", {"eu"}}})}),
       {{"a.service", "m4"}},
       {}},
      {"a missing key does not match",
       cluster(ms, {with_metadata(unit("a.service"), {{"disk", {"ssd"}}})}),
       {{"a.service", "-"}},
       {{"a.service", "no machine satisfies MachineMetadata disk=ssd"}}},
      {"no machine with the value leaves the unit unschedulable",
       cluster(ms, {with_metadata(unit("a.service"), {{"role", {"gpu", "tpu"}}})}),
       {{"a.service", "-"}},
       {{"a.service", "no machine satisfies MachineMetadata role=gpu|tpu"}}},
      {"least loaded among matching machines",
       cluster(ms, {unit("x.service"), with_metadata(unit("y.service"), {{"region", {"us"}}})},
               {{"x.service", "m1"}}),
       {{"y.service", "m2"}},
       {}},
  });
}

// `*a*a...*a*b` against 200 a's: a matcher that backtracks over every split of the name among the
// stars needs about C(200, 30) steps; path.Match's algorithm needs a few thousand.
const std::string kHostileGlob = [] {
  std::string p;
  for (int i = 0; i < 30; ++i) p += "*a";
  return p + "*b";
}();
const std::string kLongName = std::string(200, 'a') + ".service";

TEST_CASE("Conflicts keep units apart in both directions") {
  std::vector<MachineSpec> three = {machine("m1"), machine("m2"), machine("m3")};
  std::vector<UnitSpec> five;
  for (int i = 0; i < 5; ++i) {
    five.push_back(
        with_conflicts(unit("conflict." + std::to_string(i) + ".service"), {"conflict.*.service"}));
  }
  run_table({
      {"five mutually conflicting units on three machines: three run, two wait",
       cluster(three, five),
       {{"conflict.0.service", "m1"},
        {"conflict.1.service", "m2"},
        {"conflict.2.service", "m3"},
        {"conflict.3.service", "-"},
        {"conflict.4.service", "-"}},
       {{"conflict.3.service",
         "conflicts with conflict.0.service, conflict.1.service, conflict.2.service on every "
         "machine (3 machines)"},
        {"conflict.4.service",
         "conflicts with conflict.0.service, conflict.1.service, conflict.2.service on every "
         "machine (3 machines)"}}},
      {"a unit without Conflicts stays away from a unit whose pattern matches it",
       cluster({machine("m1")},
               {with_conflicts(unit("conflicts-with-hello.service"), {"hello.service"}),
                unit("hello.service")}),
       {{"conflicts-with-hello.service", "m1"}, {"hello.service", "-"}},
       {{"hello.service",
         "conflicts with conflicts-with-hello.service on every machine (1 machine)"}}},
      {"the one-way conflict also holds when the unit without Conflicts came first",
       cluster({machine("m1")},
               {unit("hello.service"), with_conflicts(unit("x.service"), {"hello.service"})},
               {{"hello.service", "m1"}}),
       {{"hello.service", "m1"}, {"x.service", "-"}},
       {{"x.service", "conflicts with hello.service on every machine (1 machine)"}}},
      {"several patterns each count",
       cluster({machine("m1"), machine("m2"), machine("m3")},
               {with_conflicts(unit("conflict.multiple.0.service"),
                               {"conflict.multiple.1.service", "conflict.multiple.2.service"}),
                with_conflicts(unit("conflict.multiple.1.service"),
                               {"conflict.multiple.0.service", "conflict.multiple.2.service"}),
                with_conflicts(unit("conflict.multiple.2.service"),
                               {"conflict.multiple.0.service", "conflict.multiple.1.service"})}),
       {{"conflict.multiple.0.service", "m1"},
        {"conflict.multiple.1.service", "m2"},
        {"conflict.multiple.2.service", "m3"}},
       {}},
      {"inactive units do not conflict",
       cluster({machine("m1")},
               {with_conflicts(unit("a.service", kInactive), {"b.service"}), unit("b.service")},
               {{"a.service", "m1"}}),
       {{"a.service", "-"}, {"b.service", "m1"}},
       {}},
      {"a unit never conflicts with itself",
       cluster({machine("m1")}, {with_conflicts(unit("a.service"), {"*.service"})}),
       {{"a.service", "m1"}},
       {}},
      {"a malformed pattern matches nothing",
       cluster({machine("m1")},
               {with_conflicts(unit("a.service"), {"[b.service"}), unit("b.service")}),
       {{"a.service", "m1"}, {"b.service", "m1"}},
       {}},
      {"a pattern that a backtracking matcher never finishes is matched like any other",
       cluster({machine("m1")}, {with_conflicts(unit("a.service"), {kHostileGlob}), unit(kLongName),
                                 unit(kLongName + "b")}),
       {{"a.service", "m1"}, {kLongName, "m1"}, {kLongName + "b", "-"}},
       {{kLongName + "b", "conflicts with a.service on every machine (1 machine)"}}},
      {"global units count on machines where they run",
       cluster({machine("m1", {{"role", "x"}}), machine("m2")},
               {global(with_metadata(unit("g.service"), {{"role", {"x"}}})),
                with_conflicts(unit("a.service"), {"g.service"})}),
       {{"a.service", "m2"}},
       {},
       {{"g.service", {"m1"}}}},
      {"inactive global units do not count",
       cluster({machine("m1")}, {global(unit("g.service", kInactive)),
                                 with_conflicts(unit("a.service"), {"g.service"})}),
       {{"a.service", "m1"}},
       {}},
      {"conflict reasons summarise mixed causes",
       cluster({machine("m1"), machine("m2")},
               {unit("a.service"), unit("b.service"),
                with_conflicts(unit("c.service"), {"a.service", "b.service"})}),
       {{"c.service", "-"}},
       {{"c.service", "conflicts with a.service, b.service on every machine (2 machines)"}}},
  });
}

TEST_CASE("MachineOf places followers next to their peers") {
  std::vector<MachineSpec> three = {machine("m1"), machine("m2"), machine("m3")};
  run_table({
      {"a follower goes where its peer is, even on the busiest machine",
       cluster(three,
               {unit("x.service"), with_peers(unit("a-web.service"), {"z-db.service"}),
                unit("z-db.service")},
               {{"z-db.service", "m2"}, {"x.service", "m2"}}),
       {{"a-web.service", "m2"}},
       {}},
      {"a chain A->B->C is placed together in one pass",
       cluster(three, {with_peers(unit("a.service"), {"b.service"}),
                       with_peers(unit("b.service"), {"c.service"}), unit("c.service"),
                       unit("d.service"), unit("e.service")}),
       {{"a.service", "m1"},
        {"b.service", "m1"},
        {"c.service", "m1"},
        {"d.service", "m2"},
        {"e.service", "m3"}},
       {}},
      {"a follower of an inactive peer waits",
       cluster(three,
               {with_peers(unit("web.service"), {"db.service"}), unit("db.service", kInactive)}),
       {{"web.service", "-"}},
       {{"web.service", "waiting for peer db.service to be scheduled"}}},
      {"a follower of an unschedulable peer waits",
       cluster(three, {with_peers(unit("web.service"), {"db.service"}),
                       with_metadata(unit("db.service"), {{"disk", {"ssd"}}})}),
       {{"web.service", "-"}, {"db.service", "-"}},
       {{"web.service", "waiting for peer db.service to be scheduled"},
        {"db.service", "no machine satisfies MachineMetadata disk=ssd"}}},
      {"a follower of a unit that does not exist is unschedulable",
       cluster(three, {with_peers(unit("web.service"), {"nope.service"})}),
       {{"web.service", "-"}},
       {{"web.service", "peer nope.service does not exist"}}},
      {"peers on different machines cannot be followed",
       cluster(three,
               {unit("p1.service"), unit("p2.service"),
                with_peers(unit("f.service"), {"p1.service", "p2.service"})},
               {{"p1.service", "m1"}, {"p2.service", "m2"}}),
       {{"f.service", "-"}},
       {{"f.service", "peers p1.service and p2.service are scheduled on different machines"}}},
      {"a follower that conflicts with a neighbour of its peer says so",
       cluster(three,
               {unit("p.service"), unit("x.service"),
                with_conflicts(with_peers(unit("f.service"), {"p.service"}), {"x.service"})},
               {{"p.service", "m1"}, {"x.service", "m1"}}),
       {{"f.service", "-"}},
       {{"f.service",
         "cannot run next to peer p.service on Machine(m1): found conflict with "
         "locally-scheduled Unit(x.service)"}}},
      {"mutual MachineOf deadlocks (documented fleet behaviour)",
       cluster(three, {with_peers(unit("a.service"), {"b.service"}),
                       with_peers(unit("b.service"), {"a.service"})}),
       {{"a.service", "-"}, {"b.service", "-"}},
       {{"a.service", "waiting for peer b.service to be scheduled"},
        {"b.service", "waiting for peer a.service to be scheduled"}}},
  });
}

TEST_CASE("Replaces moves the replaced unit, never the replacing one") {
  run_table({
      {"a replacing unit landing next to the replaced unit pushes it away",
       cluster({machine("m1"), machine("m2")},
               {unit("v.service"), unit("w.service"), unit("y.service"),
                with_replaces(unit("r.service"), {"v.service"})},
               {{"v.service", "m1"}, {"w.service", "m2"}, {"y.service", "m2"}}),
       {{"r.service", "m1"}, {"v.service", "m2"}},
       {}},
      {"a replaced unit is never placed next to its replacer",
       cluster({machine("m1"), machine("m2")},
               {with_replaces(unit("r.service"), {"v*.service"}), unit("v1.service"),
                unit("v2.service")},
               {{"r.service", "m1"}}),
       {{"r.service", "m1"}, {"v1.service", "m2"}, {"v2.service", "m2"}},
       {}},
      {"circular replaces are ignored",
       cluster({machine("m1")}, {with_replaces(unit("a.service"), {"b.service"}),
                                 with_replaces(unit("b.service"), {"a.service"})}),
       {{"a.service", "m1"}, {"b.service", "m1"}},
       {}},
      {"a replaced unit with nowhere else to go becomes unschedulable",
       cluster({machine("m1")},
               {unit("v.service"), with_replaces(unit("r.service"), {"v.service"})},
               {{"v.service", "m1"}}),
       {{"r.service", "m1"}, {"v.service", "-"}},
       {{"v.service", "is replaced by r.service on every machine (1 machine)"}}},
      {"a replace cycle of three is ignored like a circular pair",
       cluster({machine("m1"), machine("m2")}, {with_replaces(unit("a.service"), {"b.service"}),
                                                with_replaces(unit("b.service"), {"c.service"}),
                                                with_replaces(unit("c.service"), {"a.service"})}),
       {{"a.service", "m1"}, {"b.service", "m2"}, {"c.service", "m1"}},
       {}},
      {"a replace chain pushes each replaced unit away from its replacer",
       cluster({machine("m1"), machine("m2"), machine("m3")},
               {with_replaces(unit("a.service"), {"b.service"}),
                with_replaces(unit("b.service"), {"c.service"}), unit("c.service")},
               {{"a.service", "m1"}, {"b.service", "m1"}, {"c.service", "m1"}}),
       {{"a.service", "m1"}, {"b.service", "m2"}, {"c.service", "m1"}},
       {}},
      {"Replaces globs match by pattern",
       cluster({machine("m1"), machine("m2")},
               {with_replaces(unit("new.service"), {"old@*.service"}), unit("old@1.service"),
                unit("old@2.service"), unit("other.service")},
               {{"new.service", "m1"},
                {"old@1.service", "m1"},
                {"old@2.service", "m1"},
                {"other.service", "m1"}}),
       {{"new.service", "m1"},
        {"old@1.service", "m2"},
        {"old@2.service", "m2"},
        {"other.service", "m1"}},
       {}},
  });
}

TEST_CASE("global units run on every eligible machine") {
  std::vector<MachineSpec> three = {machine("m1", {{"role", "web"}}), machine("m2"),
                                    machine("m3", {{"role", "web"}})};
  run_table({
      {"a global unit is assigned to every machine",
       cluster(three, {global(unit("g.service"))}),
       {},
       {},
       {{"g.service", {"m1", "m2", "m3"}}}},
      {"a global unit honours MachineMetadata",
       cluster(three, {global(with_metadata(unit("g.service"), {{"role", {"web"}}}))}),
       {},
       {},
       {{"g.service", {"m1", "m3"}}}},
      {"an inactive global unit runs nowhere and has no reason",
       cluster(three, {global(unit("g.service", kInactive)), unit("a.service")}),
       {{"a.service", "m1"}},
       {}},
      {"among conflicting globals the alphabetically first wins",
       cluster(three,
               {global(with_conflicts(unit("conflict-global.1.service"), {"conflict-global.*"})),
                global(with_conflicts(unit("conflict-global.0.service"), {"conflict-global.*"}))}),
       {},
       {{"conflict-global.1.service",
         "conflicts with conflict-global.0.service on every machine (3 machines)"}},
       {{"conflict-global.0.service", {"m1", "m2", "m3"}}}},
      {"a global unit skips machines running a conflicting unit",
       cluster(three, {unit("a.service"), global(with_conflicts(unit("g.service"), {"a.*"}))},
               {{"a.service", "m2"}}),
       {{"a.service", "m2"}},
       {},
       {{"g.service", {"m1", "m3"}}}},
      {"global units count towards load",
       cluster(three,
               {global(with_metadata(unit("g.service"), {{"role", {"web"}}})), unit("a.service")}),
       {{"a.service", "m2"}},
       {},
       {{"g.service", {"m1", "m3"}}}},
      {"a global unit with no eligible machine gets a reason",
       cluster(three, {global(with_metadata(unit("g.service"), {{"role", {"db"}}}))}),
       {},
       {{"g.service", "no machine satisfies MachineMetadata role=db"}}},
  });
}

TEST_CASE("target states and task kinds have stable spellings") {
  for (auto s : {TargetState::inactive, TargetState::loaded, TargetState::launched}) {
    CHECK(parse_target_state(to_string(s)) == s);
  }
  CHECK_FALSE(parse_target_state("Launched").has_value());
  CHECK(describe({TaskKind::schedule, "a.service", "m1",
                  "target state launched and unit not "
                  "scheduled"}) ==
        "schedule unit=a.service machine=m1 reason=\"target state launched and unit not "
        "scheduled\"");
}

}  // namespace
}  // namespace fleet::engine
