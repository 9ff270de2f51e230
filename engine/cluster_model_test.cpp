#include "engine/cluster_model.h"

#include <doctest/doctest.h>

#include "registry/codec.h"
#include "unitfile/unit_file.h"

using namespace fleet;
using namespace fleet::engine;
namespace reg = fleet::registry;

namespace {
struct Model {
  reg::KeyLayout keys{"/f/"};
  ClusterModel model{keys};
  reg::Revision rev = 1;

  void put(std::string key, std::string value) {
    reg::KeyValue kv;
    kv.key = std::move(key);
    kv.value = std::move(value);
    kv.mod_revision = ++rev;
    model.put(kv);
  }
  void unit(const std::string& name, const std::string& content, reg::TargetState s) {
    std::string hash = unitfile::sha1_hex(content);
    put(keys.content(hash), content);
    put(keys.unit(name), reg::encode(reg::UnitRecord{name, hash, s, 0}));
  }
  void machine(const std::string& id, std::map<std::string, std::string> md = {}) {
    put(keys.machine(id), reg::encode(reg::MachineRecord{id, "127.0.0.1", md, "v", false, {}}));
  }
  // Applies the planned writes back to the model, as the watch would deliver them.
  std::vector<reg::Op> step() {
    reg::ScheduleBatch b(keys);
    model.writes_for(plan_schedule(model.snapshot()), b);
    auto ops = b.take();
    for (const auto& op : ops) {
      if (op.kind == reg::Op::Kind::put)
        put(op.key, op.value);
      else
        model.erase(op.key);
    }
    return ops;
  }
};
}  // namespace

TEST_CASE("a launched unit is scheduled and assigned to the machine's agent") {
  Model m;
  m.machine("m1");
  m.unit("a.service", "[Service]\nExecStart=/bin/true\n", reg::TargetState::launched);
  auto ops = m.step();
  REQUIRE(ops.size() == 2);
  CHECK(m.model.schedule().at("a.service") == "m1");
  bool assigned = false;
  for (const auto& op : ops)
    if (op.key == m.keys.assignment("m1", "a.service")) {
      auto a = reg::decode_assignment("a.service", "m1", op.value).value();
      CHECK(a.desired == reg::TargetState::launched);
      CHECK(a.hash == unitfile::sha1_hex("[Service]\nExecStart=/bin/true\n"));
      assigned = true;
    }
  CHECK(assigned);
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
  CHECK(ops[0].key == m.keys.assignment("m1", "a.service"));
  m.unit("a.service", "[Service]\nExecStart=/bin/true\n", reg::TargetState::inactive);
  ops = m.step();
  CHECK(m.model.schedule().empty());
  bool unassigned = false;
  for (const auto& op : ops)
    unassigned |= op.kind == reg::Op::Kind::del && op.key == m.keys.assignment("m1", "a.service");
  CHECK(unassigned);
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
  m.model.erase(m.keys.machine(lost));
  auto ops = m.step();
  CHECK(m.model.schedule().at("a.service") == other);
  CHECK(m.model.schedule().at("b.service") == other);
  bool unassigned = false;
  for (const auto& op : ops)
    unassigned |= op.kind == reg::Op::Kind::del && op.key == m.keys.assignment(lost, "a.service");
  CHECK(unassigned);
  m.machine(lost);  // it returns: nothing moves back
  CHECK(m.step().empty());
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
  std::set<std::string> keys;
  for (const auto& op : ops) keys.insert(op.key);
  CHECK(keys.count(m.keys.assignment("m1", "g.service")));
  CHECK(keys.count(m.keys.assignment("m3", "g.service")));
  CHECK_FALSE(keys.count(m.keys.assignment("m2", "g.service")));
  CHECK(m.model.schedule().empty());  // globals have no single machine
  CHECK(m.step().empty());
}

TEST_CASE("an unplaceable unit gets a reason and contents nobody uses are collectable") {
  Model m;
  m.machine("m1", {{"role", "db"}});
  m.unit("w.service", "[X-Fleet]\nMachineMetadata=role=web\n", reg::TargetState::launched);
  auto ops = m.step();
  bool reason = false;
  for (const auto& op : ops) reason |= op.key == m.keys.reason("w.service");
  CHECK(reason);
  CHECK(m.model.unused_contents().empty());
  m.model.erase(m.keys.unit("w.service"));
  REQUIRE(m.model.unused_contents().size() == 1);
}

TEST_CASE("the echo of the engine's own writes leaves the model unchanged") {
  Model m;
  m.machine("m1");
  m.unit("a.service", "[Service]\nExecStart=/bin/true\n", reg::TargetState::launched);
  auto ops = m.step();  // applied locally, as the engine does before the watch echoes them
  REQUIRE_FALSE(ops.empty());
  for (const auto& op : ops) {
    reg::KeyValue kv;
    kv.key = op.key;
    kv.value = op.value;
    kv.mod_revision = ++m.rev;
    bool changed = op.kind == reg::Op::Kind::put ? m.model.put(kv) : m.model.erase(op.key);
    CHECK_FALSE(changed);
  }
  // Someone else's write to the same key is a change.
  reg::KeyValue moved;
  moved.key = m.keys.schedule("a.service");
  moved.value = "m2";
  CHECK(m.model.put(moved));
  CHECK(m.model.erase(m.keys.schedule("a.service")));
  CHECK_FALSE(m.model.erase(m.keys.schedule("a.service")));
}

TEST_CASE("a drain moves a running unit only after its state there stops being active") {
  Model m;
  m.machine("m1");
  m.unit("a.service", "[Service]\nExecStart=/bin/true\n", reg::TargetState::launched);
  m.step();
  REQUIRE(m.model.schedule().at("a.service") == "m1");
  m.machine("m2");
  auto state = [&](const std::string& active) {
    reg::KeyValue kv{m.keys.state("a.service", "m1"),
                     reg::encode(reg::UnitStateRecord{"a.service", "m1", "h", "loaded", active,
                                                      active == "active" ? "running" : "dead"}),
                     0,
                     ++m.rev,
                     0,
                     0};
    return m.model.put(kv);
  };
  // A state change of a machine that is not draining does not wake the planner.
  CHECK_FALSE(state("active"));
  reg::KeyValue drain{m.keys.maintenance("m1"),
                      reg::encode(reg::Maintenance{reg::MaintenanceMode::draining, false, 1}),
                      0,
                      ++m.rev,
                      0,
                      0};
  CHECK(m.model.put(drain));
  auto snap = m.model.snapshot();
  CHECK(snap.machines[0].drain);
  CHECK(snap.running_on_draining.at("a.service") == std::set<std::string>{"m1"});
  m.step();
  CHECK(m.model.schedule().count("a.service") == 0);  // stopped there, not yet elsewhere
  CHECK(m.step().empty());
  CHECK(m.model.erase(m.keys.state("a.service", "m1")));  // the agent unloaded it
  m.step();
  CHECK(m.model.schedule().at("a.service") == "m2");
  // Uncordoned (record deleted): the machine is schedulable again.
  CHECK(m.model.erase(m.keys.maintenance("m1")));
  CHECK_FALSE(m.model.snapshot().machines[0].cordoned);
}
