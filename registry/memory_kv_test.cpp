// MemoryKv behaviour beyond the shared contract: its test hooks, options and fake-only details.

#include "registry/memory_kv.h"

#include <doctest/doctest.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/testing/run.h"

using namespace fleet;
using namespace fleet::registry;
using namespace std::chrono_literals;
using fleet::testing::run_sync;

namespace {

struct Env {
  boost::asio::io_context io;
  MemoryKv kv{io.get_executor()};
  template <class T>
  T sync(Task<T> t) {
    return run_sync(io, std::move(t));
  }
};

WatchRequest wreq(std::string key, std::string end = {}, Revision start = 0) {
  WatchRequest r;
  r.key = std::move(key);
  r.range_end = std::move(end);
  r.start_revision = start;
  return r;
}

RangeRequest rreq(std::string key) {
  RangeRequest r;
  r.key = std::move(key);
  return r;
}

}  // namespace

TEST_CASE("prefix_end increments the last byte below 0xff") {
  CHECK(prefix_end("/fleet/job/") == "/fleet/job0");
  CHECK(prefix_end("a\xff") == "b");
  CHECK(prefix_end("\xff\xff") == std::string(1, '\0'));
  CHECK(prefix_end("") == std::string(1, '\0'));
}

TEST_CASE("a fresh store is at revision 1 and the first write makes it 2") {
  Env e;
  CHECK(e.kv.revision() == 1);
  CHECK(e.sync(e.kv.put("/a", "1")).value() == 2);
}

TEST_CASE("expire_lease deletes the lease's keys in one revision") {
  Env e;
  auto id = e.sync(e.kv.lease_grant(60s)).value();
  REQUIRE(e.sync(e.kv.put("/m/a", "1", id)).has_value());
  REQUIRE(e.sync(e.kv.put("/m/b", "1", id)).has_value());
  auto before = e.kv.revision();
  WatchRequest wr{"/m/", prefix_end("/m/"), before + 1, true};
  auto w = e.kv.watch(wr);
  CHECK(e.kv.expire_lease(id));
  CHECK_FALSE(e.kv.expire_lease(id));
  CHECK(e.kv.revision() == before + 1);
  CHECK(e.kv.lease_count() == 0);
  auto b = e.sync(w->next()).value();
  REQUIRE(b.events.size() == 2);
  CHECK(b.events[0].type == Event::Type::del);
  CHECK(b.events[1].kv.key == "/m/b");
  CHECK(e.sync(e.kv.lease_keepalive(id)).error().code == Errc::not_found);
}

TEST_CASE("a lease without keys expires without using a revision") {
  Env e;
  auto id = e.sync(e.kv.lease_grant(60s)).value();
  auto before = e.kv.revision();
  CHECK(e.kv.expire_lease(id));
  CHECK(e.kv.revision() == before);
}

TEST_CASE("short TTLs are raised to the minimum, keepalive returns the granted TTL") {
  Env e;
  auto id = e.sync(e.kv.lease_grant(1s)).value();
  CHECK(e.sync(e.kv.lease_keepalive(id)).value() == 2s);
  auto id2 = e.sync(e.kv.lease_grant(7s)).value();
  CHECK(e.sync(e.kv.lease_keepalive(id2)).value() == 7s);
  CHECK(id != id2);
}

TEST_CASE("while unavailable every call fails and watchers stall, then resume losing nothing") {
  Env e;
  auto w = e.kv.watch(wreq("/u"));
  REQUIRE(e.sync(e.kv.put("/u", "1")).has_value());
  e.kv.set_available(false);
  CHECK(e.sync(e.kv.put("/u", "2")).error().code == Errc::unavailable);
  CHECK(e.sync(e.kv.range(rreq("/u"))).error().code == Errc::unavailable);
  CHECK(e.sync(e.kv.lease_grant(5s)).error().code == Errc::unavailable);
  auto pending = testing::spawn(e.io, w->next());
  CHECK_FALSE(testing::run_until(
      e.io, [&] { return pending->done; }, 30ms));
  e.kv.set_available(true);
  REQUIRE(testing::run_until(
      e.io, [&] { return pending->done; }, 1s));
  auto b = pending->value->value();
  REQUIRE(b.events.size() == 1);
  CHECK(b.events[0].kv.value == "1");
}

TEST_CASE("fail_next fails exactly that many calls") {
  Env e;
  e.kv.fail_next(2, Errc::timeout);
  CHECK(e.sync(e.kv.put("/f", "1")).error().code == Errc::timeout);
  CHECK(e.sync(e.kv.del("/f")).error().code == Errc::timeout);
  CHECK(e.sync(e.kv.put("/f", "1")).has_value());
}

TEST_CASE("a watcher that falls behind a compaction ends with compact_revision") {
  Env e;
  auto w = e.kv.watch(wreq("/s"));
  auto r1 = e.sync(e.kv.put("/s", "1")).value();
  auto r2 = e.sync(e.kv.put("/s", "2")).value();
  REQUIRE(e.kv.compact(r2).has_value());
  CHECK(e.kv.compact(r2).error().code == Errc::invalid_argument);
  CHECK(e.kv.compact(r2 + 5).error().code == Errc::invalid_argument);
  auto b = e.sync(w->next()).value();
  CHECK(b.compact_revision == r2);
  CHECK(r1 < r2);
  CHECK(e.sync(w->next()).error().code == Errc::cancelled);
}

TEST_CASE("history_limit compacts automatically") {
  boost::asio::io_context io;
  MemoryKvOptions o;
  o.history_limit = 10;
  MemoryKv kv(io.get_executor(), o);
  for (int i = 0; i < 50; ++i) REQUIRE(run_sync(io, kv.put("/h", std::to_string(i))).has_value());
  CHECK(kv.compact_revision() > 0);
  CHECK(kv.revision() - kv.compact_revision() < 20);
  RangeRequest old;
  old.key = "/h";
  old.revision = 2;
  CHECK(run_sync(io, kv.range(old)).has_error());
}

TEST_CASE("a long-running store keeps history bounded by the live data, not the writes") {
  // `fleetd --dev` replacing one large unit 200 times used to keep all 200 copies.
  boost::asio::io_context io;
  MemoryKv kv(io.get_executor(), long_running_options());
  auto w = kv.watch(wreq("/fleet/", prefix_end("/fleet/")));  // keeps up, as a reflector does
  const std::string big(64 * 1024, 'x');
  auto content = [](int i) { return "/fleet/content/" + std::to_string(i); };
  for (int i = 0; i < 200; ++i) {
    // What a replacement writes: the new content, the unit, and the old content collected.
    TxnRequest t;
    t.success.push_back(Op::put(content(i), big + std::to_string(i)));
    t.success.push_back(Op::put("/fleet/units/u.service", std::to_string(i)));
    if (i > 0) t.success.push_back(Op::del(content(i - 1)));
    REQUIRE(run_sync(io, kv.txn(t)).has_value());
    auto b = run_sync(io, w->next());
    REQUIRE(b.has_value());
    CHECK(b.value().events.size() == (i > 0 ? 3u : 2u));
  }
  const auto f = kv.footprint();
  // About `retention` revisions of history (each a new copy, and the deleted one in its event)
  // instead of 200 revisions; with nothing kept the live data alone is one copy.
  CHECK(f.value_bytes < 64 * big.size());
  CHECK(f.records < 64);
  CHECK(f.events < 64);
  // A read at a compacted revision fails as etcd's does; the latest state is whole.
  RangeRequest old = rreq("/fleet/units/u.service");
  old.revision = 2;
  auto r = run_sync(io, kv.range(old));
  REQUIRE(r.has_error());
  CHECK(r.error().code == Errc::invalid_argument);
  CHECK(r.error().message.find("required revision has been compacted") != std::string::npos);
  CHECK(run_sync(io, kv.range(rreq(content(199)))).value().kvs.at(0).value == big + "199");
  CHECK(run_sync(io, kv.range(rreq(content(198)))).value().kvs.empty());
}

TEST_CASE("automatic compaction keeps what a live watcher has yet to read, up to history_limit") {
  boost::asio::io_context io;
  MemoryKvOptions o;
  o.retention = 4;
  o.history_limit = 100;
  MemoryKv kv(io.get_executor(), o);
  auto lagging = kv.watch(wreq("/k"));
  for (int i = 0; i < 50; ++i) REQUIRE(run_sync(io, kv.put("/k", std::to_string(i))).has_value());
  // 50 revisions behind, within history_limit: every event is still delivered.
  auto b = run_sync(io, lagging->next());
  REQUIRE(b.has_value());
  REQUIRE(b.value().events.size() == 50);
  CHECK(b.value().events.back().kv.value == "49");
  // Now it has caught up, so only the retention window is left.
  REQUIRE(run_sync(io, kv.put("/k", "50")).has_value());
  CHECK(kv.revision() - kv.compact_revision() < o.retention);
  CHECK(kv.footprint().records <= static_cast<std::size_t>(o.retention));
  // A watcher that stops reading for longer than history_limit is ended by compaction.
  for (int i = 0; i < 150; ++i) REQUIRE(run_sync(io, kv.put("/k", "x")).has_value());
  auto ended = run_sync(io, lagging->next());
  REQUIRE(ended.has_value());
  CHECK(ended.value().compact_revision > 0);
  CHECK(ended.value().events.empty());
}

TEST_CASE("a watch from revision 0 starts after the current revision") {
  Env e;
  REQUIRE(e.sync(e.kv.put("/z", "old")).has_value());
  auto w = e.kv.watch(wreq("/z"));
  REQUIRE(e.sync(e.kv.put("/z", "new")).has_value());
  auto b = e.sync(w->next()).value();
  REQUIRE(b.events.size() == 1);
  CHECK(b.events[0].kv.value == "new");
}

TEST_CASE("large replays are split into batches without splitting a revision") {
  boost::asio::io_context io;
  MemoryKvOptions o;
  o.max_batch_events = 3;
  MemoryKv kv(io.get_executor(), o);
  TxnRequest t;
  for (int i = 0; i < 5; ++i) t.success.push_back(Op::put("/b/" + std::to_string(i), "v"));
  REQUIRE(run_sync(io, kv.txn(t)).has_value());
  REQUIRE(run_sync(io, kv.put("/b/x", "v")).has_value());
  auto w = kv.watch(wreq("/b/", prefix_end("/b/"), 1));
  auto b1 = run_sync(io, w->next()).value();
  CHECK(b1.events.size() == 5);
  auto b2 = run_sync(io, w->next()).value();
  CHECK(b2.events.size() == 1);
}

TEST_CASE("a watcher may outlive its store") {
  boost::asio::io_context io;
  std::unique_ptr<Watcher> w;
  {
    MemoryKv kv(io.get_executor());
    w = kv.watch(wreq("/o"));
  }
  w->cancel();
  CHECK(run_sync(io, w->next()).error().code == Errc::cancelled);
}

TEST_CASE("a watcher whose next() was cancelled by the caller keeps working") {
  Env e;
  auto w = e.kv.watch(wreq("/c"));
  auto race = [&]() -> Task<std::size_t> {
    using namespace boost::asio::experimental::awaitable_operators;
    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, 5ms);
    auto v = co_await (w->next() || t.async_wait(boost::asio::use_awaitable));
    co_return v.index();
  };
  CHECK(e.sync(race()) == 1);
  REQUIRE(e.sync(e.kv.put("/c", "1")).has_value());
  auto b = e.sync(w->next()).value();
  REQUIRE(b.events.size() == 1);
  CHECK(b.events[0].kv.value == "1");
}
