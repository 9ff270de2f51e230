// EtcdKv against a real 3-member etcd cluster whose members are killed (-9) and restarted.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "tests/integration/etcd/etcd_fixture.h"

using namespace fleet;
using namespace fleet::registry;
using namespace fleet::testing;
using namespace std::chrono_literals;

namespace {

EtcdOptions three(const char* label) {
  EtcdOptions o;
  o.members = 3;
  o.label = label;
  return o;
}

// Client endpoints with `first` in front, so calls and watches start on that member.
std::vector<std::string> starting_at(EtcdCluster& c, std::size_t first) {
  std::vector<std::string> eps{c.endpoint(first)};
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (i != first) eps.push_back(c.endpoint(i));
  }
  return eps;
}

std::string key_of(int i) {
  auto n = std::to_string(i);
  return std::string(4 - n.size(), '0') + n;
}

struct Writer {
  std::vector<std::string> acked;
  int errors = 0;
  int acked_after_kill = 0;
  bool killed = false;
  bool done = false;
};

// Writes distinct keys prefix+i (value "v<i>") one after another; never rewrites a key, so each
// key that exists afterwards was put exactly once.
Task<void> write_keys(KvStore& kv, std::string prefix, int n, Writer& w) {
  for (int i = 0; i < n; ++i) {
    auto key = prefix + key_of(i);
    auto r = co_await kv.put(key, "v" + std::to_string(i));
    if (r) {
      w.acked.push_back(key);
      if (w.killed) ++w.acked_after_kill;
    } else {
      ++w.errors;
      MESSAGE("write ", key, " failed: ", r.error().describe());
    }
  }
  w.done = true;
}

// Appends every event of `w` to `seen` until it ends; `failed` when it ended other than cancelled.
Task<void> collect(Watcher& w, std::vector<Event>& seen, bool& failed) {
  while (true) {
    auto b = co_await w.next();
    if (!b) {
      failed = b.error().code != Errc::cancelled;
      co_return;
    }
    for (auto& e : b.value().events) seen.push_back(std::move(e));
  }
}

RangeRequest prefix(std::string p) {
  RangeRequest r;
  r.range_end = prefix_end(p);
  r.key = std::move(p);
  return r;
}

}  // namespace

TEST_CASE("writes keep working through the survivors when the leader is killed") {
  EtcdFixture f(three("kill-leader"));
  auto leader = f.etcd.leader();
  REQUIRE(leader.has_value());
  auto kv = make_etcd_kv(f.ioc, starting_at(f.etcd, *leader));

  Writer w;
  spawn(f.ioc, write_keys(*kv, "/w/", 300, w));
  REQUIRE(run_until(
      f.ioc, [&] { return w.acked.size() >= 50; }, 30s));
  f.etcd.kill(*leader);
  w.killed = true;
  REQUIRE(run_until(
      f.ioc, [&] { return w.done; }, 90s));

  MESSAGE("acked ", w.acked.size(), " of 300, errors ", w.errors);
  CHECK(w.errors <= 5);  // only writes in flight around the election may have an unknown outcome
  CHECK(w.acked_after_kill >= 240);

  // Every acknowledged write is there, read through a fresh client on the survivors.
  std::vector<std::string> survivors;
  for (std::size_t i = 0; i < f.etcd.size(); ++i) {
    if (i != *leader) survivors.push_back(f.etcd.endpoint(i));
  }
  auto reader = make_etcd_kv(f.ioc, survivors);
  auto all = f.run(reader->range(prefix("/w/")));
  REQUIRE(all);
  std::set<std::string> present;
  for (const auto& kv_ : all.value().kvs) present.insert(kv_.key);
  int missing = 0;
  for (const auto& k : w.acked) missing += present.count(k) == 0 ? 1 : 0;
  CHECK(missing == 0);
}

TEST_CASE("a watch delivers every event exactly once and in order across a leader kill") {
  EtcdFixture f(three("kill-watch"));
  auto leader = f.etcd.leader();
  REQUIRE(leader.has_value());
  auto kv = make_etcd_kv(f.ioc, starting_at(f.etcd, *leader));
  auto start = f.run(kv->put("/start", "")).value();

  WatchRequest wr;
  wr.key = "/e/";
  wr.range_end = prefix_end("/e/");
  wr.start_revision = start + 1;
  auto watcher = kv->watch(wr);
  std::vector<Event> seen;
  bool watch_failed = false;
  spawn(f.ioc, collect(*watcher, seen, watch_failed));

  Writer w;
  spawn(f.ioc, write_keys(*kv, "/e/", 200, w));
  REQUIRE(run_until(
      f.ioc, [&] { return seen.size() >= 50; }, 30s));
  f.etcd.kill(*leader);  // the watch stream and the writes were on the leader
  w.killed = true;
  REQUIRE(run_until(
      f.ioc, [&] { return w.done; }, 90s));
  MESSAGE("acked ", w.acked.size(), " of 200, errors ", w.errors);

  auto final_state = f.run(kv->range(prefix("/e/")));
  REQUIRE(final_state);
  std::map<std::string, Revision> expected;
  Revision last = 0;
  for (const auto& k : final_state.value().kvs) {
    expected[k.key] = k.mod_revision;
    last = std::max(last, k.mod_revision);
  }
  REQUIRE(run_until(
      f.ioc, [&] { return !seen.empty() && seen.back().kv.mod_revision >= last; }, 30s));
  watcher->cancel();

  CHECK_FALSE(watch_failed);
  CHECK(seen.size() == expected.size());
  std::set<std::string> keys;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    const auto& e = seen[i];
    CHECK(e.type == Event::Type::put);
    CHECK(keys.insert(e.kv.key).second);  // exactly once
    auto it = expected.find(e.kv.key);
    REQUIRE(it != expected.end());
    CHECK(it->second == e.kv.mod_revision);
    if (i > 0) CHECK(seen[i - 1].kv.mod_revision < e.kv.mod_revision);  // in order
  }
  for (const auto& k : w.acked) CHECK(expected.count(k) == 1);
}

TEST_CASE("a killed and restarted member catches up and serves again") {
  EtcdFixture f(three("restart"));
  auto kv = make_etcd_kv(f.ioc, f.etcd.endpoints());
  REQUIRE(f.run(kv->put("/r/before", "1")));
  f.etcd.kill(0);
  // Member 0 may have been the leader: until a new one is elected a put can fail (or have an
  // unknown outcome); a put is idempotent, so retry it as a caller would, within a deadline.
  for (int i = 0; i < 20; ++i) {
    bool stored = false;
    for (int attempt = 0; attempt < 10 && !stored; ++attempt)
      stored = f.run(kv->put("/r/down" + key_of(i), "x")).has_value();
    REQUIRE(stored);
  }
  f.etcd.restart(0);

  // With a follower other than member 0 gone too, quorum needs the restarted member 0.
  auto leader = f.etcd.leader();
  REQUIRE(leader.has_value());
  std::size_t other = *leader == 1 ? 2 : 1;
  f.etcd.kill(other);
  auto after = f.run(kv->put("/r/after", "3"), 30s);
  if (!after) MESSAGE(after.error().describe());
  REQUIRE(after);
  auto only0 = make_etcd_kv(f.ioc, std::vector<std::string>{f.etcd.endpoint(0)});
  auto all = f.run(only0->range(prefix("/r/")));
  REQUIRE(all);
  CHECK(all.value().count == 22);
  CHECK(all.value().kvs.back().key == "/r/down0019");
  CHECK(all.value().kvs.front().key == "/r/after");
}
