#include "registry/reflector.h"

#include <doctest/doctest.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <set>

#include "common/testing/clock.h"
#include "common/testing/run.h"
#include "registry/memory_kv.h"

using namespace fleet;
using namespace fleet::registry;
using namespace std::chrono_literals;
using fleet::testing::run_sync;
using fleet::testing::run_until;

namespace {

struct Env {
  boost::asio::io_context io;
  MemoryKv kv{io.get_executor()};
  ReflectorOptions fast{1ms, 10ms};

  template <class T>
  T sync(Task<T> t) {
    return run_sync(io, std::move(t));
  }
  void put(const std::string& k, const std::string& v) { REQUIRE(sync(kv.put(k, v)).has_value()); }
  void del(const std::string& k) { REQUIRE(sync(kv.del(k)).has_value()); }
  // Every key under the prefix with its mod_revision: what the reflector's cache must hold.
  std::map<std::string, Revision> listing(const std::string& prefix) {
    RangeRequest req;
    req.key = prefix;
    req.range_end = prefix_end(prefix);
    std::map<std::string, Revision> out;
    auto r = sync(kv.range(req));
    for (auto& one : r.value().kvs) out[one.key] = one.mod_revision;
    return out;
  }
};

std::string describe(const Change& c) {
  return (c.type == Change::Type::put ? "put " : "del ") + c.kv.key +
         (c.type == Change::Type::put ? "=" + c.kv.value : "");
}

std::vector<std::string> describe(const ReflectorBatch& b) {
  std::vector<std::string> out;
  for (const auto& c : b.changes) out.push_back(describe(c));
  return out;
}

}  // namespace

TEST_CASE("reflector lists the prefix first, every key a put") {
  Env e;
  e.put("/p/b", "2");
  e.put("/p/a", "1");
  e.put("/q/x", "outside");
  Reflector r(e.kv, "/p/", e.fast);
  CHECK_FALSE(r.synced());
  auto b = e.sync(r.next()).value();
  CHECK(b.kind == ReflectorBatch::Kind::initial);
  CHECK(describe(b) == std::vector<std::string>{"put /p/a=1", "put /p/b=2"});
  CHECK(b.revision == e.kv.revision());
  CHECK(r.synced());
  CHECK(r.cache() == e.listing("/p/"));
}

TEST_CASE("reflector lists a prefix larger than one page completely, at one revision") {
  Env e;
  const std::int64_t n = Reflector::kListPage * 2 + 3;
  for (std::int64_t i = 0; i < n; ++i) e.put("/p/" + std::to_string(i), "v");
  const Revision listed_at = e.kv.revision();
  Reflector r(e.kv, "/p/", e.fast);
  auto b = e.sync(r.next()).value();
  CHECK(b.kind == ReflectorBatch::Kind::initial);
  CHECK(static_cast<std::int64_t>(b.changes.size()) == n);
  CHECK(b.revision == listed_at);
  CHECK(r.cache() == e.listing("/p/"));
}

TEST_CASE("reflector of an empty prefix returns an empty initial batch") {
  Env e;
  Reflector r(e.kv, "/empty/", e.fast);
  auto b = e.sync(r.next()).value();
  CHECK(b.kind == ReflectorBatch::Kind::initial);
  CHECK(b.changes.empty());
  CHECK(r.synced());
}

TEST_CASE("reflector hands over puts and deletes in order") {
  Env e;
  e.put("/p/a", "1");
  Reflector r(e.kv, "/p/", e.fast);
  REQUIRE(e.sync(r.next()).has_value());
  e.put("/q/ignored", "x");
  e.put("/p/a", "2");
  e.put("/p/b", "1");
  e.del("/p/a");
  std::vector<Change> got;
  while (got.size() < 3) {
    auto b = e.sync(r.next()).value();
    CHECK(b.kind == ReflectorBatch::Kind::update);
    CHECK_FALSE(b.changes.empty());
    for (auto& c : b.changes) got.push_back(c);
  }
  REQUIRE(got.size() == 3);
  CHECK(describe(got[0]) == "put /p/a=2");
  CHECK(describe(got[1]) == "put /p/b=1");
  CHECK(describe(got[2]) == "del /p/a");
  CHECK(got[2].kv.mod_revision == e.kv.revision());
  CHECK(r.revision() == e.kv.revision());
  CHECK(r.cache() == e.listing("/p/"));
}

TEST_CASE("reflector re-lists after compaction and emits exactly the differences") {
  Env e;
  e.put("/p/a", "1");
  e.put("/p/b", "1");
  e.put("/p/c", "1");
  Reflector r(e.kv, "/p/", e.fast);
  REQUIRE(e.sync(r.next()).value().changes.size() == 3);
  // The consumer lags while the store changes and compacts the history it would need.
  e.put("/p/a", "2");
  e.del("/p/b");
  e.put("/p/d", "1");
  e.put("/p/e", "1");
  e.del("/p/e");
  e.put("/q/x", "outside");
  REQUIRE(e.kv.compact(e.kv.revision()).has_value());
  auto b = e.sync(r.next()).value();
  CHECK(b.kind == ReflectorBatch::Kind::resync);
  CHECK(describe(b) == std::vector<std::string>{"put /p/a=2", "del /p/b", "put /p/d=1"});
  CHECK(b.changes[1].kv.mod_revision == e.kv.revision());  // seen gone at the re-list
  CHECK(r.relists() == 1);
  CHECK(r.cache() == e.listing("/p/"));
  CHECK(r.revision() == e.kv.revision());
  // The watch goes on from the re-list.
  e.put("/p/f", "1");
  auto u = e.sync(r.next()).value();
  CHECK(u.kind == ReflectorBatch::Kind::update);
  CHECK(describe(u) == std::vector<std::string>{"put /p/f=1"});
}

TEST_CASE("a re-list finds changed keys by revision, not by value") {
  Env e;
  e.put("/p/a", "1");
  e.put("/p/b", "1");
  Reflector r(e.kv, "/p/", e.fast);
  REQUIRE(e.sync(r.next()).value().changes.size() == 2);
  // /p/a is written again with the same value: a change all the same.
  e.put("/p/a", "1");
  e.put("/p/c", "1");
  REQUIRE(e.kv.compact(e.kv.revision()).has_value());
  auto b = e.sync(r.next()).value();
  CHECK(b.kind == ReflectorBatch::Kind::resync);
  CHECK(describe(b) == std::vector<std::string>{"put /p/a=1", "put /p/c=1"});
  CHECK(r.cache() == e.listing("/p/"));
}

TEST_CASE("reflector delivers a burst of 10000 writes in order with nothing lost") {
  Env e;
  Reflector r(e.kv, "/b/", e.fast);
  REQUIRE(e.sync(r.next()).has_value());
  std::vector<std::string> expected;
  std::vector<Change> got;
  bool batches_ordered = true;
  Revision last = 0;
  auto consumer = testing::spawn(e.io, r.run([&](const ReflectorBatch& b) {
    for (const auto& c : b.changes) {
      batches_ordered &= c.kv.mod_revision >= last;
      last = c.kv.mod_revision;
      got.push_back(c);
    }
  }));
  auto writer = [&]() -> Task<void> {
    std::set<std::string> live;
    for (int i = 0; i < 10000; ++i) {
      auto key = "/b/k" + std::to_string(i % 97);
      if (i % 7 == 0) {
        auto n = co_await e.kv.del(key);
        REQUIRE(n.has_value());
        if (live.erase(key) != 0) expected.push_back("del " + key);
      } else {
        REQUIRE((co_await e.kv.put(key, std::to_string(i))).has_value());
        live.insert(key);
        expected.push_back("put " + key + "=" + std::to_string(i));
      }
      if (i % 50 == 0) REQUIRE((co_await e.kv.put("/c/other", "x")).has_value());
    }
  };
  // A failed REQUIRE inside the writer throws out of run_until and ends the test there.
  auto wrote = testing::spawn(e.io, writer());
  REQUIRE(run_until(
      e.io, [&] { return wrote->done; }, 30s));
  REQUIRE(run_until(
      e.io, [&] { return got.size() >= expected.size(); }, 10s));
  r.cancel();
  REQUIRE(run_until(
      e.io, [&] { return consumer->done; }, 1s));
  REQUIRE(got.size() == expected.size());
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < got.size(); ++i) mismatches += describe(got[i]) != expected[i];
  CHECK(mismatches == 0);
  CHECK(batches_ordered);
  CHECK(r.relists() == 0);
  CHECK(r.cache() == e.listing("/b/"));
}

TEST_CASE("reflector retries a failing list with backoff") {
  Env e;
  e.put("/p/a", "1");
  e.kv.fail_next(3, Errc::unavailable);
  Reflector r(e.kv, "/p/", e.fast);
  auto b = e.sync(r.next()).value();
  CHECK(describe(b) == std::vector<std::string>{"put /p/a=1"});
}

TEST_CASE("reflector keeps retrying while the store is unavailable") {
  Env e;
  e.kv.set_available(false);
  Reflector r(e.kv, "/p/", e.fast);
  auto pending = testing::spawn(e.io, r.next());
  testing::advance_clock(e.io, 1s);  // a hundred retries at the capped backoff, all failing
  CHECK_FALSE(pending->done);
  e.kv.set_available(true);
  REQUIRE(run_until(
      e.io, [&] { return pending->done; }, 1s));
  CHECK(pending->value->has_value());
}

TEST_CASE("cancel ends a pending next() with cancelled") {
  Env e;
  Reflector r(e.kv, "/p/", e.fast);
  REQUIRE(e.sync(r.next()).has_value());
  auto pending = testing::spawn(e.io, r.next());
  e.put("/q/outside", "x");
  CHECK_FALSE(pending->done);
  r.cancel();
  REQUIRE(run_until(
      e.io, [&] { return pending->done; }, 1s));
  CHECK(pending->value->error().code == Errc::cancelled);
  CHECK(e.sync(r.next()).error().code == Errc::cancelled);
}

TEST_CASE("cancel during a backoff ends next() promptly") {
  Env e;
  e.kv.set_available(false);
  Reflector r(e.kv, "/p/", ReflectorOptions{10s, 10s});
  auto pending = testing::spawn(e.io, r.next());
  testing::advance_clock(e.io, 5s);  // into the first 10 s backoff
  CHECK_FALSE(pending->done);
  r.cancel();
  REQUIRE(run_until(
      e.io, [&] { return pending->done; }, 1s));
  CHECK(pending->value->error().code == Errc::cancelled);
}

TEST_CASE("a next() abandoned by its caller loses nothing") {
  Env e;
  Reflector r(e.kv, "/p/", e.fast);
  REQUIRE(e.sync(r.next()).has_value());
  auto race = [&]() -> Task<std::size_t> {
    using namespace boost::asio::experimental::awaitable_operators;
    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, 5ms);
    auto v = co_await (r.next() || t.async_wait(boost::asio::use_awaitable));
    co_return v.index();
  };
  CHECK(e.sync(race()) == 1);  // the timer won; next() was cancelled while waiting
  e.put("/p/a", "1");
  auto b = e.sync(r.next()).value();
  CHECK(describe(b) == std::vector<std::string>{"put /p/a=1"});
}
