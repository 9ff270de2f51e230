#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include "common/testing/run.h"
#include "engine/engine.h"
#include "registry/memory_kv.h"
#include "registry/registry.h"
#include "registry/testing/raw_keys.h"
#include "unitfile/unit_file.h"

using namespace fleet;
using namespace fleet::registry;
using fleet::engine::Engine;
using fleet::engine::EngineOptions;
using fleet::testing::run_sync;
using fleet::testing::run_until;
using fleet::testing::spawn;

namespace {
struct World {
  boost::asio::io_context io;
  MemoryKv kv{io.get_executor()};
  Registry reg{kv, "/e/"};
  std::map<std::string, LeaseId> machine_leases;

  void machine(const std::string& id) {
    auto lease = run_sync(io, kv.lease_grant(std::chrono::seconds(60))).value();
    machine_leases[id] = lease;
    REQUIRE(run_sync(io, reg.put_machine({id, "127.0.0.1", {}, "t", false, {}}, lease)));
  }
  void unit(const std::string& name, const std::string& content) {
    REQUIRE(run_sync(
        io,
        reg.create_unit({name, unitfile::sha1_hex(content), TargetState::launched, 0}, content)));
  }
  std::optional<std::string> where(const std::string& unit) {
    return run_sync(io, reg.get_schedule(unit)).value();
  }
  EngineOptions options(const std::string& id) {
    EngineOptions o;
    o.machine_id = id;
    o.lease_ttl = std::chrono::seconds(5);
    o.batch_window = std::chrono::milliseconds(1);
    return o;
  }
};
}  // namespace

TEST_CASE("one engine leads, schedules units and another takes over when it stops") {
  World w;
  w.machine("m1");
  w.machine("m2");
  Engine e1(w.reg, w.options("m1"));
  Engine e2(w.reg, w.options("m2"));
  auto d1 = spawn(w.io, e1.run());
  REQUIRE(run_until(w.io, [&] { return e1.leader(); }));
  auto d2 = spawn(w.io, e2.run());
  w.unit("a.service", "[Service]\nExecStart=/bin/a\n");
  REQUIRE(run_until(w.io, [&] { return w.where("a.service").has_value(); }));
  CHECK_FALSE(e2.leader());
  CHECK(run_sync(w.io, w.reg.list_assignments(*w.where("a.service"))).value().size() == 1);

  e1.stop();
  REQUIRE(run_until(w.io, [&] { return d1->done; }));
  REQUIRE(run_until(
      w.io, [&] { return e2.leader(); }, std::chrono::seconds(5)));
  w.unit("b.service", "[Service]\nExecStart=/bin/b\n");
  REQUIRE(run_until(w.io, [&] { return w.where("b.service").has_value(); }));
  e2.stop();
  REQUIRE(run_until(w.io, [&] { return d2->done; }));
}

TEST_CASE("units of a machine whose lease expires move at once to a survivor") {
  World w;
  w.machine("m1");
  w.machine("m2");
  Engine e(w.reg, w.options("m2"));
  auto done = spawn(w.io, e.run());
  w.unit("a.service", "[Service]\nExecStart=/bin/a\n");
  w.unit("b.service", "[Service]\nExecStart=/bin/b\n");
  REQUIRE(run_until(w.io, [&] { return w.where("a.service") && w.where("b.service"); }));
  std::string lost = *w.where("a.service");
  std::string other = lost == "m1" ? "m2" : "m1";
  REQUIRE(w.kv.expire_lease(w.machine_leases[lost]));
  REQUIRE(run_until(
      w.io, [&] { return w.where("a.service") == other; }, std::chrono::seconds(1)));
  CHECK(run_sync(w.io, w.reg.list_assignments(lost)).value().empty());
  e.stop();
  REQUIRE(run_until(w.io, [&] { return done->done; }));
}

TEST_CASE("an unplaceable unit gets a reason users can read") {
  World w;
  w.machine("m1");
  Engine e(w.reg, w.options("m1"));
  auto done = spawn(w.io, e.run());
  w.unit("web.service", "[Service]\nExecStart=/bin/w\n[X-Fleet]\nMachineMetadata=role=web\n");
  REQUIRE(run_until(
      w.io, [&] { return run_sync(w.io, w.reg.get_reason("web.service")).value().has_value(); }));
  CHECK(run_sync(w.io, w.reg.get_reason("web.service")).value()->find("role") != std::string::npos);
  e.stop();
  REQUIRE(run_until(w.io, [&] { return done->done; }));
}

TEST_CASE("the engine carries a rolling reboot: drain, request, return with a new boot, next") {
  World w;
  auto boot = [&](const std::string& id, const std::string& boot_id) {
    MachineRecord m{id, "127.0.0.1", {}, "t", false, {}};
    m.boot_id = boot_id;
    REQUIRE(run_sync(w.io, w.reg.put_machine(m, w.machine_leases[id])));
  };
  for (const char* id : {"m1", "m2"}) {
    w.machine(id);
    boot(id, "boot1");
  }
  Engine e(w.reg, w.options("m1"));
  auto done = spawn(w.io, e.run());
  REQUIRE(run_until(w.io, [&] { return e.leader(); }));
  RebootRollout r;
  r.hosts = {{"m1", RebootStep::pending, {}, 0}, {"m2", RebootStep::pending, {}, 0}};
  REQUIRE(run_sync(w.io, w.reg.start_reboot_rollout(r, std::nullopt)));
  auto step_of = [&](std::size_t i) {
    auto s = run_sync(w.io, w.reg.reboot_state()).value();
    return s.first ? s.first->hosts.at(i).step : RebootStep::pending;
  };
  auto requested = [&](const std::string& id) {
    RangeRequest req;
    req.key = w.reg.keys().reboot_request(id);
    return run_sync(w.io, w.kv.range(req)).value().kvs.size() == 1;
  };
  // m1 holds no unit: drained at once, asked to reboot from boot1.
  REQUIRE(run_until(w.io, [&] { return requested("m1"); }));
  CHECK(step_of(0) == RebootStep::rebooting);
  CHECK(step_of(1) == RebootStep::pending);
  boot("m1", "boot2");  // back
  REQUIRE(run_until(w.io, [&] { return step_of(0) == RebootStep::done && requested("m2"); }));
  CHECK_FALSE(requested("m1"));
  boot("m2", "boot2");
  REQUIRE(run_until(w.io, [&] {
    auto s = run_sync(w.io, w.reg.reboot_state()).value();
    return s.first && s.first->state == RebootRollout::State::done && s.second.holders.empty();
  }));
  auto machines = run_sync(w.io, w.reg.list_machines()).value();
  for (const auto& m : machines) CHECK(m.maintenance.mode == MaintenanceMode::none);
  e.stop();
  REQUIRE(run_until(w.io, [&] { return done->done; }));
}
