#include "engine/cluster_model.h"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include "registry/memory_kv.h"
#include "registry/registry.h"
#include "unitfile/unit_file.h"

using namespace fleet;
using namespace fleet::engine;
namespace reg = fleet::registry;

namespace {
template <class T>
const T* as(const reg::ClusterChange& c) {
  return std::get_if<T>(&c);
}

struct Model {
  boost::asio::io_context io;
  reg::MemoryKv kv{io.get_executor()};
  reg::Registry registry{kv, "/f/"};  // only for its ScheduleBatch
  ClusterModel model;
  reg::Revision rev = 1;

  bool apply(reg::ClusterChange c) { return model.apply(c); }
  void unit(const std::string& name, const std::string& content, reg::TargetState s) {
    std::string hash = unitfile::sha1_hex(content);
    apply(reg::cluster::Content{hash, content, ++rev});
    apply(reg::cluster::Unit{name, reg::UnitRecord{name, hash, s, ++rev}});
  }
  void machine(const std::string& id, std::map<std::string, std::string> md = {}) {
    apply(reg::cluster::Machine{id, reg::MachineRecord{id, "127.0.0.1", md, "v", false, {}}});
  }
  // Applies the planned writes back to the model, as the watch would deliver them.
  std::vector<reg::ClusterChange> step() {
    auto b = registry.schedule_batch();
    model.writes_for(plan_schedule(model.snapshot()), b);
    auto changes = b.changes();
    for (const auto& c : changes) model.apply(c);
    return changes;
  }
};

// The assignment of `unit` to `machine` among `changes` (set or removed), if any.
const reg::cluster::Assigned* assignment(const std::vector<reg::ClusterChange>& changes,
                                         const std::string& machine, const std::string& unit) {
  for (const auto& c : changes)
    if (const auto* a = as<reg::cluster::Assigned>(c);
        a && a->machine == machine && a->unit == unit)
      return a;
  return nullptr;
}
}  // namespace

TEST_CASE("a launched unit is scheduled and assigned to the machine's agent") {
  Model m;
  m.machine("m1");
  m.unit("a.service", "[Service]\nExecStart=/bin/true\n", reg::TargetState::launched);
  auto ops = m.step();
  REQUIRE(ops.size() == 2);
  CHECK(m.model.schedule().at("a.service") == "m1");
  const auto* assigned = assignment(ops, "m1", "a.service");
  REQUIRE(assigned);
  REQUIRE(assigned->assignment);
  CHECK(assigned->assignment->desired == reg::TargetState::launched);
  CHECK(assigned->assignment->hash == unitfile::sha1_hex("[Service]\nExecStart=/bin/true\n"));
  CHECK(m.step().empty());  // satisfied: no churn
}

TEST_CASE("a desired state change rewrites only the assignment") {
  Model m;
  m.machine("m1");
  m.unit("a.service", "[Service]\nExecStart=/bin/true\n", reg::TargetState::launched);
  m.step();
  m.unit("a.service", "[Service]\nExecStart=/bin/true\n", reg::TargetState::loaded);
  auto ops = m.step();
  REQUIRE(ops.size() == 1);
  CHECK(assignment(ops, "m1", "a.service"));
  m.unit("a.service", "[Service]\nExecStart=/bin/true\n", reg::TargetState::inactive);
  ops = m.step();
  CHECK(m.model.schedule().empty());
  const auto* unassigned = assignment(ops, "m1", "a.service");
  REQUIRE(unassigned);
  CHECK_FALSE(unassigned->assignment);
}

TEST_CASE("units of a vanished machine move and its assignments are removed") {
  Model m;
  m.machine("m1");
  m.machine("m2");
  m.unit("a.service", "[Service]\nExecStart=/bin/a\n", reg::TargetState::launched);
  m.unit("b.service", "[Service]\nExecStart=/bin/b\n", reg::TargetState::launched);
  m.step();
  std::string lost = m.model.schedule().at("a.service");
  std::string other = lost == "m1" ? "m2" : "m1";
  m.apply(reg::cluster::Machine{lost, std::nullopt});
  auto ops = m.step();
  CHECK(m.model.schedule().at("a.service") == other);
  CHECK(m.model.schedule().at("b.service") == other);
  const auto* unassigned = assignment(ops, lost, "a.service");
  REQUIRE(unassigned);
  CHECK_FALSE(unassigned->assignment);
  m.machine(lost);  // it returns: nothing moves back
  CHECK(m.step().empty());
}

// A small unit's text goes along with its assignment (the agent then needs no fetch); a large
// one is fetched by hash. The model itself keeps each content once, not in its assignments.
TEST_CASE("assignments carry small contents of non-global units only, and the model keeps none") {
  Model m;
  m.machine("m1");
  const std::string small = "[Service]\nExecStart=/bin/a\n";
  const std::string large =
      "[Service]\nExecStart=/bin/b\nEnvironment=X=" + std::string(5000, 'x') + "\n";
  m.unit("a.service", small, reg::TargetState::launched);
  m.unit("b.service", large, reg::TargetState::launched);
  // A global unit's text would be copied to every machine's key: fetched instead.
  m.unit("g.service", "[Service]\nExecStart=/bin/g\n[X-Fleet]\nGlobal=true\n",
         reg::TargetState::launched);
  auto batch = m.registry.schedule_batch();
  m.model.writes_for(plan_schedule(m.model.snapshot()), batch);
  const auto changes = batch.changes();
  const auto* a = assignment(changes, "m1", "a.service");
  const auto* b = assignment(changes, "m1", "b.service");
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(a->assignment);
  REQUIRE(b->assignment);
  CHECK(a->assignment->content == small);
  CHECK(b->assignment->content.empty());
  const auto* g = assignment(changes, "m1", "g.service");
  REQUIRE(g);
  REQUIRE(g->assignment);
  CHECK(g->assignment->content.empty());
  for (const auto& c : changes) m.model.apply_written(c);
  // Their echo, content and all, changes nothing.
  for (const auto& c : changes) CHECK_FALSE(m.apply(c));
}

TEST_CASE("global units are assigned to every machine whose metadata fits") {
  Model m;
  m.machine("m1", {{"role", "web"}});
  m.machine("m2", {{"role", "db"}});
  m.machine("m3", {{"role", "web"}});
  m.unit("g.service",
         "[Service]\nExecStart=/bin/g\n[X-Fleet]\nGlobal=true\nMachineMetadata=role=web\n",
         reg::TargetState::launched);
  auto ops = m.step();
  CHECK(assignment(ops, "m1", "g.service"));
  CHECK(assignment(ops, "m3", "g.service"));
  CHECK_FALSE(assignment(ops, "m2", "g.service"));
  CHECK(m.model.schedule().empty());  // globals have no single machine
  CHECK(m.step().empty());
}

TEST_CASE("an unplaceable unit gets a reason and contents nobody uses are collectable") {
  Model m;
  m.machine("m1", {{"role", "db"}});
  m.unit("w.service", "[X-Fleet]\nMachineMetadata=role=web\n", reg::TargetState::launched);
  auto ops = m.step();
  bool reason = false;
  for (const auto& c : ops)
    if (const auto* r = as<reg::cluster::Reason>(c)) reason |= r->unit == "w.service" && r->reason;
  CHECK(reason);
  CHECK(m.model.unused_contents().empty());
  m.apply(reg::cluster::Unit{"w.service", std::nullopt});
  REQUIRE(m.model.unused_contents().size() == 1);
}

TEST_CASE("the echo of the engine's own writes leaves the model unchanged") {
  Model m;
  m.machine("m1");
  m.unit("a.service", "[Service]\nExecStart=/bin/true\n", reg::TargetState::launched);
  auto ops = m.step();  // applied locally, as the engine does before the watch echoes them
  REQUIRE_FALSE(ops.empty());
  for (const auto& c : ops) CHECK_FALSE(m.model.apply(c));
  // Someone else's write to the same key is a change.
  CHECK(m.apply(reg::cluster::Schedule{"a.service", "m2"}));
  CHECK(m.apply(reg::cluster::Schedule{"a.service", std::nullopt}));
  CHECK_FALSE(m.apply(reg::cluster::Schedule{"a.service", std::nullopt}));
}

TEST_CASE("a drain moves a running unit only after its state there stops being active") {
  Model m;
  m.machine("m1");
  m.unit("a.service", "[Service]\nExecStart=/bin/true\n", reg::TargetState::launched);
  m.step();
  REQUIRE(m.model.schedule().at("a.service") == "m1");
  m.machine("m2");
  auto state = [&](const std::string& active) {
    return m.apply(
        reg::cluster::State{"a.service", "m1",
                            reg::UnitStateRecord{"a.service", "m1", "h", "loaded", active,
                                                 active == "active" ? "running" : "dead"}});
  };
  // A state change of a machine that is not draining does not wake the planner.
  CHECK_FALSE(state("active"));
  CHECK(m.apply(reg::cluster::MaintenanceSet{
      "m1", reg::Maintenance{reg::MaintenanceMode::draining, false, 1}}));
  auto snap = m.model.snapshot();
  CHECK(snap.machines[0].drain);
  CHECK(snap.running_on_draining.at("a.service") == std::set<std::string>{"m1"});
  m.step();
  CHECK(m.model.schedule().count("a.service") == 0);  // stopped there, not yet elsewhere
  CHECK(m.step().empty());
  CHECK(m.apply(reg::cluster::State{"a.service", "m1", std::nullopt}));  // the agent unloaded it
  m.step();
  CHECK(m.model.schedule().at("a.service") == "m2");
  // Uncordoned (record deleted): the machine is schedulable again.
  CHECK(m.apply(reg::cluster::MaintenanceSet{"m1", std::nullopt}));
  CHECK_FALSE(m.model.snapshot().machines[0].cordoned);
}

TEST_CASE("an assignment written by someone else is repaired in the next pass") {
  Model m;
  m.machine("m1");
  m.machine("m2");
  m.unit("a.service", "[Service]\nExecStart=/bin/a\n", reg::TargetState::launched);
  m.step();
  const std::string placed = m.model.schedule().at("a.service");
  const std::string stray = placed == "m1" ? "m2" : "m1";
  // Only the changed unit is compared, but that is enough to take a stray copy away.
  m.apply(
      reg::cluster::Assigned{stray, "a.service",
                             reg::Assignment{"a.service", stray, m.model.schedule().at("a.service"),
                                             reg::TargetState::launched}});
  auto ops = m.step();
  const auto* removed = assignment(ops, stray, "a.service");
  REQUIRE(removed);
  CHECK_FALSE(removed->assignment);
  CHECK(m.step().empty());
}

TEST_CASE("writes that were not made are planned again after rewrite_all") {
  Model m;
  m.machine("m1");
  m.unit("a.service", "[Service]\nExecStart=/bin/a\n", reg::TargetState::loaded);
  m.step();
  // A desired state change is no planner task: only the changed unit's comparison finds it.
  m.unit("a.service", "[Service]\nExecStart=/bin/a\n", reg::TargetState::launched);
  auto lost = m.registry.schedule_batch();
  m.model.writes_for(plan_schedule(m.model.snapshot()), lost);
  REQUIRE(lost.size() == 1);
  // The write failed: nothing was applied, so the model still has the old assignment.
  m.model.rewrite_all();
  auto ops = m.step();
  const auto* again = assignment(ops, "m1", "a.service");
  REQUIRE(again);
  REQUIRE(again->assignment);
  CHECK(again->assignment->desired == reg::TargetState::launched);
}

TEST_CASE("a content stays in use while any unit names it") {
  Model m;
  m.machine("m1");
  const std::string text = "[Service]\nExecStart=/bin/shared\n";
  m.unit("a.service", text, reg::TargetState::launched);
  m.unit("b.service", text, reg::TargetState::launched);
  CHECK(m.model.unused_contents().empty());
  m.apply(reg::cluster::Unit{"a.service", std::nullopt});
  CHECK(m.model.unused_contents().empty());  // b.service still names it
  m.unit("b.service", "[Service]\nExecStart=/bin/other\n", reg::TargetState::launched);
  auto unused = m.model.unused_contents();
  REQUIRE(unused.size() == 1);
  CHECK(unused[0].first == unitfile::sha1_hex(text));
  m.unit("c.service", text, reg::TargetState::launched);  // named again: kept
  CHECK(m.model.unused_contents().empty());
}
