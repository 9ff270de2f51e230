#include "agent/agent.h"

#include <doctest/doctest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <functional>

#include "agent/fake_unit_manager.h"
#include "common/log.h"
#include "common/testing/clock.h"
#include "common/testing/run.h"
#include "registry/memory_kv.h"
#include "registry/registry.h"
#include "registry/testing/forwarding_kv.h"
#include "registry/testing/raw_keys.h"
#include "unitfile/unit_file.h"

using namespace fleet;
using namespace fleet::agent;
using namespace fleet::registry;
using fleet::testing::advance_clock;
using fleet::testing::run_sync;
using fleet::testing::run_until;
using fleet::testing::spawn;

namespace {
const std::string kContent = "[Service]\nExecStart=/bin/sleep 1000\n";

// Refuses writes to the event history while `refuse_events` is set, as an etcd timing out would.
// While `hold_states` is set, writes of unit states wait until release(), as on an etcd slow to
// apply them; other requests go on meanwhile.
struct EventGate : ForwardingKv {
  EventGate(KvStore& inner, boost::asio::io_context& io) : ForwardingKv(inner), release_(io) {
    release_.expires_at(boost::asio::steady_timer::time_point::max());
  }
  bool refuse_events = false;
  int refused = 0;
  bool hold_states = false;
  int held = 0, held_done = 0;
  void release() {
    hold_states = false;
    release_.cancel();
  }
  registry::Task<Result<TxnResponse>> txn(TxnRequest req) override {
    if (refuse_events)
      for (const auto& op : req.success)
        if (op.key.starts_with("/t/events/")) {
          ++refused;
          co_return fail(Errc::unavailable, "etcd: request timed out");
        }
    const bool hold = hold_states && !req.success.empty() &&
                      req.success.front().key.starts_with("/t/states/") &&
                      req.success.front().kind == Op::Kind::put;
    if (hold) co_await held_back();
    auto r = co_await ForwardingKv::txn(std::move(req));
    if (hold) ++held_done;
    co_return r;
  }
  registry::Task<Result<Revision>> put(std::string key, std::string value,
                                       LeaseId lease = 0) override {
    const bool hold = hold_states && key.starts_with("/t/states/");
    if (hold) co_await held_back();
    auto r = co_await ForwardingKv::put(std::move(key), std::move(value), lease);
    if (hold) ++held_done;
    co_return r;
  }

 private:
  registry::Task<void> held_back() {
    ++held;
    while (hold_states)
      (void)co_await release_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
  boost::asio::steady_timer release_;
};

// Answers list() with systemd's state at the time it was asked, but late while `hold` is set,
// as a listing slowed by its MainPID lookups answers after reports taken in meanwhile.
struct SlowListing final : UnitManager {
  SlowListing(UnitManager& inner, boost::asio::io_context& io) : inner_(inner), release_(io) {
    release_.expires_at(boost::asio::steady_timer::time_point::max());
  }
  bool hold = false;
  int held = 0;
  void release() {
    hold = false;
    release_.cancel();
  }
  agent::Task<Status> load(std::vector<UnitFileSpec> units) override {
    return inner_.load(std::move(units));
  }
  agent::Task<Status> unload(std::vector<std::string> names) override {
    return inner_.unload(std::move(names));
  }
  agent::Task<Status> start(std::vector<std::string> names) override {
    return inner_.start(std::move(names));
  }
  agent::Task<Status> stop(std::vector<std::string> names) override {
    return inner_.stop(std::move(names));
  }
  agent::Task<Result<std::vector<UnitStatus>>> list(std::vector<std::string> names) override {
    auto snapshot = co_await inner_.list(std::move(names));
    if (hold) {
      ++held;
      while (hold)
        (void)co_await release_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
    co_return snapshot;
  }
  void on_state_change(StateCallback cb) override { inner_.on_state_change(std::move(cb)); }
  std::vector<std::string> files_on_disk() const override { return inner_.files_on_disk(); }
  agent::Task<Result<bool>> system_stopping() override { return inner_.system_stopping(); }
  agent::Task<Status> reboot() override { return inner_.reboot(); }

 private:
  UnitManager& inner_;
  boost::asio::steady_timer release_;
};

struct World {
  boost::asio::io_context io;
  MemoryKv kv{io.get_executor()};
  EventGate gate{kv, io};
  Registry reg{gate, "/t/"};
  std::string dir;
  LeaseId engine_lease = 0;

  World() {
    dir = (std::filesystem::temp_directory_path() /
           ("agent-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++)))
              .string();
    std::filesystem::create_directories(dir);
    engine_lease = run_sync(io, kv.lease_grant(std::chrono::seconds(60))).value();
    REQUIRE(run_sync(io, reg.campaign("engine", engine_lease)).value());
  }
  ~World() { std::filesystem::remove_all(dir); }
  static int& counter() {
    static int n = 0;
    return n;
  }

  AgentOptions options() {
    AgentOptions o;
    o.machine = MachineRecord{"m1", "127.0.0.11", {{"role", "web"}}, "test", false, {}};
    o.ttl = std::chrono::seconds(10);
    o.units_dir = dir + "/units";
    o.lease_file = dir + "/lease";
    o.publish_delay = std::chrono::milliseconds(1);
    return o;
  }
  void assign(const std::string& unit, TargetState s, const std::string& hash = "c0ffee") {
    ScheduleBatch b = reg.schedule_batch();
    b.assign({unit, "m1", hash, s});
    REQUIRE(run_sync(io, reg.apply(std::move(b), engine_lease)));
  }
  void unassign(const std::string& unit) {
    ScheduleBatch b = reg.schedule_batch();
    b.unassign("m1", unit);
    REQUIRE(run_sync(io, reg.apply(std::move(b), engine_lease)));
  }
  std::string sha() { return "c0ffee"; }
  void store_content() { REQUIRE(run_sync(io, kv.put(reg.keys().content(sha()), kContent))); }
  std::optional<UnitStateRecord> state(const std::string& unit) {
    auto states = run_sync(io, reg.list_states()).value();
    for (auto& s : states)
      if (s.unit == unit && s.machine == "m1") return s;
    return std::nullopt;
  }
  bool machine_listed() {
    auto ms = run_sync(io, reg.list_machines()).value();
    return ms.size() == 1 && ms[0].id == "m1";
  }
};

int count(const std::vector<std::string>& calls, const std::string& call) {
  return static_cast<int>(std::count(calls.begin(), calls.end(), call));
}
}  // namespace

TEST_CASE("an assigned unit is loaded, started and reported active running") {
  World w;
  w.store_content();
  FakeUnitManager units;
  Agent agent(w.reg, units, w.options());
  auto done = spawn(w.io, agent.run());
  REQUIRE(run_until(w.io, [&] { return w.machine_listed(); }));
  w.assign("a.service", TargetState::launched);
  REQUIRE(run_until(w.io, [&] {
    auto s = w.state("a.service");
    return s && s->active_state == "active" && s->sub_state == "running";
  }));
  CHECK(units.content("a.service") == kContent);
  CHECK(w.state("a.service")->hash == w.sha());

  SUBCASE("a unit whose desired state becomes loaded is stopped") {
    w.assign("a.service", TargetState::loaded);
    REQUIRE(run_until(w.io, [&] { return w.state("a.service")->active_state == "inactive"; }));
  }
  SUBCASE("a unit whose content changes is unloaded first, then loaded and started anew") {
    // Unloads run beside the passes: the new file must not be written (and started) while the
    // old unit's unload, which deletes its file, is still to come.
    const std::string changed = "[Service]\nExecStart=/bin/sleep 2000\n";
    REQUIRE(run_sync(w.io, w.kv.put(w.reg.keys().content("beef"), changed)));
    const std::size_t before = units.calls().size();
    w.assign("a.service", TargetState::launched, "beef");
    REQUIRE(run_until(w.io, [&] {
      auto s = w.state("a.service");
      return s && s->hash == "beef" && s->active_state == "active";
    }));
    CHECK(units.content("a.service") == changed);
    std::vector<std::string> after(units.calls().begin() + static_cast<std::ptrdiff_t>(before),
                                   units.calls().end());
    std::erase(after, "reload");
    CHECK(after ==
          std::vector<std::string>{"unload a.service", "load a.service", "start a.service"});
  }
  SUBCASE("a unit no longer assigned is unloaded and its state removed") {
    w.unassign("a.service");
    REQUIRE(run_until(w.io, [&] { return !w.state("a.service") && !units.content("a.service"); }));
  }
  agent.stop();
  REQUIRE(run_until(w.io, [&] { return done->done; }));
}

// A state write and the unload's deletion of that state, sent side by side, may be applied in
// either order: the write applied last left the unit's state on a machine it had left.
TEST_CASE("a state write in flight when its unit is unloaded leaves no state behind") {
  World w;
  w.store_content();
  FakeUnitManager units;
  Agent agent(w.reg, units, w.options());
  auto done = spawn(w.io, agent.run());
  w.assign("a.service", TargetState::launched);
  REQUIRE(run_until(w.io, [&] {
    auto s = w.state("a.service");
    return s && s->active_state == "active";
  }));
  w.gate.hold_states = true;
  w.assign("a.service", TargetState::loaded);  // stopped: its "inactive" state is held in flight
  REQUIRE(run_until(w.io, [&] { return w.gate.held > 0; }));
  w.unassign("a.service");
  REQUIRE(run_until(w.io, [&] { return !units.content("a.service"); }));
  w.gate.release();
  REQUIRE(run_until(w.io, [&] { return w.gate.held_done == w.gate.held; }));
  CHECK(run_until(w.io, [&] { return !w.state("a.service"); }));
  agent.stop();
  REQUIRE(run_until(w.io, [&] { return done->done; }));
}

// A pass's listing that came back after the start's own listing put a started unit back to
// "inactive" until the next resync (fleetctl start then waited in vain): a listing asked for
// before a report already taken in must not overwrite it.
TEST_CASE("a listing answered late does not overwrite a newer state of the unit") {
  World w;
  w.store_content();
  FakeUnitManager fake;
  SlowListing units(fake, w.io);
  Agent agent(w.reg, units, w.options());
  auto done = spawn(w.io, agent.run());
  w.assign("a.service", TargetState::launched);
  w.assign("b.service", TargetState::launched);
  REQUIRE(run_until(w.io, [&] {
    auto a = w.state("a.service");
    auto b = w.state("b.service");
    return a && a->active_state == "active" && b && b->active_state == "active";
  }));
  units.hold = true;
  w.assign("c.service", TargetState::launched);  // a pass lists every unit: held, a is active
  REQUIRE(run_until(w.io, [&] { return units.held > 0; }));
  REQUIRE(fake.set_state("a.service", "failed", "failed"));  // newer, from a state signal
  const auto passes = agent.stats().passes;
  units.release();
  REQUIRE(run_until(w.io, [&] { return agent.stats().passes > passes; }));
  // A state change after the pass: once it is published, so is anything the pass left pending.
  REQUIRE(fake.set_state("b.service", "failed", "failed"));
  REQUIRE(run_until(w.io, [&] { return w.state("b.service")->active_state == "failed"; }));
  CHECK(w.state("a.service")->active_state == "failed");
  agent.stop();
  REQUIRE(run_until(w.io, [&] { return done->done; }));
}

TEST_CASE("a failing unit is reported failed and not restarted in a loop") {
  World w;
  w.store_content();
  FakeUnitManager units;
  units.set_failure("bad.service", FakeUnitManager::Failure::process_exits);
  Agent agent(w.reg, units, w.options());
  auto done = spawn(w.io, agent.run());
  w.assign("bad.service", TargetState::launched);
  REQUIRE(run_until(w.io, [&] {
    auto s = w.state("bad.service");
    return s && s->active_state == "failed";
  }));
  CHECK(count(units.calls(), "start bad.service") == 1);
  agent.stop();
  REQUIRE(run_until(w.io, [&] { return done->done; }));
}

TEST_CASE("a restarted agent resumes its lease and adopts running units without restarting") {
  World w;
  w.store_content();
  FakeUnitManager units;
  {
    Agent first(w.reg, units, w.options());
    auto done = spawn(w.io, first.run());
    w.assign("a.service", TargetState::launched);
    REQUIRE(run_until(w.io, [&] {
      auto s = w.state("a.service");
      return s && s->active_state == "active";
    }));
    first.stop();
    REQUIRE(run_until(w.io, [&] { return done->done; }));
  }
  CHECK(w.machine_listed());  // the lease outlives the process
  auto pid_before = run_sync(w.io, units.list({"a.service"})).value().at(0).main_pid;
  Agent second(w.reg, units, w.options());
  auto done = spawn(w.io, second.run());
  REQUIRE(run_until(w.io, [&] { return second.stats().passes >= 1; }));
  CHECK(count(units.calls(), "start a.service") == 1);
  CHECK(run_sync(w.io, units.list({"a.service"})).value().at(0).main_pid == pid_before);
  CHECK(w.state("a.service")->active_state == "active");
  second.stop();
  REQUIRE(run_until(w.io, [&] { return done->done; }));
}

TEST_CASE("an agent whose machine ID is registered by another live fleetd runs nothing") {
  World w;
  w.store_content();
  auto other = run_sync(w.io, w.kv.lease_grant(std::chrono::seconds(60))).value();
  MachineRecord twin{"m1", "127.0.0.99", {}, "test", false, {}};
  REQUIRE(run_sync(w.io, w.reg.claim_machine(twin, other)));
  w.assign("a.service", TargetState::launched);
  FakeUnitManager units;
  Agent agent(w.reg, units, w.options());
  auto done = spawn(w.io, agent.run());
  // While the twin lives, its record stays and this agent starts nothing (its claims are retried
  // with backoff: 20 s of simulated time).
  advance_clock(w.io, std::chrono::seconds(20));
  CHECK_FALSE(units.content("a.service").has_value());
  CHECK(run_sync(w.io, w.reg.list_machines()).value().at(0).public_ip == "127.0.0.99");
  // Once the twin's lease is gone, the agent registers and runs its units.
  REQUIRE(w.kv.expire_lease(other));
  REQUIRE(run_until(w.io, [&] {
    auto s = w.state("a.service");
    return s && s->active_state == "active";
  }));
  CHECK(run_sync(w.io, w.reg.list_machines()).value().at(0).public_ip == "127.0.0.11");
  agent.stop();
  REQUIRE(run_until(w.io, [&] { return done->done; }));
}

TEST_CASE("the lease is renewed while the agent waits for its machine ID to come free") {
  // After a reboot the previous boot's record blocks the claim for up to a TTL. The agent's own
  // lease (2 s here, the store's minimum) must not expire meanwhile, or every later claim fails
  // with "lease not found" and the machine never joins.
  World w;
  w.store_content();
  auto other = run_sync(w.io, w.kv.lease_grant(std::chrono::seconds(60))).value();
  MachineRecord previous_boot{"m1", "127.0.0.11", {}, "test", false, {}};
  REQUIRE(run_sync(w.io, w.reg.claim_machine(previous_boot, other)));
  w.assign("a.service", TargetState::launched);
  FakeUnitManager units;
  auto opts = w.options();
  opts.ttl = std::chrono::seconds(2);
  Agent agent(w.reg, units, opts);
  auto done = spawn(w.io, agent.run());
  // Ten TTLs of the agent's lease pass (simulated time) while the old record lives.
  advance_clock(w.io, std::chrono::seconds(20));
  CHECK_FALSE(units.content("a.service").has_value());
  REQUIRE(w.kv.expire_lease(other));
  REQUIRE(run_until(w.io, [&] {
    auto s = w.state("a.service");
    return s && s->active_state == "active";
  }));
  agent.stop();
  REQUIRE(run_until(w.io, [&] { return done->done; }));
}

TEST_CASE("a lost machine lease is replaced and the machine announced again") {
  World w;
  FakeUnitManager units;
  Agent agent(w.reg, units, w.options());
  auto done = spawn(w.io, agent.run());
  REQUIRE(run_until(w.io, [&] { return w.machine_listed(); }));
  RangeRequest rq;
  rq.key = w.reg.keys().machine("m1");
  auto ls = run_sync(w.io, w.kv.range(rq)).value();
  REQUIRE(w.kv.expire_lease(ls.kvs.at(0).lease));
  CHECK_FALSE(w.machine_listed());
  REQUIRE(run_until(w.io, [&] { return w.machine_listed(); }));
  agent.stop();
  REQUIRE(run_until(w.io, [&] { return done->done; }));
}

TEST_CASE("on SIGTERM the machine is handed over only when the host itself is shutting down") {
  for (bool host_stopping : {false, true}) {
    CAPTURE(host_stopping);
    World w;
    FakeUnitManager units;
    units.set_system_stopping(host_stopping);
    Agent agent(w.reg, units, w.options());
    auto done = spawn(w.io, agent.run());
    REQUIRE(run_until(w.io, [&] { return w.machine_listed(); }));
    CHECK(run_sync(w.io, agent.stop_for_signal()) == host_stopping);
    REQUIRE(run_until(w.io, [&] { return done->done; }));
    // A shutdown gives the machine up now; a restart of fleetd leaves it for the next one.
    CHECK(w.machine_listed() == !host_stopping);
  }
}

// A load and a start refused because systemd was unreachable are not failures of the unit: once
// systemd answers, the unit is loaded and started (not left for a failed start, never retried).
// Assigns a.service while `cut(true)` makes systemd refuse: over 20 simulated seconds the
// refusals are retried after 0.25, 0.5, 1, 2, 4, 8 and 10 s, not once per loop turn (which,
// with systemd's errors coming back at once, never let the API on the loop answer). `before`
// runs before any simulated time passes. Then `cut(false)`, and the unit starts.
static void retried_with_pauses_then_started(
    const std::function<void(FakeUnitManager&, bool)>& cut,
    const std::function<void(World&, FakeUnitManager&)>& before) {
  World w;
  w.store_content();
  FakeUnitManager units;
  Agent agent(w.reg, units, w.options());
  auto done = spawn(w.io, agent.run());
  REQUIRE(run_until(w.io, [&] { return w.machine_listed(); }));
  cut(units, true);
  w.assign("a.service", TargetState::launched);
  before(w, units);
  advance_clock(w.io, std::chrono::seconds(20));
  CHECK(units.refused() >= 3);
  CHECK(units.refused() <= 20);
  cut(units, false);
  advance_clock(w.io, std::chrono::seconds(11));
  REQUIRE(run_until(w.io, [&] {
    auto s = w.state("a.service");
    return s && s->active_state == "active" && s->sub_state == "running";
  }));
  agent.stop();
  REQUIRE(run_until(w.io, [&] { return done->done; }));
}

TEST_CASE("while systemd cannot be reached the agent retries with growing pauses, then starts") {
  retried_with_pauses_then_started([](FakeUnitManager& u, bool cut) { u.set_unavailable(cut); },
                                   [](World&, FakeUnitManager&) {});
}

// An unload refused because systemd was unreachable removes nothing: the unit keeps its file,
// stays the agent's and keeps its reported state, and is unloaded once systemd answers.
TEST_CASE("a unit unassigned while systemd cannot be reached is unloaded once it answers") {
  World w;
  w.store_content();
  FakeUnitManager units;
  Agent agent(w.reg, units, w.options());
  auto done = spawn(w.io, agent.run());
  w.assign("a.service", TargetState::launched);
  REQUIRE(run_until(w.io, [&] {
    auto s = w.state("a.service");
    return s && s->active_state == "active";
  }));
  units.set_unavailable(true);
  w.unassign("a.service");
  advance_clock(w.io, std::chrono::seconds(5));
  CHECK(units.content("a.service"));  // still there, still running
  CHECK(w.state("a.service"));        // and still reported as this machine's
  units.set_unavailable(false);
  advance_clock(w.io, std::chrono::seconds(11));
  REQUIRE(run_until(w.io, [&] { return !units.content("a.service") && !w.state("a.service"); }));
  agent.stop();
  REQUIRE(run_until(w.io, [&] { return done->done; }));
}

// systemd dropping off the bus with every start and joining again at once: listings work, so
// the pass itself does not fail and back off. The lost starts are planned again after a growing
// pause, not at once in a loop, and the unit starts once systemd keeps its jobs.
TEST_CASE("starts lost while systemd's listings work are retried with growing pauses") {
  retried_with_pauses_then_started([](FakeUnitManager& u, bool cut) { u.set_starts_lost(cut); },
                                   [](World& w, FakeUnitManager& units) {
                                     // Before any simulated time passes, the lost start waits for
                                     // its pause. (Handler by handler and bounded: retried at once,
                                     // the starts would never leave the loop idle, and a whole
                                     // poll() would never return.)
                                     for (int i = 0; i < 100000 && units.refused() < 50; ++i)
                                       w.io.poll_one();
                                     REQUIRE(units.refused() <= 2);
                                   });
}

// The engine sends a small unit's text along with its assignment: the agent starts the unit
// without reading content/ (here there is none to read), and ignores a text that is not the
// one its hash names.
TEST_CASE("a unit whose assignment carries its content starts without a fetch") {
  World w;
  FakeUnitManager units;
  Agent agent(w.reg, units, w.options());
  auto done = spawn(w.io, agent.run());
  REQUIRE(run_until(w.io, [&] { return w.machine_listed(); }));
  auto send = [&](const std::string& unit, const std::string& text) {
    ScheduleBatch b = w.reg.schedule_batch();
    b.assign({unit, "m1", unitfile::sha1_hex(kContent), TargetState::launched, text});
    REQUIRE(run_sync(w.io, w.reg.apply(std::move(b), w.engine_lease)));
  };
  send("a.service", kContent);
  REQUIRE(run_until(w.io, [&] {
    auto s = w.state("a.service");
    return s && s->active_state == "active" && s->sub_state == "running";
  }));
  CHECK(units.content("a.service") == kContent);
  // Another text under that hash is never loaded: the unit gets the content the hash names.
  const std::string other = "[Service]\nExecStart=/bin/false\n";
  send("b.service", other);
  REQUIRE(run_until(w.io, [&] {
    auto s = w.state("b.service");
    return s && s->active_state == "active";
  }));
  CHECK(units.content("b.service") == kContent);
  agent.stop();
  REQUIRE(run_until(w.io, [&] { return done->done; }));
}

TEST_CASE("events the registry refused are written with a later flush, once, with their times") {
  World w;
  w.store_content();
  FakeUnitManager units;
  Agent agent(w.reg, units, w.options());
  auto done = spawn(w.io, agent.run());
  REQUIRE(run_until(w.io, [&] { return w.machine_listed(); }));
  const auto started = [&] {
    std::vector<EventRecord> out;
    auto listed = run_sync(w.io, w.reg.events().list({}));
    REQUIRE(listed);
    for (auto& e : listed.value().events)
      if (e.kind == "started") out.push_back(e);
    return out;
  };
  w.gate.refuse_events = true;
  const std::string before = fleet::log::timestamp_now();
  w.assign("a.service", TargetState::launched);
  REQUIRE(run_until(w.io, [&] {
    auto s = w.state("a.service");
    return s && s->active_state == "active" && w.gate.refused >= 2;  // retried, still refused
  }));
  CHECK(started().empty());
  w.gate.refuse_events = false;
  REQUIRE(run_until(w.io, [&] { return started().size() == 1; }));
  const EventRecord a = started().front();
  CHECK(a.unit == "a.service");
  CHECK(a.machine == "m1");
  CHECK(a.time >= before);  // when it happened, before the registry took it
  // Later flushes write only their own events.
  w.assign("b.service", TargetState::launched);
  REQUIRE(run_until(w.io, [&] { return started().size() == 2; }));
  CHECK(started()[0] == a);
  CHECK(started()[1].unit == "b.service");
  agent.stop();
  REQUIRE(run_until(w.io, [&] { return done->done; }));
}
