#include "registry/memory_kv.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "common/clock.h"

namespace fleet::registry {

namespace asio = boost::asio;

namespace {

// One entry of a key's history. A tombstone keeps only key and mod_revision (the deletion).
struct Rec {
  bool tomb = false;
  KeyValue kv;
};

const std::string kOpenEnd(1, '\0');

bool in_range(std::string_view key, std::string_view begin, std::string_view end) {
  if (end.empty()) return key == begin;
  if (key < begin) return false;
  return end == kOpenEnd || key < end;
}

Error empty_key() { return make_error(Errc::invalid_argument, "etcdserver: key is not provided"); }
Error compacted() {
  return make_error(Errc::invalid_argument,
                    "etcdserver: mvcc: required revision has been compacted");
}
Error future_rev() {
  return make_error(Errc::invalid_argument,
                    "etcdserver: mvcc: required revision is a future revision");
}
Error lease_not_found() {
  return make_error(Errc::not_found, "etcdserver: requested lease not found");
}

// The newest entry at or before `rev`, or null.
const Rec* rec_at(const std::vector<Rec>& recs, Revision rev) {
  auto it = std::upper_bound(recs.begin(), recs.end(), rev,
                             [](Revision r, const Rec& e) { return r < e.kv.mod_revision; });
  if (it == recs.begin()) return nullptr;
  return &*std::prev(it);
}

template <class T>
int three_way(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

}  // namespace

class MemoryWatcher;

struct MemoryKv::State {
  struct Lease {
    std::chrono::seconds ttl{0};
    std::set<std::string> keys;
    std::unique_ptr<Timer> timer;
  };

  asio::any_io_executor ex;
  MemoryKvOptions opts;
  Revision rev = 1;  // a fresh etcd store is at revision 1
  Revision compacted_rev = 0;
  std::map<std::string, std::vector<Rec>, std::less<>> keys;
  std::deque<Event> log;  // every event, ordered by revision; pruned by compaction
  std::map<LeaseId, Lease> leases;
  std::mt19937_64 rng{0x6a09e667f3bcc908ULL};
  std::set<MemoryWatcher*> watchers;
  std::weak_ptr<State> self;
  bool available = true;
  int fail_count = 0;
  Errc fail_code = Errc::unavailable;

  std::optional<Error> check_call() {
    if (!available) return make_error(Errc::unavailable, "memory kv: unavailable (injected)");
    if (fail_count > 0) {
      --fail_count;
      return make_error(fail_code, "memory kv: injected failure");
    }
    return std::nullopt;
  }

  const KeyValue* latest(std::string_view key) const {
    auto it = keys.find(key);
    if (it == keys.end() || it->second.empty() || it->second.back().tomb) return nullptr;
    return &it->second.back().kv;
  }

  RangeResponse read(const RangeRequest& req, Revision at, Revision header_rev) const {
    RangeResponse out;
    out.revision = header_rev;
    std::int64_t matching = 0;  // keys the min_mod_revision filter keeps
    auto visit = [&](const std::vector<Rec>& recs) {
      const Rec* r = rec_at(recs, at);
      if (r == nullptr || r->tomb) return;
      ++out.count;
      if (req.count_only) return;
      if (r->kv.mod_revision < req.min_mod_revision) return;
      ++matching;
      if (req.limit > 0 && static_cast<std::int64_t>(out.kvs.size()) >= req.limit) return;
      out.kvs.push_back(r->kv);
      if (req.keys_only) out.kvs.back().value.clear();
    };
    if (req.range_end.empty()) {
      if (auto it = keys.find(req.key); it != keys.end()) visit(it->second);
    } else {
      for (auto it = keys.lower_bound(req.key);
           it != keys.end() && in_range(it->first, req.key, req.range_end); ++it)
        visit(it->second);
    }
    out.more = !req.count_only && req.limit > 0 && matching > req.limit;
    return out;
  }

  bool holds(const Compare& c) const {
    static const KeyValue kAbsent;
    const KeyValue* kv = latest(c.key);
    if (kv == nullptr) {
      if (c.target == Compare::Target::value) return false;  // etcd: absent never equals a value
      kv = &kAbsent;
    }
    int cmp = 0;
    switch (c.target) {
      case Compare::Target::version:
        cmp = three_way(kv->version, c.number);
        break;
      case Compare::Target::create_revision:
        cmp = three_way(kv->create_revision, c.number);
        break;
      case Compare::Target::mod_revision:
        cmp = three_way(kv->mod_revision, c.number);
        break;
      case Compare::Target::lease:
        cmp = three_way(kv->lease, c.number);
        break;
      case Compare::Target::value:
        cmp = three_way(kv->value, c.value);
        break;
    }
    switch (c.result) {
      case Compare::Result::equal:
        return cmp == 0;
      case Compare::Result::greater:
        return cmp > 0;
      case Compare::Result::less:
        return cmp < 0;
      case Compare::Result::not_equal:
        return cmp != 0;
    }
    return false;
  }

  void detach(const KeyValue& kv) {
    if (kv.lease == 0) return;
    if (auto it = leases.find(kv.lease); it != leases.end()) it->second.keys.erase(kv.key);
  }

  // Applies writes at revision rev+1 straight into the history; commit() makes them visible
  // to watchers and bumps the revision only if something changed (etcd's rule).
  struct Writer {
    State& s;
    Revision new_rev;
    std::vector<Event> events;

    explicit Writer(State& st) : s(st), new_rev(st.rev + 1) {}

    void put(const std::string& key, std::string value, LeaseId lease) {
      auto& recs = s.keys[key];
      Event ev;
      ev.type = Event::Type::put;
      KeyValue& kv = ev.kv;
      kv.key = key;
      kv.value = std::move(value);
      kv.mod_revision = new_rev;
      kv.lease = lease;
      if (!recs.empty() && !recs.back().tomb) {
        const KeyValue& old = recs.back().kv;
        kv.create_revision = old.create_revision;
        kv.version = old.version + 1;
        ev.prev_kv = old;
        s.detach(old);
      } else {
        kv.create_revision = new_rev;
        kv.version = 1;
      }
      if (lease != 0) s.leases[lease].keys.insert(key);
      recs.push_back(Rec{false, kv});
      events.push_back(std::move(ev));
    }

    std::int64_t del(const std::string& begin, const std::string& end) {
      std::vector<std::string> doomed;
      if (end.empty()) {
        if (s.latest(begin) != nullptr) doomed.push_back(begin);
      } else {
        for (auto it = s.keys.lower_bound(begin);
             it != s.keys.end() && in_range(it->first, begin, end); ++it)
          if (!it->second.empty() && !it->second.back().tomb) doomed.push_back(it->first);
      }
      for (const auto& key : doomed) {
        auto& recs = s.keys[key];
        Event ev;
        ev.type = Event::Type::del;
        ev.kv.key = key;
        ev.kv.mod_revision = new_rev;
        ev.prev_kv = recs.back().kv;
        s.detach(recs.back().kv);
        recs.push_back(Rec{true, ev.kv});
        events.push_back(std::move(ev));
      }
      return static_cast<std::int64_t>(doomed.size());
    }

    Revision read_revision() const { return events.empty() ? s.rev : new_rev; }

    void commit();
  };

  // Drops the records of `key` that are not its state at or after `c`.
  void trim(const std::string& key, Revision c) {
    auto it = keys.find(key);
    if (it == keys.end()) return;
    auto& recs = it->second;
    auto keep = std::upper_bound(recs.begin(), recs.end(), c,
                                 [](Revision r, const Rec& e) { return r < e.kv.mod_revision; });
    if (keep != recs.begin()) {
      --keep;  // the newest entry at or before c is the state at c
      if (keep->tomb) ++keep;
      recs.erase(recs.begin(), keep);
    }
    if (recs.empty()) keys.erase(it);
  }

  // Only a key written at or before `c` can hold a record older than c, and every write since
  // the previous compaction is still in the log (the ones before were trimmed then): walking the
  // log up to c finds every such key, so a compaction costs what it drops, not the number of keys.
  void compact_to(Revision c) {
    for (const auto& e : log) {
      if (e.kv.mod_revision > c) break;
      trim(e.kv.key, c);
    }
    while (!log.empty() && log.front().kv.mod_revision < c) log.pop_front();
    compacted_rev = c;
  }

  // After each write when MemoryKvOptions asks for it (memory_kv.h).
  void auto_compact();

  void arm_lease(LeaseId id);
  void end_lease(LeaseId id);
  void wake_watchers();
};

class MemoryWatcher final : public Watcher {
 public:
  MemoryWatcher(std::shared_ptr<MemoryKv::State> s, WatchRequest req)
      : s_(std::move(s)), req_(std::move(req)), wake_(s_->ex) {
    next_rev_ = req_.start_revision > 0 ? req_.start_revision : s_->rev + 1;
    s_->watchers.insert(this);
  }
  ~MemoryWatcher() override { s_->watchers.erase(this); }

  Task<Result<WatchBatch>> next() override {
    for (;;) {
      if (cancelled_) co_return fail(Errc::cancelled, "watcher cancelled");
      if (ended_) co_return fail(Errc::cancelled, "watcher ended by compaction");
      if (s_->available) {
        if (next_rev_ < s_->compacted_rev) {
          ended_ = true;
          WatchBatch b;
          b.revision = s_->rev;
          b.compact_revision = s_->compacted_rev;
          co_return b;
        }
        WatchBatch b = collect();
        if (!b.events.empty()) co_return b;
      }
      wake_.expires_at(Timer::time_point::max());
      co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
      auto cs = co_await asio::this_coro::cancellation_state;
      if (cs.cancelled() != asio::cancellation_type::none)
        co_return fail(Errc::cancelled, "watch next() cancelled");
    }
  }

  void cancel() override {
    cancelled_ = true;
    wake_.cancel();
  }

  void wake() { wake_.cancel(); }

  // The oldest revision this watcher has yet to deliver; nullopt when it will deliver nothing
  // more from the history (cancelled, ended, or about to end on a compaction).
  std::optional<Revision> needs() const {
    if (cancelled_ || ended_ || next_rev_ < s_->compacted_rev) return std::nullopt;
    return next_rev_;
  }

 private:
  WatchBatch collect() {
    WatchBatch b;
    b.revision = s_->rev;
    const auto& log = s_->log;
    auto it = std::lower_bound(log.begin(), log.end(), next_rev_,
                               [](const Event& e, Revision r) { return e.kv.mod_revision < r; });
    Revision last = 0;
    for (; it != log.end(); ++it) {
      Revision r = it->kv.mod_revision;
      if (b.events.size() >= s_->opts.max_batch_events && r != last) {
        next_rev_ = r;  // the rest goes in the next batch; a revision is never split
        return b;
      }
      if (!in_range(it->kv.key, req_.key, req_.range_end)) continue;
      b.events.push_back(*it);
      if (!req_.prev_kv) b.events.back().prev_kv.reset();
      last = r;
    }
    next_rev_ = std::max(next_rev_, s_->rev + 1);
    return b;
  }

  std::shared_ptr<MemoryKv::State> s_;
  WatchRequest req_;
  Revision next_rev_ = 0;
  bool cancelled_ = false;
  bool ended_ = false;
  Timer wake_;
};

void MemoryKv::State::wake_watchers() {
  for (auto* w : watchers) w->wake();
}

void MemoryKv::State::auto_compact() {
  Revision floor = 0;
  if (opts.retention > 0) {
    floor = rev - opts.retention + 1;
    for (const auto* w : watchers)
      if (auto need = w->needs()) floor = std::min(floor, *need);
  }
  // A watcher that stopped reading may hold history only this far back.
  if (opts.history_limit > 0) floor = std::max(floor, rev - opts.history_limit);
  if (floor > compacted_rev && floor > 1) compact_to(floor);
}

void MemoryKv::State::Writer::commit() {
  if (events.empty()) return;
  s.rev = new_rev;
  for (auto& e : events) s.log.push_back(std::move(e));
  events.clear();
  if (s.opts.history_limit > 0 || s.opts.retention > 0) s.auto_compact();
  s.wake_watchers();
}

void MemoryKv::State::arm_lease(LeaseId id) {
  auto& l = leases.at(id);
  l.timer->expires_after(l.ttl);
  l.timer->async_wait([weak = self, id](boost::system::error_code ec) {
    if (ec) return;  // re-armed by a keepalive, revoked, or the store is gone
    if (auto s = weak.lock()) s->end_lease(id);
  });
}

void MemoryKv::State::end_lease(LeaseId id) {
  auto it = leases.find(id);
  if (it == leases.end()) return;
  auto keys_of_lease = it->second.keys;
  Writer w(*this);
  for (const auto& k : keys_of_lease) w.del(k, {});
  leases.erase(it);  // destroys the timer; its handler sees operation_aborted
  w.commit();
}

MemoryKv::MemoryKv(asio::any_io_executor ex, MemoryKvOptions opts)
    : state_(std::make_shared<State>()) {
  state_->ex = std::move(ex);
  state_->opts = opts;
  state_->self = state_;
}

MemoryKv::~MemoryKv() {
  // Watchers may outlive the store (they share the state); lease timers must not keep running.
  state_->leases.clear();
}

// Every call yields to the loop first, as a network round trip would, so callers cannot come to
// rely on synchronous completion and concurrent coroutines interleave as they would with etcd.
#define FLEET_MEMKV_ENTER()                        \
  auto s = state_;                                 \
  co_await asio::post(s->ex, asio::use_awaitable); \
  if (auto injected = s->check_call()) co_return outcome::failure(std::move(*injected))

Task<Result<RangeResponse>> MemoryKv::range(RangeRequest req) {
  FLEET_MEMKV_ENTER();
  if (req.key.empty()) co_return empty_key();
  Revision at = req.revision > 0 ? req.revision : s->rev;
  if (at > s->rev) co_return future_rev();
  if (at < s->compacted_rev) co_return compacted();
  co_return s->read(req, at, s->rev);
}

Task<Result<TxnResponse>> MemoryKv::txn(TxnRequest req) {
  FLEET_MEMKV_ENTER();
  const auto max = s->opts.max_txn_ops;
  if (req.compare.size() > max || req.success.size() > max || req.failure.size() > max)
    co_return make_error(Errc::invalid_argument, "etcdserver: too many operations in txn request");
  for (const auto& c : req.compare)
    if (c.key.empty()) co_return empty_key();
  for (const auto* branch : {&req.success, &req.failure}) {
    std::set<std::string_view> puts;
    std::vector<const Op*> dels;
    for (const auto& op : *branch) {
      if (op.key.empty()) co_return empty_key();
      if (op.kind == Op::Kind::put && !puts.insert(op.key).second)
        co_return make_error(Errc::invalid_argument,
                             "etcdserver: duplicate key given in txn request");
      if (op.kind == Op::Kind::del) dels.push_back(&op);
    }
    for (auto key : puts)
      for (const auto* d : dels)
        if (in_range(key, d->key, d->range_end))
          co_return make_error(Errc::invalid_argument,
                               "etcdserver: duplicate key given in txn request");
  }
  TxnResponse resp;
  resp.succeeded = std::all_of(req.compare.begin(), req.compare.end(),
                               [&](const Compare& c) { return s->holds(c); });
  auto& ops = resp.succeeded ? req.success : req.failure;
  for (const auto& op : ops)
    if (op.kind == Op::Kind::put && op.lease != 0 && !s->leases.contains(op.lease))
      co_return lease_not_found();
  State::Writer w(*s);
  for (auto& op : ops) {
    OpResult r;
    r.kind = op.kind;
    switch (op.kind) {
      case Op::Kind::put:
        w.put(op.key, std::move(op.value), op.lease);
        break;
      case Op::Kind::del:
        r.deleted = w.del(op.key, op.range_end);
        break;
      case Op::Kind::range: {
        RangeRequest rr;
        rr.key = op.key;
        rr.range_end = op.range_end;
        r.range = s->read(rr, w.new_rev, w.read_revision());
        break;
      }
    }
    resp.results.push_back(std::move(r));
  }
  resp.revision = w.read_revision();
  w.commit();
  co_return resp;
}

Task<Result<Revision>> MemoryKv::put(std::string key, std::string value, LeaseId lease) {
  FLEET_MEMKV_ENTER();
  if (key.empty()) co_return empty_key();
  if (lease != 0 && !s->leases.contains(lease)) co_return lease_not_found();
  State::Writer w(*s);
  w.put(key, std::move(value), lease);
  w.commit();
  co_return s->rev;
}

Task<Result<std::int64_t>> MemoryKv::del(std::string key, std::string range_end) {
  FLEET_MEMKV_ENTER();
  if (key.empty()) co_return empty_key();
  State::Writer w(*s);
  auto n = w.del(key, range_end);
  w.commit();
  co_return n;
}

Task<Result<LeaseId>> MemoryKv::lease_grant(std::chrono::seconds ttl) {
  FLEET_MEMKV_ENTER();
  LeaseId id = 0;
  while (id == 0 || s->leases.contains(id)) id = static_cast<LeaseId>(s->rng() >> 1);
  auto& l = s->leases[id];
  l.ttl = std::max(ttl, s->opts.min_lease_ttl);
  l.timer = std::make_unique<Timer>(s->ex);
  s->arm_lease(id);
  co_return id;
}

Task<Result<std::chrono::seconds>> MemoryKv::lease_keepalive(LeaseId id) {
  FLEET_MEMKV_ENTER();
  auto it = s->leases.find(id);
  if (it == s->leases.end()) co_return lease_not_found();
  s->arm_lease(id);  // expires_after cancels the pending wait
  co_return it->second.ttl;
}

Task<Status> MemoryKv::lease_revoke(LeaseId id) {
  FLEET_MEMKV_ENTER();
  if (!s->leases.contains(id)) co_return lease_not_found();
  s->end_lease(id);
  co_return ok();
}

#undef FLEET_MEMKV_ENTER

std::unique_ptr<Watcher> MemoryKv::watch(WatchRequest req) {
  return std::make_unique<MemoryWatcher>(state_, std::move(req));
}

std::size_t MemoryKv::max_txn_ops() const { return state_->opts.max_txn_ops; }

Status MemoryKv::compact(Revision rev) {
  if (rev > state_->rev) return future_rev();
  if (rev <= state_->compacted_rev) return compacted();
  state_->compact_to(rev);
  return ok();
}

Revision MemoryKv::revision() const { return state_->rev; }
Revision MemoryKv::compact_revision() const { return state_->compacted_rev; }

bool MemoryKv::expire_lease(LeaseId id) {
  if (!state_->leases.contains(id)) return false;
  state_->end_lease(id);
  return true;
}

void MemoryKv::set_available(bool available) {
  state_->available = available;
  if (available) state_->wake_watchers();
}

void MemoryKv::fail_next(int count, Errc code) {
  state_->fail_count = count;
  state_->fail_code = code;
}

std::size_t MemoryKv::lease_count() const { return state_->leases.size(); }
std::size_t MemoryKv::watcher_count() const { return state_->watchers.size(); }

MemoryKv::Footprint MemoryKv::footprint() const {
  Footprint f;
  for (const auto& [key, recs] : state_->keys) {
    f.records += recs.size();
    for (const auto& r : recs) f.value_bytes += r.kv.value.size();
  }
  f.events = state_->log.size();
  for (const auto& e : state_->log)
    f.value_bytes += e.kv.value.size() + (e.prev_kv ? e.prev_kv->value.size() : 0);
  return f;
}

MemoryKvOptions long_running_options() {
  MemoryKvOptions o;
  // fleet++ reads only the latest revision and watches from just after a read, so a short
  // window covers every read-then-watch; live watchers keep what they have yet to deliver.
  o.retention = 16;
  // A watcher that stops reading for this long is ended by compaction (its reflector re-lists)
  // rather than holding every later value.
  o.history_limit = 1000;
  return o;
}

}  // namespace fleet::registry
