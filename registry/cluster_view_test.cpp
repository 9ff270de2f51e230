#include "registry/cluster_view.h"

#include <doctest/doctest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/testing/clock.h"
#include "common/testing/run.h"
#include "registry/memory_kv.h"
#include "registry/registry.h"
#include "registry/testing/forwarding_kv.h"
#include "registry/testing/raw_keys.h"

using namespace fleet;
using namespace fleet::registry;
using namespace std::chrono_literals;
using fleet::testing::run_sync;
using fleet::testing::run_until;

namespace {

// MemoryKv whose watches can be held: a held watcher delivers nothing until released, as a
// watch stream that fell behind (the store goes on answering everything else).
class HeldKv final : public ForwardingKv {
 public:
  explicit HeldKv(boost::asio::io_context& io)
      : ForwardingKv(inner_), inner_(io.get_executor()), gate_(io) {
    gate_.expires_at(Timer::time_point::max());
  }
  void hold() { held_ = true; }
  void release() {
    held_ = false;
    gate_.cancel();
  }
  MemoryKv& inner() { return inner_; }

  std::unique_ptr<Watcher> watch(WatchRequest req) override {
    return std::make_unique<HeldWatcher>(*this, inner_.watch(std::move(req)));
  }

 private:
  class HeldWatcher final : public Watcher {
   public:
    HeldWatcher(HeldKv& kv, std::unique_ptr<Watcher> w) : kv_(kv), inner_(std::move(w)) {}
    Task<Result<WatchBatch>> next() override {
      while (kv_.held_ && !cancelled_) {
        co_await kv_.gate_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        kv_.gate_.expires_at(Timer::time_point::max());
      }
      co_return co_await inner_->next();
    }
    void cancel() override {
      cancelled_ = true;
      inner_->cancel();
      kv_.gate_.cancel();
    }

   private:
    HeldKv& kv_;
    std::unique_ptr<Watcher> inner_;
    bool cancelled_ = false;
  };

  MemoryKv inner_;
  Timer gate_;
  bool held_ = false;
};

struct Env {
  explicit Env(ClusterViewOptions o = {}) : view(reg.cluster_view(o)) {}
  boost::asio::io_context io;
  HeldKv kv{io};
  Registry reg{kv, "/test/"};
  std::unique_ptr<ClusterView> view;

  template <class T>
  T run(boost::asio::awaitable<T> a) {
    return run_sync(io, std::move(a));
  }
  void create(const std::string& name, TargetState desired = TargetState::launched) {
    UnitRecord rec{name, "hash-" + name, desired, 0};
    REQUIRE(run(reg.create_unit(rec, "[Service]\nExecStart=/bin/" + name + "\n")).has_value());
  }
  void schedule(const std::string& unit, const std::string& machine) {
    REQUIRE(run(kv.put(reg.keys().schedule(unit), machine, 0)).has_value());
  }
  void reason(const std::string& unit, const std::string& why) {
    REQUIRE(run(kv.put(reg.keys().reason(unit), why, 0)).has_value());
  }
  void state(const std::string& unit, const std::string& machine, const std::string& active) {
    std::vector<UnitStateRecord> s{{unit, machine, "hash-" + unit, "loaded", active, "running"}};
    REQUIRE(run(reg.put_states(s, 0)).has_value());
  }
  // Reads until the view serves (the first read starts it; it serves once listed).
  std::shared_ptr<const UnitsSnapshot> units_when_following() {
    std::shared_ptr<const UnitsSnapshot> got;
    REQUIRE(run_until(io, [&] {
      if (!got) got = run(view->units()).value();
      return got != nullptr;
    }));
    return got;
  }
  // What a direct read shows.
  UnitsSnapshot direct() { return run(reg.units_snapshot(std::nullopt)).value(); }
};

void check_same(const UnitsSnapshot& a, const UnitsSnapshot& b) {
  CHECK(a.units == b.units);
  CHECK(a.schedule == b.schedule);
  CHECK(a.reported == b.reported);
  CHECK(a.reasons == b.reasons);
}

}  // namespace

TEST_CASE("cluster view starts at the first read and then serves what a direct read shows") {
  Env e;
  e.create("a.service");
  e.create("b.service", TargetState::inactive);
  e.create("c.service");
  e.schedule("a.service", "m1");
  e.schedule("c.service", "m2");
  e.state("a.service", "m1", "active");
  e.state("c.service", "m2", "failed");
  e.reason("b.service", "no machine matches");
  CHECK_FALSE(e.view->following());
  auto first = e.run(e.view->units());
  REQUIRE(first.has_value());
  CHECK(first.value() == nullptr);  // not listed yet: the caller reads directly
  CHECK(e.view->following());
  CHECK(e.view->counters().starts == 1);

  auto snap = e.units_when_following();
  check_same(*snap, e.direct());
  REQUIRE(snap->units.size() == 3);
  CHECK(snap->units[0].name == "a.service");
  auto states = e.run(e.view->states()).value();
  REQUIRE(states != nullptr);
  CHECK(*states == e.run(e.reg.list_states()).value());
  CHECK(e.view->counters().starts == 1);
}

TEST_CASE("cluster view shows every write that finished before the read") {
  Env e;
  e.create("a.service");
  e.units_when_following();
  const auto served = e.view->counters().served;
  e.create("new.service");
  e.schedule("new.service", "m3");
  e.state("new.service", "m3", "active");
  check_same(*e.run(e.view->units()).value(), e.direct());
  REQUIRE(e.run(e.reg.destroy_unit("a.service")).has_value());
  REQUIRE(e.run(e.reg.set_desired_state("new.service", TargetState::loaded)).has_value());
  REQUIRE(e.run(e.reg.delete_states("m3", {"new.service"})).has_value());
  auto after = e.run(e.view->units()).value();
  REQUIRE(after != nullptr);
  check_same(*after, e.direct());
  REQUIRE(after->units.size() == 1);
  CHECK(after->units[0].desired == TargetState::loaded);
  CHECK(after->reported.empty());
  CHECK(e.view->counters().served == served + 2);
  CHECK(e.view->counters().unserved == 1);  // only the first read
}

TEST_CASE("cluster view builds a snapshot once per change and shares it between reads") {
  Env e;
  e.create("a.service");
  auto one = e.units_when_following();
  auto two = e.run(e.view->units()).value();
  CHECK(one == two);  // the same object: nothing changed
  REQUIRE(e.run(e.kv.put("/test/machines/m1/object", "{}", 0)).has_value());
  CHECK(e.run(e.view->units()).value() == one);  // a record listings do not show
  e.create("b.service");
  auto three = e.run(e.view->units()).value();
  CHECK(three != one);
  CHECK(three->units.size() == 2);
  CHECK(one->units.size() == 1);  // a snapshot handed out never changes
}

TEST_CASE("cluster view serves when only keys outside its prefix changed") {
  Env e;
  e.create("a.service");
  e.units_when_following();
  const auto before = e.view->revision();
  // Another user of the same etcd: revisions move, no event of ours says so.
  REQUIRE(e.run(e.kv.put("/elsewhere/x", "1", 0)).has_value());
  REQUIRE(e.run(e.kv.put("/elsewhere/y", "1", 0)).has_value());
  auto snap = e.run(e.view->units()).value();
  REQUIRE(snap != nullptr);
  check_same(*snap, e.direct());
  CHECK(e.view->counters().checks == 1);
  CHECK(e.view->revision() == e.kv.inner().revision());
  CHECK(e.view->revision() > before);
  // Known now: the next read needs no check.
  REQUIRE(e.run(e.view->units()).value() != nullptr);
  CHECK(e.view->counters().checks == 1);
}

TEST_CASE("cluster view behind its watch for longer than catch_up leaves the read to the caller") {
  ClusterViewOptions o;
  o.settle = 1ms;
  o.catch_up = 30ms;
  Env e(o);
  e.create("a.service");
  e.units_when_following();
  e.kv.hold();
  // The watcher's pending call still delivers this one; the calls after it are held.
  e.create("b.service");
  REQUIRE(run_until(e.io, [&] { return e.view->revision() == e.kv.inner().revision(); }));
  e.create("c.service");  // the view cannot see this
  auto behind = e.run(e.view->units());
  REQUIRE(behind.has_value());
  CHECK(behind.value() == nullptr);
  CHECK(e.view->counters().checks == 1);  // the store said the prefix changed
  CHECK(e.view->counters().unserved == 2);
  e.kv.release();
  REQUIRE(run_until(e.io, [&] { return e.view->revision() == e.kv.inner().revision(); }));
  auto caught_up = e.run(e.view->units()).value();
  REQUIRE(caught_up != nullptr);
  CHECK(caught_up->units.size() == 3);
}

TEST_CASE("cluster view re-lists after compaction and shows the store as it is") {
  Env e;
  e.create("a.service");
  e.create("b.service");
  e.state("a.service", "m1", "active");
  e.units_when_following();
  e.kv.hold();
  e.create("c.service");  // delivered to the pending call
  REQUIRE(run_until(e.io, [&] { return e.view->revision() == e.kv.inner().revision(); }));
  REQUIRE(e.run(e.reg.destroy_unit("b.service")).has_value());
  REQUIRE(e.run(e.reg.delete_states("m1", {"a.service"})).has_value());
  e.create("d.service");
  REQUIRE(e.kv.inner().compact(e.kv.inner().revision()).has_value());
  e.kv.release();
  REQUIRE(run_until(e.io, [&] { return e.view->revision() == e.kv.inner().revision(); }));
  CHECK(e.view->relists() == 1);
  auto snap = e.run(e.view->units()).value();
  REQUIRE(snap != nullptr);
  check_same(*snap, e.direct());
  CHECK(snap->units.size() == 3);
  CHECK(snap->reported.empty());
}

TEST_CASE("cluster view stops following after the idle period and starts again when read") {
  ClusterViewOptions o;
  o.idle = std::chrono::minutes(5);
  Env e(o);
  e.create("a.service");
  e.units_when_following();
  const auto watchers = e.kv.inner().watcher_count();
  CHECK(watchers >= 1);
  fleet::testing::advance_clock(e.io, std::chrono::minutes(4), 1s);
  REQUIRE(e.run(e.view->units()).value() != nullptr);  // a read keeps it going
  fleet::testing::advance_clock(e.io, std::chrono::minutes(4), 1s);
  CHECK(e.view->following());
  fleet::testing::advance_clock(e.io, std::chrono::minutes(1) + 1s, 1s);
  CHECK_FALSE(e.view->following());
  CHECK(e.view->revision() == 0);
  REQUIRE(run_until(e.io, [&] { return e.kv.inner().watcher_count() == watchers - 1; }));
  // The next read starts again (and reads directly meanwhile).
  CHECK(e.run(e.view->units()).value() == nullptr);
  CHECK(e.view->counters().starts == 2);
  e.create("b.service");
  check_same(*e.units_when_following(), e.direct());
}

TEST_CASE("cluster view read fails when the store's revision cannot be read") {
  Env e;
  e.create("a.service");
  e.units_when_following();
  e.kv.inner().fail_next(1, Errc::unavailable);
  auto r = e.run(e.view->units());
  REQUIRE(r.has_error());
  CHECK(r.error().code == Errc::unavailable);
  REQUIRE(e.run(e.view->units()).value() != nullptr);
}
