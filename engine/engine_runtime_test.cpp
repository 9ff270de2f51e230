#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include "common/testing/run.h"
#include "engine/engine.h"
#include "registry/memory_kv.h"
#include "registry/registry.h"
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
  Registry reg{kv, KeyLayout("/e/")};
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
