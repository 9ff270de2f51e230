// The engine on a real etcd: machines that stop heartbeating lose their units to the others,
// a frozen leader hands over within its lease TTL, and a deposed leader's writes are fenced off.
// Machines are simulated (they only announce themselves under a lease and report states);
// every engine and the machine simulation run on their own loop, thread and etcd client.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "engine/engine.h"
#include "registry/testing/raw_keys.h"
#include "tests/harness/etcd/etcd_cluster.h"
#include "tests/harness/wait.h"
#include "tests/integration/engine/sim_machines.h"
#include "unitfile/unit_file.h"

using namespace fleet;
using namespace fleet::registry;
using namespace fleet::testing;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

namespace {

// etcd 3.4 rounds shorter leases up to 2 s (1.5 x its 1 s election timeout).
constexpr auto kTtl = 2s;

EtcdOptions etcd_options(const char* label) {
  EtcdOptions o;
  o.label = label;
  return o;
}

double seconds_since(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

// An engine in its own "process".
struct EngineNode {
  EngineNode(const EtcdCluster& etcd, const std::string& id)
      : node(etcd.endpoints()), engine(node.reg(), options(id)) {}
  ~EngineNode() {
    try {
      stop();
    } catch (...) {
    }
  }
  static engine::EngineOptions options(const std::string& id) {
    engine::EngineOptions o;
    o.machine_id = id;
    o.lease_ttl = kTtl;
    o.batch_window = 5ms;
    return o;
  }
  void start() {
    started = true;
    node.spawn(engine.run(), done);
  }
  void stop() {
    if (!started || *done) return;
    node.on_loop([this] {
      engine.stop();
      return 0;
    });
    REQUIRE(wait_until([&] { return done->load(); }, 10s));
  }
  bool leader() {
    return node.on_loop([this] { return engine.leader(); });
  }

  EtcdNode node;
  engine::Engine engine;
  bool started = false;
  std::shared_ptr<std::atomic<bool>> done = std::make_shared<std::atomic<bool>>(false);
};

// The test's own view of the registry, as a user's fleetctl would read it.
struct Observer {
  explicit Observer(const EtcdCluster& etcd) : node(etcd.endpoints()) {}

  std::map<std::string, std::string> schedules() {
    RangeRequest req;
    req.key = node.reg().keys().schedules();
    req.range_end = prefix_end(req.key);
    auto resp = node.call(node.kv().range(std::move(req)));
    REQUIRE(resp);
    std::map<std::string, std::string> out;
    for (const auto& kv : resp.value().kvs)
      out[kv.key.substr(node.reg().keys().schedules().size())] = kv.value;
    return out;
  }
  std::set<std::string> machines() {
    auto ms = node.call(node.reg().list_machines());
    REQUIRE(ms);
    std::set<std::string> out;
    for (const auto& m : ms.value()) out.insert(m.id);
    return out;
  }
  std::vector<Assignment> assignments(const std::string& machine) {
    auto as = node.call(node.reg().list_assignments(machine));
    REQUIRE(as);
    return as.value();
  }
  std::optional<std::string> leader() {
    auto l = node.call(node.reg().leader());
    REQUIRE(l);
    return l.value();
  }
  void launch(const std::string& name) {
    std::string content = "[Service]\nExecStart=/bin/sleep 1000 # " + name + "\n";
    UnitRecord u{name, unitfile::sha1_hex(content), TargetState::launched, 0};
    REQUIRE(node.call(node.reg().create_unit(u, content)));
  }
  // Every unit in `names` is scheduled and assigned to its machine.
  bool placed(const std::vector<std::string>& names) {
    auto s = schedules();
    for (const auto& n : names) {
      auto it = s.find(n);
      if (it == s.end()) return false;
      bool assigned = false;
      for (const auto& a : assignments(it->second)) assigned = assigned || a.unit == n;
      if (!assigned) return false;
    }
    return true;
  }

  EtcdNode node;
};

// Two machines, an observer and two engines on one etcd: e1 leads (started first), e2 follows,
// and a.service is already placed.
struct TwoEngines {
  explicit TwoEngines(const char* label)
      : etcd(etcd_options(label)),
        sim(etcd.endpoints()),
        machines(sim, 10s),
        obs(etcd),
        e1(etcd, "e1"),
        e2(etcd, "e2") {
    for (const char* m : {"m1", "m2"}) machines.add(m);
    e1.start();
    REQUIRE(wait_until([&] { return obs.leader() == "e1"; }, 5s));
    e2.start();
    obs.launch("a.service");
    REQUIRE(wait_until([&] { return obs.placed({"a.service"}); }, 5s));
  }

  EtcdCluster etcd;
  EtcdNode sim;
  SimMachines machines;
  Observer obs;
  EngineNode e1;
  EngineNode e2;
};

std::vector<std::string> unit_names(int n, const std::string& stem = "u") {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(stem + std::to_string(i) + ".service");
  return out;
}

}  // namespace

TEST_CASE("the engine moves the units of a machine that stops heartbeating and nothing else") {
  EtcdCluster etcd(etcd_options("engine-loss"));
  EtcdNode sim(etcd.endpoints());
  SimMachines machines(sim, kTtl);
  for (const char* m : {"m1", "m2", "m3"}) machines.add(m);
  Observer obs(etcd);
  EngineNode e(etcd, "e1");
  e.start();

  auto names = unit_names(9);
  for (const auto& n : names) obs.launch(n);
  REQUIRE(wait_until([&] { return obs.placed(names); }, 10s));
  auto before = obs.schedules();
  for (const char* m : {"m1", "m2", "m3"}) REQUIRE(machines.report(m));

  const std::string lost = before.at("u0.service");
  machines.stop_heartbeat(lost);
  auto t0 = SteadyClock::now();
  // The machine vanishes when etcd expires its lease; its units must follow within 1 s.
  std::optional<SteadyClock::time_point> vanished, moved;
  REQUIRE(wait_until(
      [&] {
        if (!vanished && obs.machines().count(lost) == 0) vanished = SteadyClock::now();
        auto s = obs.schedules();
        bool gone = s.size() == names.size();
        for (const auto& [u, m] : s) gone = gone && m != lost;
        if (gone && !moved) moved = SteadyClock::now();
        return vanished && moved;
      },
      kTtl + 5s, 10ms));
  double reschedule = std::chrono::duration<double>(*moved - *vanished).count();
  MESSAGE("machine gone ", std::chrono::duration<double>(*vanished - t0).count(),
          " s after its last heartbeat stopped; units moved ", reschedule, " s later");
  CHECK(reschedule < 1.0);

  auto after = obs.schedules();
  for (const auto& [unit, machine] : before) {
    if (machine == lost) {
      CHECK(after.at(unit) != lost);
    } else {
      CHECK(after.at(unit) == machine);  // nothing else moves
    }
  }
  CHECK(obs.assignments(lost).empty());
  REQUIRE(wait_until([&] { return obs.placed(names); }, 5s));
  auto states = obs.node.call(obs.node.reg().list_states());
  REQUIRE(states);
  for (const auto& s : states.value()) CHECK(s.machine != lost);  // reports died with the lease

  // The machine comes back: nothing moves back, but it is the least loaded for new work.
  machines.add(lost);
  obs.launch("late.service");
  REQUIRE(wait_until([&] { return obs.placed({"late.service"}); }, 5s));
  auto back = obs.schedules();
  CHECK(back.at("late.service") == lost);
  for (const auto& [unit, machine] : after) CHECK(back.at(unit) == machine);
  e.stop();
}

TEST_CASE(
    "a frozen engine leader hands over within its lease TTL and the successor keeps scheduling") {
  TwoEngines t("engine-handover");
  Observer& obs = t.obs;
  EngineNode& e1 = t.e1;
  EngineNode& e2 = t.e2;
  CHECK(obs.leader() == "e1");
  CHECK_FALSE(e2.leader());

  e1.node.pause();  // the leader's process freezes: no keep-alives, no writes
  auto t0 = SteadyClock::now();
  REQUIRE(wait_until([&] { return obs.leader() == "e2"; }, kTtl + 3s));
  double handover = seconds_since(t0);
  MESSAGE("leader frozen -> successor elected in ", handover, " s (lease TTL ",
          static_cast<double>(kTtl.count()), " s)");
  // The lease expires at most one TTL after the last keep-alive (sent every TTL/3, so up to one
  // TTL after the freeze); etcd checks expiry every 0.5 s; the successor's campaign is one txn.
  // The margin beyond that absorbs a loaded CI machine (one run in ~25 missed a 1.5 s margin at
  // load 5-10); it stays below two TTLs, so waiting out a second lease would still fail.
  CHECK(handover < static_cast<double>(kTtl.count()) + 1.9);
  // The observer can read e2's leader key before e2 has read the answer to its own campaign txn.
  CHECK(wait_until([&] { return e2.leader(); }, 2s));

  obs.launch("b.service");
  REQUIRE(wait_until([&] { return obs.placed({"b.service"}); }, 3s));
  auto placed = obs.schedules();

  // The old leader wakes up: it must step down and change nothing.
  e1.node.resume();
  REQUIRE(wait_until([&] { return !e1.leader(); }, 5s));
  obs.launch("c.service");
  REQUIRE(wait_until([&] { return obs.placed({"c.service"}); }, 3s));
  CHECK(obs.leader() == "e2");
  auto now = obs.schedules();
  CHECK(now.at("a.service") == placed.at("a.service"));
  CHECK(now.at("b.service") == placed.at("b.service"));
  e1.stop();
  e2.stop();
}

TEST_CASE(
    "a deposed engine leader's schedule writes are rejected and the schedule stays unchanged") {
  TwoEngines t("engine-fence");
  Observer& obs = t.obs;
  EngineNode& e1 = t.e1;
  EngineNode& e2 = t.e2;
  const std::string where = obs.schedules().at("a.service");
  const std::string other = where == "m1" ? "m2" : "m1";

  RangeRequest req;
  req.key = obs.node.reg().keys().leader();
  auto cur = obs.node.call(obs.node.kv().range(req));
  REQUIRE(cur);
  REQUIRE(cur.value().kvs.size() == 1);
  const LeaseId old_lease = cur.value().kvs[0].lease;
  auto unit = obs.node.call(obs.node.reg().get_unit("a.service"));
  REQUIRE(unit);
  REQUIRE(unit.value().has_value());
  const std::string hash = unit.value()->hash;

  // The batch a stale leader would write: move a.service to the other machine.
  auto move_batch = [&](EtcdNode& n) {
    ScheduleBatch b = n.reg().schedule_batch();
    b.schedule("a.service", other);
    b.unassign(where, "a.service");
    b.assign({"a.service", other, hash, TargetState::launched});
    return b;
  };

  // Its lease ends (as when it expires during a pause); a new leader takes over.
  REQUIRE(obs.node.call(obs.node.kv().lease_revoke(old_lease)));
  REQUIRE(wait_until(
      [&] {
        auto l = obs.node.call(obs.node.kv().range(req));
        return l && l.value().kvs.size() == 1 && l.value().kvs[0].lease != old_lease;
      },
      5s));

  // The deposed leader, through its own client, tries to apply its batch under the old lease.
  auto st = e1.node.call(e1.node.reg().apply(move_batch(e1.node), old_lease));
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::conflict);
  CHECK(obs.schedules().at("a.service") == where);
  for (const auto& a : obs.assignments(other)) CHECK(a.unit != "a.service");
  bool still_assigned = false;
  for (const auto& a : obs.assignments(where))
    still_assigned = still_assigned || a.unit == "a.service";
  CHECK(still_assigned);

  // The content garbage collection is fenced the same way: with the content's true revision,
  // only the old lease keeps it from being deleted, as the new leader's lease shows.
  registry::RangeRequest content_key;
  content_key.key = obs.node.reg().keys().content(hash);
  auto content = obs.node.call(obs.node.kv().range(content_key));
  REQUIRE(content);
  REQUIRE(content.value().kvs.size() == 1);
  const std::vector<std::pair<std::string, registry::Revision>> unused(
      1, {hash, content.value().kvs[0].mod_revision});
  auto gc = e1.node.call(e1.node.reg().collect_contents(unused, old_lease));
  CHECK(gc);  // a failed fence is not an error there, but nothing is deleted
  CHECK(obs.node.call(obs.node.reg().get_content(hash)));
  auto leader = obs.node.call(obs.node.kv().range(req));
  REQUIRE(leader);
  REQUIRE(leader.value().kvs.size() == 1);
  REQUIRE(obs.node.call(obs.node.reg().collect_contents(unused, leader.value().kvs[0].lease)));
  CHECK(obs.node.call(obs.node.reg().get_content(hash)).error().code == Errc::not_found);
  e1.stop();
  e2.stop();
}
