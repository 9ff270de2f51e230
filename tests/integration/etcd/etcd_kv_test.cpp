// EtcdKv against one real etcd member: KV, txn, lease and watch behaviour as a user sees it.
#include <doctest/doctest.h>
#include <unistd.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "registry/registry.h"
#include "tests/harness/wait.h"
#include "tests/integration/etcd/etcd_fixture.h"

using namespace fleet;
using namespace fleet::registry;
using namespace fleet::testing;
using namespace std::chrono_literals;

namespace {

EtcdOptions single(const char* label, std::vector<std::string> extra = {}) {
  EtcdOptions o;
  o.label = label;
  o.extra_args = std::move(extra);
  return o;
}

RangeRequest prefix(std::string p) {
  RangeRequest r;
  r.range_end = prefix_end(p);
  r.key = std::move(p);
  return r;
}

// Collects every batch of `w` until it fails (cancelled) into `out`.
Task<void> drain(Watcher& w, std::vector<WatchBatch>& out, Error& end) {
  while (true) {
    auto b = co_await w.next();
    if (!b) {
      end = b.error();
      co_return;
    }
    out.push_back(std::move(b).value());
  }
}

std::vector<Event> events_of(const std::vector<WatchBatch>& batches) {
  std::vector<Event> all;
  for (const auto& b : batches) all.insert(all.end(), b.events.begin(), b.events.end());
  return all;
}

}  // namespace

TEST_CASE("put, range and delete round-trip keys and binary values") {
  EtcdFixture f(single("kv"));
  std::string binary("v\0\xff\n", 4);
  auto r1 = f.run(f.kv->put("/t/a", "1"));
  REQUIRE(r1);
  auto r2 = f.run(f.kv->put("/t/b", binary));
  REQUIRE(r2);
  CHECK(r2.value() == r1.value() + 1);
  REQUIRE(f.run(f.kv->put("/t/c", "3")));
  REQUIRE(f.run(f.kv->put("/u", "outside")));

  RangeRequest one;
  one.key = "/t/b";
  auto got = f.run(f.kv->range(one));
  REQUIRE(got);
  REQUIRE(got.value().kvs.size() == 1);
  CHECK(got.value().kvs[0].value == binary);
  CHECK(got.value().kvs[0].create_revision == r2.value());
  CHECK(got.value().kvs[0].version == 1);

  auto all = f.run(f.kv->range(prefix("/t/")));
  REQUIRE(all);
  REQUIRE(all.value().kvs.size() == 3);
  CHECK(all.value().kvs[0].key == "/t/a");
  CHECK(all.value().kvs[2].key == "/t/c");
  CHECK(all.value().count == 3);
  CHECK(all.value().revision == r2.value() + 2);

  auto limited = prefix("/t/");
  limited.limit = 2;
  auto lim = f.run(f.kv->range(limited));
  REQUIRE(lim);
  CHECK(lim.value().kvs.size() == 2);
  CHECK(lim.value().more);
  CHECK(lim.value().count == 3);

  auto counted = prefix("/t/");
  counted.count_only = true;
  CHECK(f.run(f.kv->range(counted)).value().count == 3);
  CHECK(f.run(f.kv->range(counted)).value().kvs.empty());

  auto keys = prefix("/t/");
  keys.keys_only = true;
  CHECK(f.run(f.kv->range(keys)).value().kvs.at(1).value.empty());

  REQUIRE(f.run(f.kv->put("/t/a", "1b")));
  RangeRequest old;
  old.key = "/t/a";
  old.revision = r1.value();
  CHECK(f.run(f.kv->range(old)).value().kvs.at(0).value == "1");  // MVCC read of the past

  RangeRequest missing;
  missing.key = "/t/none";
  auto none = f.run(f.kv->range(missing));
  REQUIRE(none);
  CHECK(none.value().kvs.empty());
  CHECK(none.value().count == 0);

  auto deleted = f.run(f.kv->del("/t/", prefix_end("/t/")));
  REQUIRE(deleted);
  CHECK(deleted.value() == 3);
  CHECK(f.run(f.kv->range(prefix("/t/"))).value().kvs.empty());
  CHECK(f.run(f.kv->del("/t/a")).value() == 0);

  auto empty_key = f.run(f.kv->put("", "x"));
  REQUIRE_FALSE(empty_key);
  CHECK(empty_key.error().code == Errc::invalid_argument);
}

TEST_CASE("txn compares decide the branch and return its results") {
  EtcdFixture f(single("txn"));
  TxnRequest lock;
  lock.compare = {Compare::absent("/lock")};
  lock.success = {Op::put("/lock", "A")};
  lock.failure = {Op::get("/lock")};
  auto first = f.run(f.kv->txn(lock));
  REQUIRE(first);
  CHECK(first.value().succeeded);
  CHECK(first.value().results.size() == 1);

  lock.success = {Op::put("/lock", "B")};
  auto second = f.run(f.kv->txn(lock));
  REQUIRE(second);
  CHECK_FALSE(second.value().succeeded);
  REQUIRE(second.value().results.size() == 1);
  const auto& holder = second.value().results[0].range.kvs.at(0);
  CHECK(holder.value == "A");

  TxnRequest cas;
  cas.compare = {Compare::mod_revision_is("/lock", holder.mod_revision),
                 Compare::value_is("/lock", "A")};
  cas.success = {Op::put("/lock", "C"), Op::put("/other", "x"), Op::del("/nothing")};
  auto swapped = f.run(f.kv->txn(cas));
  REQUIRE(swapped);
  CHECK(swapped.value().succeeded);
  CHECK(swapped.value().revision == holder.mod_revision + 1);  // all ops in one revision
  CHECK(swapped.value().results.at(2).deleted == 0);
  CHECK_FALSE(f.run(f.kv->txn(cas)).value().succeeded);  // stale mod_revision

  TxnRequest dup;
  dup.success = {Op::put("/d", "1"), Op::put("/d", "2")};
  auto dup_r = f.run(f.kv->txn(dup));
  REQUIRE_FALSE(dup_r);
  CHECK(dup_r.error().code == Errc::invalid_argument);

  TxnRequest big;
  for (std::size_t i = 0; i <= f.kv->max_txn_ops(); ++i) {
    big.success.push_back(Op::put("/big/" + std::to_string(i), "v"));
  }
  CHECK(f.run(f.kv->txn(big)).error().code == Errc::invalid_argument);
  big.success.pop_back();
  CHECK(f.run(f.kv->txn(big)).value().succeeded);
  CHECK(f.run(f.kv->range(prefix("/big/"))).value().count ==
        static_cast<std::int64_t>(f.kv->max_txn_ops()));
}

TEST_CASE("leases attach keys, keep alive and take their keys along when revoked") {
  EtcdFixture f(single("lease"));
  auto lease = f.run(f.kv->lease_grant(30s));
  REQUIRE(lease);
  CHECK(lease.value() != 0);
  REQUIRE(f.run(f.kv->put("/m/1", "alive", lease.value())));
  RangeRequest key;
  key.key = "/m/1";
  CHECK(f.run(f.kv->range(key)).value().kvs.at(0).lease == lease.value());
  auto ttl = f.run(f.kv->lease_keepalive(lease.value()));
  REQUIRE(ttl);
  CHECK(ttl.value() > 0s);
  CHECK(ttl.value() <= 30s);

  REQUIRE(f.run(f.kv->lease_revoke(lease.value())));
  CHECK(f.run(f.kv->range(key)).value().kvs.empty());
  CHECK(f.run(f.kv->lease_keepalive(lease.value())).error().code == Errc::not_found);
  CHECK(f.run(f.kv->lease_revoke(lease.value())).error().code == Errc::not_found);
  CHECK(f.run(f.kv->put("/m/2", "x", lease.value())).error().code == Errc::not_found);
}

TEST_CASE("thousands of leases on one client are kept alive by a few keep-alive requests") {
  // 5,000 simulated agents on one client once opened a connection per keep-alive (issue #14).
  EtcdCluster etcd(single("many-leases"));
  boost::asio::io_context ioc;
  std::size_t requests = 0;
  EtcdConfig config;
  config.endpoints = etcd.endpoints();
  config.on_request = [&](std::string_view op, double, bool) {
    if (op == "keepalive") ++requests;
  };
  auto kv = make_etcd_kv(ioc, config);
  std::vector<LeaseId> leases;
  for (int i = 0; i < 1200; ++i) {
    auto l = run_sync(ioc, kv->lease_grant(30s), 10s);
    REQUIRE(l);
    leases.push_back(l.value());
  }
  REQUIRE(run_sync(ioc, kv->lease_revoke(leases[1100]), 10s));
  std::vector<std::shared_ptr<Spawned<Result<std::chrono::seconds>>>> calls;
  for (auto id : leases) calls.push_back(spawn(ioc, kv->lease_keepalive(id)));
  REQUIRE(run_until(
      ioc,
      [&] {
        return std::all_of(calls.begin(), calls.end(), [](const auto& c) { return c->done; });
      },
      20s));
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const auto& r = *calls[i]->value;
    if (i == 1100) {
      CHECK(r.error().code == Errc::not_found);
    } else if (!r) {
      FAIL_CHECK("lease " << i << ": " << r.error().describe());
    } else {
      CHECK(r.value() > 0s);
    }
  }
  // 1,200 keep-alives in batches of at most 8, 32 requests at a time; the gateway may answer
  // a batch in part (it stops reading the body once it answers), the rest goes again.
  MESSAGE("keep-alive requests for 1,200 leases: " << requests);
  CHECK(requests >= 1200 / 8);
  CHECK(requests <= 600);
}

TEST_CASE("a lease whose keep-alive stops expires and its keys vanish") {
  EtcdFixture f(single("expiry"));
  auto lease = f.run(f.kv->lease_grant(2s));
  REQUIRE(lease);
  auto rev = f.run(f.kv->put("/m/a", "x", lease.value()));
  REQUIRE(rev);
  REQUIRE(f.run(f.kv->lease_keepalive(lease.value())));

  WatchRequest wr;
  wr.key = "/m/a";
  wr.start_revision = rev.value() + 1;
  wr.prev_kv = true;
  auto w = f.kv->watch(wr);
  std::vector<WatchBatch> batches;
  Error end;
  spawn(f.ioc, drain(*w, batches, end));
  // No keep-alive from here on: etcd must drop the key within TTL plus its checking slack.
  REQUIRE(run_until(
      f.ioc, [&] { return !events_of(batches).empty(); }, 10s));
  auto events = events_of(batches);
  REQUIRE(events.size() == 1);
  CHECK(events[0].type == Event::Type::del);
  CHECK(events[0].kv.key == "/m/a");
  REQUIRE(events[0].prev_kv.has_value());
  CHECK(events[0].prev_kv->value == "x");
  RangeRequest key;
  key.key = "/m/a";
  CHECK(f.run(f.kv->range(key)).value().kvs.empty());
  CHECK(f.run(f.kv->lease_keepalive(lease.value())).error().code == Errc::not_found);
  w->cancel();
  REQUIRE(run_until(
      f.ioc, [&] { return end.code == Errc::cancelled; }, 5s));
}

TEST_CASE("watch replays history from a revision, then delivers live events in order") {
  EtcdFixture f(single("watch"));
  auto start = f.run(f.kv->put("/w/a", "1")).value();
  REQUIRE(f.run(f.kv->put("/w/b", "2")));
  REQUIRE(f.run(f.kv->put("/x", "not watched")));

  WatchRequest wr;
  wr.key = "/w/";
  wr.range_end = prefix_end("/w/");
  wr.start_revision = start;
  wr.prev_kv = true;
  auto w = f.kv->watch(wr);
  std::vector<WatchBatch> batches;
  Error end;
  spawn(f.ioc, drain(*w, batches, end));
  REQUIRE(run_until(
      f.ioc, [&] { return events_of(batches).size() == 2; }, 10s));

  REQUIRE(f.run(f.kv->put("/w/a", "1b")));
  REQUIRE(f.run(f.kv->del("/w/b")));
  TxnRequest both;
  both.success = {Op::put("/w/c", "3"), Op::put("/w/d", "4")};
  REQUIRE(f.run(f.kv->txn(both)));
  REQUIRE(run_until(
      f.ioc, [&] { return events_of(batches).size() == 6; }, 10s));

  auto ev = events_of(batches);
  CHECK(ev[0].kv.key == "/w/a");
  CHECK(ev[0].kv.mod_revision == start);
  CHECK(ev[1].kv.key == "/w/b");
  CHECK(ev[2].type == Event::Type::put);
  CHECK(ev[2].kv.value == "1b");
  CHECK(ev[2].prev_kv->value == "1");
  CHECK(ev[3].type == Event::Type::del);
  CHECK(ev[3].kv.key == "/w/b");
  CHECK(ev[3].prev_kv->value == "2");
  CHECK(ev[4].kv.mod_revision == ev[5].kv.mod_revision);  // one txn, one revision
  for (std::size_t i = 1; i < ev.size(); ++i)
    CHECK(ev[i - 1].kv.mod_revision <= ev[i].kv.mod_revision);
  for (const auto& b : batches) CHECK_FALSE(b.events.empty());

  w->cancel();
  REQUIRE(run_until(
      f.ioc, [&] { return end.code == Errc::cancelled; }, 5s));
  CHECK(end.code == Errc::cancelled);
}

namespace {

// Waits for `w` at most `times` times 100 ms, abandoning each wait the way the engine's follower
// does (`next() || timer`); returns how many waits ended by the timer.
Task<int> abandon_waits(Watcher& w, int times) {
  using namespace boost::asio::experimental::awaitable_operators;
  int abandoned = 0;
  for (int i = 0; i < times; ++i) {
    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, 100ms);
    auto r = co_await (w.next() || t.async_wait(boost::asio::use_awaitable));
    abandoned += r.index() == 1;
  }
  co_return abandoned;
}

// Everything written to stderr (where the log goes) while `f` runs.
template <class F>
std::string stderr_of(F&& f) {
  std::string path = test_data_dir() + "/stderr-capture.txt";
  std::fflush(stderr);
  int saved = ::dup(2);
  FILE* file = std::fopen(path.c_str(), "w");
  ::dup2(::fileno(file), 2);
  f();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::fclose(file);
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("an abandoned wait on a watch is no failure and loses no event") {
  EtcdFixture f(single("abandon"));
  WatchRequest wr;
  wr.key = "/a/";
  wr.range_end = prefix_end("/a/");
  auto w = f.kv->watch(wr);
  int abandoned = 0;
  auto log = stderr_of([&] { abandoned = f.run(abandon_waits(*w, 5)); });
  CHECK(abandoned == 5);
  CHECK_MESSAGE(log.find("watch stream failed") == std::string::npos, log);
  auto rev = f.run(f.kv->put("/a/x", "1")).value();
  auto b = f.run(w->next(), 10s);
  REQUIRE(b);
  REQUIRE(b.value().events.size() == 1);
  CHECK(b.value().events[0].kv.mod_revision == rev);
}

TEST_CASE("a watch from a compacted revision reports compact_revision and ends") {
  EtcdFixture f(single("compact"));
  auto first = f.run(f.kv->put("/c/a", "1")).value();
  REQUIRE(f.run(f.kv->put("/c/a", "2")));
  auto last = f.run(f.kv->put("/c/a", "3")).value();
  REQUIRE(f.run(f.kv->compact(last)));

  RangeRequest old;
  old.key = "/c/a";
  old.revision = first;
  auto gone = f.run(f.kv->range(old));
  REQUIRE_FALSE(gone);
  CHECK(gone.error().message.find("compacted") != std::string::npos);

  WatchRequest wr;
  wr.key = "/c/a";
  wr.start_revision = first;
  auto w = f.kv->watch(wr);
  auto b = f.run(w->next());
  REQUIRE(b);
  CHECK(b.value().events.empty());
  CHECK(b.value().compact_revision == last);
  CHECK(f.run(w->next()).error().code == Errc::cancelled);
}

TEST_CASE("an idle watch gets progress notifications at the current revision") {
  EtcdFixture f(single("progress", {"--experimental-watch-progress-notify-interval=300ms"}));
  auto rev = f.run(f.kv->put("/p/a", "1")).value();
  WatchRequest wr;
  wr.key = "/p/";
  wr.range_end = prefix_end("/p/");
  wr.start_revision = rev + 1;
  auto w = f.kv->watch(wr);
  auto b = f.run(w->next(), 10s);
  REQUIRE(b);
  CHECK(b.value().events.empty());
  CHECK(b.value().compact_revision == 0);
  CHECK(b.value().revision >= rev);
}

TEST_CASE("cancel ends a pending next() with Errc::cancelled") {
  EtcdFixture f(single("cancel"));
  WatchRequest wr;
  wr.key = "/idle";
  auto w = f.kv->watch(wr);
  std::vector<WatchBatch> batches;
  Error end;
  auto drained = spawn(f.ioc, drain(*w, batches, end));
  // A round trip on the same loop lets the watch open its stream and park in its read.
  REQUIRE(f.run(f.kv->put("/other", "x")));
  w->cancel();
  REQUIRE(run_until(
      f.ioc, [&] { return drained->done; }, 5s));
  CHECK(end.code == Errc::cancelled);
  CHECK(batches.empty());
}

TEST_CASE("a dead endpoint is skipped and all-dead endpoints fail as unavailable in time") {
  EtcdFixture f(single("failover"));
  auto dead = "http://127.0.0.1:" + std::to_string(free_ports(1).at(0));
  auto kv = make_etcd_kv(f.ioc, std::vector<std::string>{dead, f.etcd.endpoint(0)});
  CHECK(f.run(kv->put("/k", "v")));
  RangeRequest k;
  k.key = "/k";
  CHECK(f.run(kv->range(k)).value().kvs.at(0).value == "v");

  EtcdConfig cfg;
  cfg.endpoints = {dead};
  cfg.request_timeout = 500ms;
  auto nothing = make_etcd_kv(f.ioc, cfg);
  auto t0 = std::chrono::steady_clock::now();
  auto r = f.run(nothing->put("/k", "v"));
  auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::unavailable);
  CHECK(took < 2s);
  CHECK(f.run(nothing->range(k)).error().code == Errc::unavailable);
}

TEST_CASE("a stopped and restarted member is used again through pooled connections") {
  EtcdFixture f(single("restart"));
  REQUIRE(f.run(f.kv->put("/r", "1")));
  f.etcd.restart(0);                     // kill -9, start from its data dir
  auto r = f.run(f.kv->put("/r", "2"));  // the pooled connection is dead: must not matter
  REQUIRE(r);
  RangeRequest k;
  k.key = "/r";
  CHECK(f.run(f.kv->range(k)).value().kvs.at(0).value == "2");
}

TEST_CASE("the registry's many-unit calls work on real etcd beyond one txn's 128 operations") {
  EtcdFixture f(single("batch"));
  Registry reg{*f.kv, "/fleet/"};
  const int n = 300;
  std::vector<std::string> names, hashes;
  std::vector<std::pair<std::string, TargetState>> changes;
  for (int i = 0; i < n; ++i) {
    names.push_back("u" + std::to_string(i) + ".service");
    hashes.push_back("h" + std::to_string(i));
    changes.emplace_back(names.back(), TargetState::launched);
    REQUIRE(f.run(reg.create_unit({names.back(), hashes.back(), TargetState::inactive, 0},
                                  "content " + std::to_string(i))));
  }
  changes.emplace_back("unknown.service", TargetState::launched);
  auto set = f.run(reg.set_desired_states(changes));
  REQUIRE(set.size() == changes.size());
  for (int i = 0; i < n; ++i) CHECK(set[i]);
  CHECK(set[n].error().code == Errc::not_found);
  auto units = f.run(reg.list_units());
  REQUIRE(units);
  REQUIRE(units.value().size() == static_cast<std::size_t>(n));
  for (const auto& u : units.value()) CHECK(u.desired == TargetState::launched);

  auto contents = f.run(reg.get_contents(hashes));
  REQUIRE(contents);
  CHECK(contents.value().size() == static_cast<std::size_t>(n));
  CHECK(contents.value().at("h299") == "content 299");

  names.push_back("unknown.service");
  auto destroyed = f.run(reg.destroy_units(names));
  REQUIRE(destroyed.size() == names.size());
  for (int i = 0; i < n; ++i) CHECK(destroyed[i]);
  CHECK(destroyed[n].error().code == Errc::not_found);
  auto left = f.run(reg.list_units());
  REQUIRE(left);
  CHECK(left.value().empty());
}

// Assignments carry unit texts of up to 4 KiB, which JSON escaping can grow six times; 128 of
// them in one txn were ~3 MiB, which etcd refuses (1.5 MiB). The engine's writes are split by
// bytes as well as by operations, so such a plan is written, and read back whole.
TEST_CASE("a plan of 128 assignments with 4 KiB of hard-to-escape text each is written") {
  EtcdFixture f(single("big-plan"));
  Registry reg{*f.kv, "/fleet/"};
  auto lease = f.run(f.kv->lease_grant(std::chrono::seconds(60)));
  REQUIRE(lease);
  REQUIRE(f.run(reg.campaign("engine", lease.value())).value());
  const std::string text(kInlineContentBytes, '\x01');  // "\u0001" in JSON: 6 bytes each
  ScheduleBatch batch = reg.schedule_batch();
  for (int i = 0; i < 128; ++i)
    batch.assign({"u" + std::to_string(i) + ".service", "m1", "h", TargetState::launched, text});
  REQUIRE(f.run(reg.apply(std::move(batch), lease.value())));
  auto written = f.run(reg.list_assignments("m1"));
  REQUIRE(written);
  REQUIRE(written.value().size() == 128);
  CHECK(written.value()[0].content == text);
}
