#include "registry/lease_keeper.h"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include "common/testing/clock.h"
#include "common/testing/run.h"
#include "registry/memory_kv.h"

using namespace fleet;
using namespace fleet::registry;
using namespace std::chrono_literals;
using fleet::testing::advance_clock;
using fleet::testing::run_sync;
using fleet::testing::run_until;
using State = LeaseKeeper::State;

namespace {

// The store keeps leases for 30 s, while the keeper's own clock assumes 300 ms (renewing every
// 100 ms), so these tests run in milliseconds and only the keeper's behaviour decides.
LeaseKeeperOptions fast() {
  LeaseKeeperOptions o;
  o.ttl = 30s;
  o.local_ttl = 300ms;
  o.initial_backoff = 5ms;
  o.max_backoff = 20ms;
  return o;
}

struct Env {
  boost::asio::io_context io;
  MemoryKv kv{io.get_executor()};
  LeaseKeeper keeper{kv, fast()};
  std::vector<State> changes;
  std::shared_ptr<testing::Spawned<Status>> running;

  Env() {
    keeper.on_change([this](State s, LeaseId) { changes.push_back(s); });
  }
  ~Env() {
    keeper.stop();
    if (running)
      CHECK(run_until(
          io, [&] { return running->done; }, 1s));
  }
  LeaseId grant_and_run() {
    auto id = run_sync(io, keeper.grant());
    REQUIRE(id.has_value());
    running = testing::spawn(io, keeper.run());
    return id.value();
  }
};

}  // namespace

TEST_CASE("a granted lease is renewed before our clock runs out") {
  Env e;
  auto id = e.grant_and_run();
  CHECK(e.keeper.held());
  CHECK(e.keeper.id() == id);
  auto first = e.keeper.expires_at();
  REQUIRE(run_until(
      e.io, [&] { return e.keeper.expires_at() > first; }, 1s));
  auto second = e.keeper.expires_at();
  REQUIRE(run_until(
      e.io, [&] { return e.keeper.expires_at() > second; }, 1s));
  // Renewed twice, each time well before the deadline, so never lost.
  CHECK(e.keeper.held());
  CHECK(e.changes == std::vector<State>{State::held});
  CHECK(e.kv.lease_count() == 1);
}

TEST_CASE("a lease the store expired is reported lost") {
  Env e;
  auto id = e.grant_and_run();
  auto lost = testing::spawn(e.io, e.keeper.wait_lost());
  // Ten of the keeper's TTLs pass on simulated time: renewed all along, never lost.
  advance_clock(e.io, 3s);
  CHECK_FALSE(lost->done);
  CHECK(e.keeper.held());
  REQUIRE(e.kv.expire_lease(id));
  REQUIRE(run_until(
      e.io, [&] { return lost->done; }, 1s));
  CHECK(*lost->value == State::lost);
  CHECK(e.keeper.state() == State::lost);
  CHECK(e.keeper.loss_reason().find("not found") != std::string::npos);
  CHECK(e.changes == std::vector<State>{State::held, State::lost});
}

TEST_CASE("an unreachable store makes the lease lost by our own clock") {
  Env e;
  e.grant_and_run();
  e.kv.set_available(false);
  auto deadline = e.keeper.expires_at();
  LeaseKeeper::Clock::time_point lost_at{};
  e.keeper.on_change([&](State s, LeaseId) {
    if (s == State::lost) lost_at = LeaseKeeper::Clock::now();
  });
  advance_clock(e.io, 250ms);  // less than the keeper's TTL since the last renewal
  CHECK(e.keeper.held());
  advance_clock(e.io, 100ms);
  CHECK(e.keeper.state() == State::lost);
  CHECK(lost_at >= deadline);  // not a moment before the TTL could have run out
  CHECK(e.keeper.loss_reason().find("TTL") != std::string::npos);
}

TEST_CASE("transient keepalive failures are retried and the lease survives") {
  Env e;
  e.grant_and_run();
  auto first = e.keeper.expires_at();
  e.kv.fail_next(3, Errc::timeout);
  REQUIRE(run_until(
      e.io, [&] { return e.keeper.expires_at() > first; }, 1s));
  CHECK(e.keeper.held());
  CHECK(e.changes == std::vector<State>{State::held});
}

TEST_CASE("after a loss a new grant is kept alive") {
  Env e;
  auto id = e.grant_and_run();
  REQUIRE(e.kv.expire_lease(id));
  REQUIRE(run_until(
      e.io, [&] { return e.keeper.state() == State::lost; }, 1s));
  auto id2 = run_sync(e.io, e.keeper.grant());
  REQUIRE(id2.has_value());
  CHECK(id2.value() != id);
  CHECK(e.keeper.held());
  auto first = e.keeper.expires_at();
  REQUIRE(run_until(
      e.io, [&] { return e.keeper.expires_at() > first; }, 1s));
  CHECK(e.changes == std::vector<State>{State::held, State::lost, State::held});
}

TEST_CASE("revoke gives the lease up and deletes its keys") {
  Env e;
  auto id = e.grant_and_run();
  REQUIRE(run_sync(e.io, e.kv.put("/machines/m1", "x", id)).has_value());
  auto waiting = testing::spawn(e.io, e.keeper.wait_lost());
  REQUIRE(run_sync(e.io, e.keeper.revoke()).has_value());
  CHECK(e.keeper.state() == State::revoked);
  CHECK(e.kv.lease_count() == 0);
  RangeRequest req;
  req.key = "/machines/m1";
  CHECK(run_sync(e.io, e.kv.range(req)).value().count == 0);
  REQUIRE(run_until(
      e.io, [&] { return waiting->done; }, 1s));
  CHECK(*waiting->value == State::revoked);
  CHECK(run_sync(e.io, e.keeper.revoke()).has_value());  // nothing held: nothing to do
}

TEST_CASE("revoking a lease the store already dropped still succeeds") {
  Env e;
  auto id = e.grant_and_run();
  REQUIRE(e.kv.expire_lease(id));
  // Revoke before the keeper noticed the loss.
  CHECK(run_sync(e.io, e.keeper.revoke()).has_value());
  CHECK(e.keeper.state() == State::revoked);
}

TEST_CASE("stop ends run and wait_lost returns at once without a lease") {
  Env e;
  auto running = testing::spawn(e.io, e.keeper.run());
  advance_clock(e.io, 1s);  // without a lease run() waits for one, however long
  CHECK_FALSE(running->done);
  e.keeper.stop();
  REQUIRE(run_until(
      e.io, [&] { return running->done; }, 1s));
  CHECK(running->value->has_value());
  CHECK(run_sync(e.io, e.keeper.wait_lost()) == State::none);
}

TEST_CASE("a failed grant leaves the keeper without a lease") {
  Env e;
  e.kv.set_available(false);
  auto r = run_sync(e.io, e.keeper.grant());
  REQUIRE(r.has_error());
  CHECK(r.error().code == Errc::unavailable);
  CHECK(e.keeper.state() == State::none);
}
