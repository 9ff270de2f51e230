#pragma once
// The KvStore contract suite: etcd v3 semantics every backend must show, so the in-memory fake
// cannot drift from etcd. It runs on MemoryKv (registry_test, unit) and on EtcdKv against a real
// etcd (integration).
//
// How to instantiate it for a backend, in exactly one .cpp of a doctest binary:
//
//   #include "registry/testing/kv_contract.h"
//   struct EtcdFixture {
//     EtcdFixture();                          // a backend this test case has to itself
//     boost::asio::io_context& io();          // the loop the backend runs on
//     fleet::registry::KvStore& kv();
//     // Compacts the backend's history up to `rev` (etcd: POST /v3/kv/compaction).
//     fleet::registry::Task<fleet::Status> compact(fleet::registry::Revision rev);
//   };
//   FLEET_KV_CONTRACT(EtcdFixture);
//
// A fixture object is created per test case; it may share one backend between cases (each case
// first deletes everything under "/contract/", where all its keys live). The suite asserts
// revisions relative to the ones it observes, so a backend that was written to before is fine,
// but no one else may write while a case runs (compaction in one case also compacts what others
// wrote).
//
// Error codes the suite expects (etcd's gRPC code in brackets): empty key, duplicate key in a
// txn, too many txn ops [3] and a range at a compacted or future revision [11] ->
// invalid_argument; an unknown lease on put/txn/revoke [5] and a keepalive answered without a
// TTL -> not_found; the compacted error's message keeps etcd's text "required revision has been
// compacted". A watch with start_revision 0 may start whenever the backend connects, so the
// cases always pass an explicit start_revision.
//
// One case ("lease expires after its TTL (slow, real TTL)") uses a real 1 s TTL, which etcd
// raises to its 2 s minimum, and waits for the expiry with a 15 s deadline on every backend.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/testing/run.h"
#include "registry/kv.h"

namespace fleet::registry::contract {

// Runs one awaitable to completion on the fixture's loop.
template <class F, class T>
T sync(F& f, Task<T> t) {
  return fleet::testing::run_sync(f.io(), std::move(t));
}

template <class F>
KeyValue get_one(F& f, const std::string& key, Revision rev = 0) {
  RangeRequest req;
  req.key = key;
  req.revision = rev;
  auto r = sync(f, f.kv().range(req));
  REQUIRE(r.has_value());
  REQUIRE(r.value().kvs.size() == 1);
  return r.value().kvs[0];
}

template <class F>
bool absent(F& f, const std::string& key) {
  RangeRequest req;
  req.key = key;
  auto r = sync(f, f.kv().range(req));
  REQUIRE(r.has_value());
  return r.value().count == 0 && r.value().kvs.empty();
}

// Pulls batches until `n` events have arrived; checks batch-level invariants on the way.
template <class F>
std::vector<Event> collect(F& f, Watcher& w, std::size_t n,
                           std::vector<WatchBatch>* batches = nullptr) {
  std::vector<Event> out;
  while (out.size() < n) {
    auto b = sync(f, w.next());
    REQUIRE(b.has_value());
    REQUIRE(b.value().compact_revision == 0);
    for (auto& e : b.value().events) out.push_back(e);
    if (batches != nullptr) batches->push_back(b.value());
  }
  return out;
}

// The store's current revision (the header of a read).
template <class F>
Revision current_revision(F& f) {
  RangeRequest req;
  req.key = "/contract/";
  auto r = sync(f, f.kv().range(req));
  REQUIRE(r.has_value());
  return r.value().revision;
}

// Every case starts by deleting what earlier cases left under "/contract/", so a backend that is
// reused between cases (one etcd per binary) behaves like a fresh one for the keys we look at.
template <class F>
void reset(F& f) {
  auto r = sync(f, f.kv().del("/contract/", prefix_end("/contract/")));
  REQUIRE(r.has_value());
}

inline Compare cmp(std::string key, Compare::Target t, Compare::Result r, std::int64_t n) {
  return {std::move(key), t, r, n, {}};
}

}  // namespace fleet::registry::contract

// clang-format off
#define FLEET_KV_CONTRACT(Fixture)                                   \
  TEST_CASE_TEMPLATE_INVOKE(fleet_kv_put_range, Fixture);            \
  TEST_CASE_TEMPLATE_INVOKE(fleet_kv_delete_recreate, Fixture);      \
  TEST_CASE_TEMPLATE_INVOKE(fleet_kv_range_options, Fixture);        \
  TEST_CASE_TEMPLATE_INVOKE(fleet_kv_range_min_mod, Fixture);        \
  TEST_CASE_TEMPLATE_INVOKE(fleet_kv_invalid, Fixture);              \
  TEST_CASE_TEMPLATE_INVOKE(fleet_kv_history, Fixture);              \
  TEST_CASE_TEMPLATE_INVOKE(fleet_kv_compaction, Fixture);           \
  TEST_CASE_TEMPLATE_INVOKE(fleet_kv_txn_compares, Fixture);         \
  TEST_CASE_TEMPLATE_INVOKE(fleet_kv_txn_ops, Fixture);              \
  TEST_CASE_TEMPLATE_INVOKE(fleet_kv_txn_limits, Fixture);           \
  TEST_CASE_TEMPLATE_INVOKE(fleet_kv_leases, Fixture);               \
  TEST_CASE_TEMPLATE_INVOKE(fleet_kv_lease_ttl, Fixture);            \
  TEST_CASE_TEMPLATE_INVOKE(fleet_kv_watch_live, Fixture);           \
  TEST_CASE_TEMPLATE_INVOKE(fleet_kv_watch_replay, Fixture);         \
  TEST_CASE_TEMPLATE_INVOKE(fleet_kv_watch_cancel, Fixture)
// clang-format on

// ---------------------------------------------------------------------------------------------
// The cases. `F` is the fixture type; `f` a fresh fixture per case.

TEST_CASE_TEMPLATE_DEFINE("kv contract: put and range report revisions and versions", F,
                          fleet_kv_put_range) {
  using namespace fleet::registry;
  using namespace fleet::registry::contract;
  F f;
  reset(f);
  auto r1 = sync(f, f.kv().put("/contract/a", "1"));
  REQUIRE(r1.has_value());
  auto kv1 = get_one(f, "/contract/a");
  CHECK(kv1.value == "1");
  CHECK(kv1.create_revision == r1.value());
  CHECK(kv1.mod_revision == r1.value());
  CHECK(kv1.version == 1);
  CHECK(kv1.lease == 0);

  auto r2 = sync(f, f.kv().put("/contract/a", "2"));
  REQUIRE(r2.has_value());
  CHECK(r2.value() == r1.value() + 1);  // one revision per write
  auto kv2 = get_one(f, "/contract/a");
  CHECK(kv2.value == "2");
  CHECK(kv2.create_revision == r1.value());
  CHECK(kv2.mod_revision == r2.value());
  CHECK(kv2.version == 2);

  RangeRequest missing;
  missing.key = "/contract/missing";
  auto m = sync(f, f.kv().range(missing));
  REQUIRE(m.has_value());
  CHECK(m.value().kvs.empty());
  CHECK(m.value().count == 0);
  CHECK_FALSE(m.value().more);
  CHECK(m.value().revision == r2.value());  // served at the current revision
}

TEST_CASE_TEMPLATE_DEFINE("kv contract: delete then recreate restarts version and create", F,
                          fleet_kv_delete_recreate) {
  using namespace fleet::registry;
  using namespace fleet::registry::contract;
  F f;
  reset(f);
  REQUIRE(sync(f, f.kv().put("/contract/k", "a")).has_value());
  REQUIRE(sync(f, f.kv().put("/contract/k", "b")).has_value());
  auto d = sync(f, f.kv().del("/contract/k"));
  REQUIRE(d.has_value());
  CHECK(d.value() == 1);
  CHECK(absent(f, "/contract/k"));
  auto d2 = sync(f, f.kv().del("/contract/k"));
  REQUIRE(d2.has_value());
  CHECK(d2.value() == 0);
  RangeRequest any;
  any.key = "/contract/k";
  auto before = sync(f, f.kv().range(any)).value().revision;
  auto r = sync(f, f.kv().put("/contract/k", "c"));
  REQUIRE(r.has_value());
  CHECK(r.value() == before + 1);  // deleting nothing did not use a revision
  auto kv = get_one(f, "/contract/k");
  CHECK(kv.version == 1);
  CHECK(kv.create_revision == r.value());
  CHECK(kv.value == "c");
}

TEST_CASE_TEMPLATE_DEFINE("kv contract: prefix ranges are sorted and honour limit and flags", F,
                          fleet_kv_range_options) {
  using namespace fleet::registry;
  using namespace fleet::registry::contract;
  F f;
  reset(f);
  for (const char* k :
       {"/contract/p/c", "/contract/p/a", "/contract/p0", "/contract/p/b", "/contract/o"})
    REQUIRE(sync(f, f.kv().put(k, std::string("v") + k)).has_value());
  RangeRequest req;
  req.key = "/contract/p/";
  req.range_end = prefix_end("/contract/p/");
  auto all = sync(f, f.kv().range(req));
  REQUIRE(all.has_value());
  REQUIRE(all.value().kvs.size() == 3);
  CHECK(all.value().kvs[0].key == "/contract/p/a");
  CHECK(all.value().kvs[1].key == "/contract/p/b");
  CHECK(all.value().kvs[2].key == "/contract/p/c");
  CHECK(all.value().kvs[0].value == "v/contract/p/a");
  CHECK(all.value().count == 3);
  CHECK_FALSE(all.value().more);

  req.limit = 2;
  auto lim = sync(f, f.kv().range(req));
  REQUIRE(lim.has_value());
  REQUIRE(lim.value().kvs.size() == 2);
  CHECK(lim.value().kvs[1].key == "/contract/p/b");
  CHECK(lim.value().count == 3);
  CHECK(lim.value().more);

  req.limit = 0;
  req.keys_only = true;
  auto keys = sync(f, f.kv().range(req));
  REQUIRE(keys.has_value());
  REQUIRE(keys.value().kvs.size() == 3);
  CHECK(keys.value().kvs[0].value.empty());
  CHECK(keys.value().kvs[0].version == 1);

  req.keys_only = false;
  req.count_only = true;
  auto count = sync(f, f.kv().range(req));
  REQUIRE(count.has_value());
  CHECK(count.value().kvs.empty());
  CHECK(count.value().count == 3);

  RangeRequest from;  // "\0" as range end: every key from `key` on
  from.key = "/contract/p/b";
  from.range_end = std::string(1, '\0');
  auto open = sync(f, f.kv().range(from));
  REQUIRE(open.has_value());
  REQUIRE(open.value().kvs.size() >= 3);  // keys outside /contract/ may follow
  CHECK(open.value().kvs[0].key == "/contract/p/b");
  CHECK(open.value().kvs[2].key == "/contract/p0");
}

// ClusterView relies on this to prove that nothing under a prefix changed since a revision: no
// key modified since, and as many keys as then (a deletion shows in the count).
TEST_CASE_TEMPLATE_DEFINE("kv contract: min_mod_revision filters the keys but not the count", F,
                          fleet_kv_range_min_mod) {
  using namespace fleet::registry;
  using namespace fleet::registry::contract;
  F f;
  reset(f);
  REQUIRE(sync(f, f.kv().put("/contract/m/a", "1")).has_value());
  auto rb = sync(f, f.kv().put("/contract/m/b", "1"));
  REQUIRE(rb.has_value());
  auto rc = sync(f, f.kv().put("/contract/m/c", "1"));
  REQUIRE(rc.has_value());
  REQUIRE(sync(f, f.kv().put("/contract/m/a", "2")).has_value());
  RangeRequest req;
  req.key = "/contract/m/";
  req.range_end = prefix_end("/contract/m/");
  req.min_mod_revision = rc.value();
  auto since = sync(f, f.kv().range(req));
  REQUIRE(since.has_value());
  REQUIRE(since.value().kvs.size() == 2);  // c, then a rewritten: b is older
  CHECK(since.value().kvs[0].key == "/contract/m/a");
  CHECK(since.value().kvs[1].key == "/contract/m/c");
  CHECK(since.value().count == 3);  // every key in the range
  CHECK_FALSE(since.value().more);

  req.limit = 1;
  req.keys_only = true;
  auto one = sync(f, f.kv().range(req));
  REQUIRE(one.has_value());
  REQUIRE(one.value().kvs.size() == 1);
  CHECK(one.value().kvs[0].key == "/contract/m/a");
  CHECK(one.value().kvs[0].value.empty());
  CHECK(one.value().count == 3);
  CHECK(one.value().more);

  req.min_mod_revision = one.value().revision + 1;  // nothing changed since
  auto none = sync(f, f.kv().range(req));
  REQUIRE(none.has_value());
  CHECK(none.value().kvs.empty());
  CHECK(none.value().count == 3);
  CHECK_FALSE(none.value().more);

  req.min_mod_revision = rb.value();  // pinned to a past revision: the range as it was then
  req.limit = 0;
  req.revision = rb.value();
  auto past = sync(f, f.kv().range(req));
  REQUIRE(past.has_value());
  REQUIRE(past.value().kvs.size() == 1);
  CHECK(past.value().kvs[0].key == "/contract/m/b");
  CHECK(past.value().count == 2);
}

TEST_CASE_TEMPLATE_DEFINE("kv contract: empty keys and future revisions are invalid", F,
                          fleet_kv_invalid) {
  using namespace fleet::registry;
  using namespace fleet::registry::contract;
  F f;
  reset(f);
  auto p = sync(f, f.kv().put("", "x"));
  REQUIRE(p.has_error());
  CHECK(p.error().code == fleet::Errc::invalid_argument);
  RangeRequest empty;
  auto r = sync(f, f.kv().range(empty));
  REQUIRE(r.has_error());
  CHECK(r.error().code == fleet::Errc::invalid_argument);
  auto now = sync(f, f.kv().put("/contract/x", "1"));
  REQUIRE(now.has_value());
  RangeRequest future;
  future.key = "/contract/x";
  future.revision = now.value() + 1000;
  auto fr = sync(f, f.kv().range(future));
  REQUIRE(fr.has_error());
  CHECK(fr.error().code == fleet::Errc::invalid_argument);
}

TEST_CASE_TEMPLATE_DEFINE("kv contract: reads at an older revision see that revision", F,
                          fleet_kv_history) {
  using namespace fleet::registry;
  using namespace fleet::registry::contract;
  F f;
  reset(f);
  auto r1 = sync(f, f.kv().put("/contract/h", "v1")).value();
  auto r2 = sync(f, f.kv().put("/contract/h", "v2")).value();
  REQUIRE(sync(f, f.kv().del("/contract/h")).value() == 1);
  auto r4 = sync(f, f.kv().put("/contract/h2", "other")).value();
  CHECK(get_one(f, "/contract/h", r1).value == "v1");
  auto at2 = get_one(f, "/contract/h", r2);
  CHECK(at2.value == "v2");
  CHECK(at2.version == 2);
  RangeRequest req;
  req.key = "/contract/h";
  req.revision = r2 + 1;
  auto gone = sync(f, f.kv().range(req));
  REQUIRE(gone.has_value());
  CHECK(gone.value().kvs.empty());
  CHECK(gone.value().revision == r4);  // the header is the current revision
}

TEST_CASE_TEMPLATE_DEFINE("kv contract: compaction fails older reads and watches", F,
                          fleet_kv_compaction) {
  using namespace fleet::registry;
  using namespace fleet::registry::contract;
  F f;
  reset(f);
  auto r1 = sync(f, f.kv().put("/contract/c", "v1")).value();
  auto r2 = sync(f, f.kv().put("/contract/c", "v2")).value();
  auto r3 = sync(f, f.kv().put("/contract/c", "v3")).value();
  REQUIRE(sync(f, f.compact(r2)).has_value());

  RangeRequest old;
  old.key = "/contract/c";
  old.revision = r1;
  auto res = sync(f, f.kv().range(old));
  REQUIRE(res.has_error());
  CHECK(res.error().code == fleet::Errc::invalid_argument);
  CHECK(res.error().message.find("required revision has been compacted") != std::string::npos);
  CHECK(get_one(f, "/contract/c", r2).value == "v2");  // the compaction revision stays readable
  CHECK(get_one(f, "/contract/c").mod_revision == r3);

  WatchRequest wr;
  wr.key = "/contract/c";
  wr.start_revision = r1;
  auto w = f.kv().watch(wr);
  auto b = sync(f, w->next());
  REQUIRE(b.has_value());
  CHECK(b.value().compact_revision == r2);
  CHECK(b.value().events.empty());

  wr.start_revision = r2 + 1;  // from after the compaction: replays fine
  auto w2 = f.kv().watch(wr);
  auto ev = collect(f, *w2, 1);
  CHECK(ev[0].kv.value == "v3");
  CHECK(ev[0].kv.mod_revision == r3);
}

TEST_CASE_TEMPLATE_DEFINE("kv contract: txn compares every target and result", F,
                          fleet_kv_txn_compares) {
  using namespace fleet::registry;
  using namespace fleet::registry::contract;
  using T = Compare::Target;
  using R = Compare::Result;
  F f;
  reset(f);
  auto holds = [&](Compare c) {
    TxnRequest t;
    t.compare.push_back(std::move(c));
    auto r = sync(f, f.kv().txn(t));
    REQUIRE(r.has_value());
    return r.value().succeeded;
  };
  const std::string k = "/contract/t";
  // An absent key has zero create/mod revision, version and lease, and no value at all.
  CHECK(holds(Compare::absent(k)));
  CHECK(holds(cmp(k, T::version, R::equal, 0)));
  CHECK(holds(cmp(k, T::mod_revision, R::equal, 0)));
  CHECK(holds(Compare::lease_is(k, 0)));
  CHECK_FALSE(holds(Compare::value_is(k, "")));
  CHECK_FALSE(holds({k, T::value, R::not_equal, 0, "x"}));

  auto r1 = sync(f, f.kv().put(k, "b")).value();
  auto r2 = sync(f, f.kv().put(k, "b")).value();
  CHECK_FALSE(holds(Compare::absent(k)));
  CHECK(holds(cmp(k, T::create_revision, R::equal, r1)));
  CHECK(holds(cmp(k, T::create_revision, R::less, r2)));
  CHECK(holds(Compare::mod_revision_is(k, r2)));
  CHECK_FALSE(holds(Compare::mod_revision_is(k, r1)));
  CHECK(holds(cmp(k, T::mod_revision, R::greater, r1)));
  CHECK(holds(cmp(k, T::mod_revision, R::not_equal, r1)));
  CHECK(holds(cmp(k, T::version, R::equal, 2)));
  CHECK(holds(cmp(k, T::version, R::greater, 1)));
  CHECK_FALSE(holds(cmp(k, T::version, R::less, 2)));
  CHECK(holds(Compare::value_is(k, "b")));
  CHECK(holds({k, T::value, R::greater, 0, "a"}));
  CHECK(holds({k, T::value, R::less, 0, "c"}));
  CHECK(holds({k, T::value, R::not_equal, 0, "x"}));
  CHECK_FALSE(holds(Compare::value_is(k, "x")));
  CHECK(holds(Compare::lease_is(k, 0)));
  CHECK(holds(cmp(k, T::lease, R::not_equal, 42)));

  // All compares must hold (AND).
  TxnRequest both;
  both.compare = {Compare::value_is(k, "b"), Compare::absent(k)};
  CHECK_FALSE(sync(f, f.kv().txn(both)).value().succeeded);
}

TEST_CASE_TEMPLATE_DEFINE("kv contract: a txn runs one branch atomically in one revision", F,
                          fleet_kv_txn_ops) {
  using namespace fleet::registry;
  using namespace fleet::registry::contract;
  F f;
  reset(f);
  const std::string lock = "/contract/lock";
  TxnRequest t;
  t.compare = {Compare::absent(lock)};
  t.success = {Op::put(lock, "me"), Op::put("/contract/x", "1"), Op::get(lock)};
  t.failure = {Op::get(lock)};
  auto won = sync(f, f.kv().txn(t));
  REQUIRE(won.has_value());
  CHECK(won.value().succeeded);
  REQUIRE(won.value().results.size() == 3);
  CHECK(won.value().results[0].kind == Op::Kind::put);
  CHECK(won.value().results[2].kind == Op::Kind::range);
  REQUIRE(won.value().results[2].range.kvs.size() == 1);  // reads see the txn's own writes
  CHECK(won.value().results[2].range.kvs[0].value == "me");
  auto a = get_one(f, lock);
  auto b = get_one(f, "/contract/x");
  CHECK(a.mod_revision == won.value().revision);
  CHECK(b.mod_revision == won.value().revision);  // both writes share one revision

  auto lost = sync(f, f.kv().txn(t));
  REQUIRE(lost.has_value());
  CHECK_FALSE(lost.value().succeeded);
  REQUIRE(lost.value().results.size() == 1);
  REQUIRE(lost.value().results[0].range.kvs.size() == 1);
  CHECK(lost.value().results[0].range.kvs[0].value == "me");
  CHECK(lost.value().revision == won.value().revision);  // a read-only branch writes nothing

  TxnRequest cas;
  cas.compare = {Compare::mod_revision_is(lock, a.mod_revision)};
  cas.success = {Op::del(lock), Op::del("/contract/x", "/contract/xz"),
                 Op::put("/contract/y", "2")};
  auto done = sync(f, f.kv().txn(cas));
  REQUIRE(done.has_value());
  CHECK(done.value().succeeded);
  REQUIRE(done.value().results.size() == 3);
  CHECK(done.value().results[0].deleted == 1);
  CHECK(done.value().results[1].deleted == 1);
  CHECK(done.value().revision == won.value().revision + 1);
  CHECK(absent(f, lock));
  CHECK(get_one(f, "/contract/y").value == "2");

  TxnRequest nothing;  // deletes nothing: no new revision
  nothing.success = {Op::del("/contract/none")};
  auto n = sync(f, f.kv().txn(nothing));
  REQUIRE(n.has_value());
  CHECK(n.value().succeeded);
  CHECK(n.value().results[0].deleted == 0);
  CHECK(n.value().revision == done.value().revision);

  // A lone unconditional put (which a backend may send as a plain put): one revision, one put
  // result, the key written with its lease.
  auto lease = sync(f, f.kv().lease_grant(std::chrono::seconds(30)));
  REQUIRE(lease.has_value());
  TxnRequest one;
  one.success = {Op::put("/contract/one", "1", lease.value())};
  auto o = sync(f, f.kv().txn(one));
  REQUIRE(o.has_value());
  CHECK(o.value().succeeded);
  CHECK(o.value().revision == done.value().revision + 1);
  REQUIRE(o.value().results.size() == 1);
  CHECK(o.value().results[0].kind == Op::Kind::put);
  auto kv1 = get_one(f, "/contract/one");
  CHECK(kv1.value == "1");
  CHECK(kv1.lease == lease.value());
  CHECK(kv1.mod_revision == o.value().revision);
  REQUIRE(sync(f, f.kv().lease_revoke(lease.value())).has_value());
}

TEST_CASE_TEMPLATE_DEFINE("kv contract: txn rejects duplicate keys and too many ops", F,
                          fleet_kv_txn_limits) {
  using namespace fleet::registry;
  using namespace fleet::registry::contract;
  F f;
  reset(f);
  auto code_of = [&](TxnRequest t) {
    auto r = sync(f, f.kv().txn(std::move(t)));
    return r.has_error() ? r.error().code : fleet::Errc::internal;
  };
  TxnRequest dup;
  dup.success = {Op::put("/contract/d", "1"), Op::put("/contract/d", "2")};
  CHECK(code_of(dup) == fleet::Errc::invalid_argument);
  TxnRequest overlap;
  overlap.failure = {Op::del("/contract/", prefix_end("/contract/")), Op::put("/contract/d", "1")};
  CHECK(code_of(overlap) == fleet::Errc::invalid_argument);
  CHECK(absent(f, "/contract/d"));

  const auto max = f.kv().max_txn_ops();
  CHECK(max >= 1);
  TxnRequest full;
  for (std::size_t i = 0; i < max; ++i)
    full.success.push_back(Op::put("/contract/m" + std::to_string(i), "v"));
  auto ok = sync(f, f.kv().txn(full));
  REQUIRE(ok.has_value());
  CHECK(ok.value().results.size() == max);
  full.success.push_back(Op::put("/contract/over", "v"));
  CHECK(code_of(full) == fleet::Errc::invalid_argument);
  CHECK(absent(f, "/contract/over"));
}

TEST_CASE_TEMPLATE_DEFINE("kv contract: leases attach keys and revoke deletes them at once", F,
                          fleet_kv_leases) {
  using namespace fleet::registry;
  using namespace fleet::registry::contract;
  using namespace std::chrono_literals;
  F f;
  reset(f);
  auto bogus = sync(f, f.kv().put("/contract/l/x", "v", 0x1234567));
  REQUIRE(bogus.has_error());
  CHECK(bogus.error().code == fleet::Errc::not_found);

  auto id = sync(f, f.kv().lease_grant(30s));
  REQUIRE(id.has_value());
  CHECK(id.value() != 0);
  REQUIRE(sync(f, f.kv().put("/contract/l/a", "A", id.value())).has_value());
  REQUIRE(sync(f, f.kv().put("/contract/l/b", "B", id.value())).has_value());
  REQUIRE(sync(f, f.kv().put("/contract/l/c", "C", id.value())).has_value());
  REQUIRE(sync(f, f.kv().put("/contract/l/c", "C2")).has_value());  // detaches c from the lease
  CHECK(get_one(f, "/contract/l/a").lease == id.value());
  CHECK(get_one(f, "/contract/l/c").lease == 0);
  auto ttl = sync(f, f.kv().lease_keepalive(id.value()));
  REQUIRE(ttl.has_value());
  CHECK(ttl.value() > 0s);
  CHECK(ttl.value() <= 30s);

  WatchRequest wr;
  wr.key = "/contract/l/";
  wr.range_end = prefix_end(wr.key);
  wr.prev_kv = true;
  wr.start_revision = current_revision(f) + 1;  // explicit: a backend may connect lazily
  auto w = f.kv().watch(wr);
  REQUIRE(sync(f, f.kv().lease_revoke(id.value())).has_value());
  CHECK(absent(f, "/contract/l/a"));
  CHECK(absent(f, "/contract/l/b"));
  CHECK(get_one(f, "/contract/l/c").value == "C2");
  std::vector<WatchBatch> batches;
  auto ev = collect(f, *w, 2, &batches);
  CHECK(batches[0].events.size() == 2);  // one revision, one batch
  CHECK(ev[0].type == Event::Type::del);
  CHECK(ev[1].type == Event::Type::del);
  CHECK(ev[0].kv.mod_revision == ev[1].kv.mod_revision);
  REQUIRE(ev[0].prev_kv.has_value());
  CHECK(ev[0].prev_kv->lease == id.value());

  auto ka = sync(f, f.kv().lease_keepalive(id.value()));
  REQUIRE(ka.has_error());
  CHECK(ka.error().code == fleet::Errc::not_found);
  auto rv = sync(f, f.kv().lease_revoke(id.value()));
  REQUIRE(rv.has_error());
  CHECK(rv.error().code == fleet::Errc::not_found);
  auto put = sync(f, f.kv().put("/contract/l/a", "again", id.value()));
  REQUIRE(put.has_error());
  CHECK(put.error().code == fleet::Errc::not_found);
  TxnRequest t;
  t.success = {Op::put("/contract/l/a", "again", id.value())};
  auto tr = sync(f, f.kv().txn(t));
  REQUIRE(tr.has_error());
  CHECK(tr.error().code == fleet::Errc::not_found);
}

// Real TTL on every backend: about 2-3 s (etcd raises 1 s to its 2 s minimum).
TEST_CASE_TEMPLATE_DEFINE("kv contract: lease expires after its TTL (slow, real TTL)", F,
                          fleet_kv_lease_ttl) {
  using namespace fleet::registry;
  using namespace fleet::registry::contract;
  using namespace std::chrono_literals;
  F f;
  reset(f);
  auto start = std::chrono::steady_clock::now();
  auto id = sync(f, f.kv().lease_grant(1s));
  REQUIRE(id.has_value());
  auto put = sync(f, f.kv().put("/contract/ttl", "v", id.value()));
  REQUIRE(put.has_value());
  WatchRequest wr;
  wr.key = "/contract/ttl";
  wr.prev_kv = true;
  wr.start_revision = put.value() + 1;
  auto w = f.kv().watch(wr);
  CHECK(get_one(f, "/contract/ttl").lease == id.value());
  auto b = fleet::testing::run_sync(f.io(), w->next(), 15s);
  REQUIRE(b.has_value());
  REQUIRE(b.value().events.size() == 1);
  const auto& e = b.value().events[0];
  CHECK(e.type == Event::Type::del);
  REQUIRE(e.prev_kv.has_value());
  CHECK(e.prev_kv->value == "v");
  CHECK(std::chrono::steady_clock::now() - start >= 900ms);
  CHECK(absent(f, "/contract/ttl"));
  auto ka = sync(f, f.kv().lease_keepalive(id.value()));
  REQUIRE(ka.has_error());
  CHECK(ka.error().code == fleet::Errc::not_found);
}

TEST_CASE_TEMPLATE_DEFINE("kv contract: watch delivers events in order, one txn per batch", F,
                          fleet_kv_watch_live) {
  using namespace fleet::registry;
  using namespace fleet::registry::contract;
  F f;
  reset(f);
  WatchRequest wr;
  wr.key = "/contract/w/";
  wr.range_end = prefix_end(wr.key);
  wr.prev_kv = true;
  wr.start_revision = current_revision(f) + 1;
  auto w = f.kv().watch(wr);
  WatchRequest plain = wr;
  plain.prev_kv = false;
  auto w2 = f.kv().watch(plain);
  REQUIRE(sync(f, f.kv().put("/contract/other", "x")).has_value());
  auto r1 = sync(f, f.kv().put("/contract/w/a", "1")).value();
  auto r2 = sync(f, f.kv().put("/contract/w/a", "2")).value();
  TxnRequest t;
  t.success = {Op::put("/contract/w/b", "B"), Op::put("/contract/w/c", "C")};
  auto r3 = sync(f, f.kv().txn(t)).value().revision;
  auto r4 = sync(f, f.kv().put("/contract/w/a", "3")).value();
  REQUIRE(sync(f, f.kv().del("/contract/w/a")).value() == 1);

  std::vector<WatchBatch> batches;
  auto ev = collect(f, *w, 6, &batches);
  REQUIRE(ev.size() == 6);
  CHECK(ev[0].kv.key == "/contract/w/a");
  CHECK(ev[0].kv.mod_revision == r1);
  CHECK(ev[0].kv.version == 1);
  CHECK_FALSE(ev[0].prev_kv.has_value());
  CHECK(ev[1].kv.mod_revision == r2);
  REQUIRE(ev[1].prev_kv.has_value());
  CHECK(ev[1].prev_kv->value == "1");
  CHECK(ev[2].kv.key == "/contract/w/b");
  CHECK(ev[3].kv.key == "/contract/w/c");
  CHECK(ev[2].kv.mod_revision == r3);
  CHECK(ev[3].kv.mod_revision == r3);
  CHECK(ev[4].kv.mod_revision == r4);
  CHECK(ev[5].type == Event::Type::del);
  CHECK(ev[5].kv.key == "/contract/w/a");
  CHECK(ev[5].kv.mod_revision == r4 + 1);
  REQUIRE(ev[5].prev_kv.has_value());
  CHECK(ev[5].prev_kv->value == "3");
  for (const auto& b : batches) {  // the txn's two events never straddle batches
    bool has_b = false, has_c = false;
    for (const auto& e : b.events) {
      has_b |= e.kv.key == "/contract/w/b";
      has_c |= e.kv.key == "/contract/w/c";
    }
    CHECK(has_b == has_c);
  }
  auto ev2 = collect(f, *w2, 6);
  CHECK(ev2[1].kv.value == "2");
  CHECK_FALSE(ev2[1].prev_kv.has_value());
}

TEST_CASE_TEMPLATE_DEFINE("kv contract: watch from a start revision replays history", F,
                          fleet_kv_watch_replay) {
  using namespace fleet::registry;
  using namespace fleet::registry::contract;
  F f;
  reset(f);
  const std::string k = "/contract/r";
  REQUIRE(sync(f, f.kv().put(k, "v1")).has_value());
  auto r2 = sync(f, f.kv().put(k, "v2")).value();
  REQUIRE(sync(f, f.kv().del(k)).value() == 1);
  auto r4 = sync(f, f.kv().put(k, "v3")).value();
  WatchRequest wr;
  wr.key = k;
  wr.start_revision = r2;
  auto w = f.kv().watch(wr);
  auto ev = collect(f, *w, 3);
  CHECK(ev[0].kv.value == "v2");
  CHECK(ev[0].kv.mod_revision == r2);
  CHECK(ev[1].type == Event::Type::del);
  CHECK(ev[1].kv.mod_revision == r2 + 1);
  CHECK(ev[2].kv.value == "v3");
  CHECK(ev[2].kv.version == 1);
  CHECK(ev[2].kv.create_revision == r4);
  auto r5 = sync(f, f.kv().put(k, "v4")).value();  // live events follow the replay
  auto ev2 = collect(f, *w, 1);
  CHECK(ev2[0].kv.value == "v4");
  CHECK(ev2[0].kv.mod_revision == r5);
}

TEST_CASE_TEMPLATE_DEFINE("kv contract: a cancelled watcher returns cancelled", F,
                          fleet_kv_watch_cancel) {
  using namespace fleet::registry;
  using namespace fleet::registry::contract;
  using namespace std::chrono_literals;
  F f;
  reset(f);
  WatchRequest wr;
  wr.key = "/contract/q";
  auto w = f.kv().watch(wr);
  auto pending = fleet::testing::spawn(f.io(), w->next());
  REQUIRE(sync(f, f.kv().put("/contract/unrelated", "x")).has_value());
  CHECK_FALSE(pending->done);
  w->cancel();
  REQUIRE(fleet::testing::run_until(
      f.io(), [&] { return pending->done; }, 5s));
  REQUIRE(pending->value.has_value());
  REQUIRE(pending->value->has_error());
  CHECK(pending->value->error().code == fleet::Errc::cancelled);
  auto again = sync(f, w->next());
  REQUIRE(again.has_error());
  CHECK(again.error().code == fleet::Errc::cancelled);
}
