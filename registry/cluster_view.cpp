#include "registry/cluster_view.h"

#include <algorithm>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <string>
#include <utility>
#include <variant>

#include "common/clock.h"
#include "common/log.h"
#include "registry/cluster_feed.h"
#include "registry/key_layout.h"
#include "registry/reflector.h"

namespace fleet::registry {

namespace asio = boost::asio;

// One period of following, from the read that started it to the idle stop. Shared by the view,
// the coroutines that follow and expire it, and the reads in progress: each of them checks
// `stopped` after every suspension, and a stopped Follow is never followed again (the next read
// makes a new one), so nothing needs to outlive its users.
struct ClusterView::Follow {
  Follow(KvStore& kv, const KeyLayout& k, asio::any_io_executor ex)
      : keys(k), reflector(make_reflector(kv, k)), idle_timer(ex) {}

  static std::unique_ptr<Reflector> make_reflector(KvStore& kv, const KeyLayout& k) {
    return std::make_unique<Reflector>(kv, k.prefix());
  }

  const KeyLayout& keys;
  // Released (with its copy of every key and its watch) by follow() once stopped.
  std::unique_ptr<Reflector> reflector;
  Timer idle_timer;
  Clock::time_point last_read = Clock::now();
  bool stopped = false;

  // The listed records, as decoded from the reflector's copy of the prefix.
  std::map<std::string, UnitRecord> units;
  std::map<std::string, std::string> schedule;                            // unit -> machine
  std::map<std::string, std::string> reasons;                             // unit -> reason
  std::map<std::pair<std::string, std::string>, UnitStateRecord> states;  // (unit, machine)
  // The store revision the copy reflects: what the watch delivered, or later when the store
  // showed nothing under the prefix changed since (0: still listing).
  Revision revision = 0;
  // Bumped by every change of a listed record; the snapshots below are of generation *_gen.
  std::uint64_t generation = 0;
  std::shared_ptr<const UnitsSnapshot> units_snapshot;
  std::uint64_t units_gen = 0;
  std::shared_ptr<const std::vector<UnitStateRecord>> states_snapshot;
  std::uint64_t states_gen = 0;

  // Reads waiting for the watch: each waits on its own timer (set to its deadline), cancelled
  // here when a batch arrives so that it looks again. Weak: a read that went away leaves an
  // expired entry, dropped at the next wake.
  std::vector<std::weak_ptr<Timer>> waiters;

  void wake() {
    for (auto& w : waiters)
      if (auto t = w.lock()) t->cancel();
    waiters.clear();
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    reflector->cancel();
    idle_timer.cancel();
    wake();
    // Memory goes with the copy; snapshots already handed out stay valid.
    units.clear();
    schedule.clear();
    reasons.clear();
    states.clear();
    units_snapshot.reset();
    states_snapshot.reset();
  }

  void apply(const ReflectorBatch& batch) {
    for (const auto& c : batch.changes) {
      auto parsed = keys.parse(c.kv.key);
      if (!parsed) continue;
      const auto kind = parsed->kind;
      if (kind != KeyKind::unit && kind != KeyKind::schedule && kind != KeyKind::reason &&
          kind != KeyKind::state)
        continue;
      std::optional<std::string> value;
      if (c.type == Change::Type::put) value = c.kv.value;
      auto typed = decode_cluster_change(keys, c.kv.key, value, c.kv.mod_revision);
      if (!typed) continue;  // undecodable: the old record stands, as in the engine's model
      ++generation;
      std::visit([this](auto& change) { apply_one(change); }, *typed);
    }
    revision = std::max(revision, batch.revision);
  }

  void apply_one(cluster::Unit& c) {
    if (c.record)
      units.insert_or_assign(c.name, std::move(*c.record));
    else
      units.erase(c.name);  // deleted, or unreadable: a direct read skips it too
  }
  void apply_one(cluster::Schedule& c) {
    if (c.machine)
      schedule.insert_or_assign(c.unit, std::move(*c.machine));
    else
      schedule.erase(c.unit);
  }
  void apply_one(cluster::Reason& c) {
    if (c.reason)
      reasons.insert_or_assign(c.unit, std::move(*c.reason));
    else
      reasons.erase(c.unit);
  }
  void apply_one(cluster::State& c) {
    auto key = std::make_pair(c.unit, c.machine);
    if (c.state)
      states.insert_or_assign(std::move(key), std::move(*c.state));
    else
      states.erase(key);
  }
  template <class Other>
  void apply_one(Other&) {}

  std::shared_ptr<const UnitsSnapshot> units_now() {
    if (units_snapshot && units_gen == generation) return units_snapshot;
    auto snap = std::make_shared<UnitsSnapshot>();
    snap->units.reserve(units.size());
    for (const auto& [name, rec] : units) snap->units.push_back(rec);
    snap->schedule = schedule;
    snap->reasons = reasons;
    for (const auto& [key, st] : states)
      snap->reported.emplace_hint(snap->reported.end(), key, st.active_state);
    units_snapshot = std::move(snap);
    units_gen = generation;
    return units_snapshot;
  }

  std::shared_ptr<const std::vector<UnitStateRecord>> states_now() {
    if (states_snapshot && states_gen == generation) return states_snapshot;
    auto all = std::make_shared<std::vector<UnitStateRecord>>();
    all->reserve(states.size());
    for (const auto& [key, st] : states) all->push_back(st);
    states_snapshot = std::move(all);
    states_gen = generation;
    return states_snapshot;
  }
};

namespace {

using FollowPtr = std::shared_ptr<ClusterView::Follow>;

// Applies every batch of the reflector until the Follow stops.
Task<void> follow(FollowPtr f) {
  while (!f->stopped) {
    auto batch = co_await f->reflector->next();
    if (!batch) break;  // cancelled: stopped
    if (f->stopped) break;
    const bool first = f->revision == 0;
    f->apply(batch.value());
    if (first)
      log::info(
          "registry", "cluster view listed",
          {{"units", std::to_string(f->units.size())}, {"revision", std::to_string(f->revision)}});
    f->wake();
  }
  f->stop();
  f->reflector.reset();  // nothing else calls it: its watch and copy go now
}

// Stops the Follow once no read came for `idle`.
Task<void> expire(FollowPtr f, Clock::duration idle) {
  while (!f->stopped) {
    f->idle_timer.expires_at(f->last_read + idle);
    co_await f->idle_timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (f->stopped) break;
    if (Clock::now() - f->last_read >= idle) {
      log::info("registry", "cluster view idle, stopped following",
                {{"revision", std::to_string(f->revision)}});
      f->stop();
    }
  }
}

// Waits until the copy reflects `rev`, the Follow stops or `until` passes.
Task<void> wait_for(FollowPtr f, Revision rev, Clock::time_point until) {
  auto ex = co_await asio::this_coro::executor;
  while (!f->stopped && f->revision < rev && Clock::now() < until) {
    auto timer = std::make_shared<Timer>(ex, until);
    f->waiters.push_back(timer);
    co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

// The store's current revision: a linearizable read of one key (the prefix itself, never
// written), answered without any key.
Task<Result<Revision>> store_revision(KvStore& kv, const std::string& prefix) {
  RangeRequest req;
  req.key = prefix;
  req.count_only = true;
  BOOST_OUTCOME_CO_TRY(auto resp, co_await kv.range(std::move(req)));
  co_return resp.revision;
}

// Whether the store at `rev` holds under the prefix exactly what the copy holds at its revision
// `base`: no key modified after `base`, and as many keys (so none deleted either).
Task<Result<bool>> unchanged_since(KvStore& kv, const std::string& prefix, Revision base,
                                   std::size_t keys_at_base, Revision rev) {
  RangeRequest req;
  req.key = prefix;
  req.range_end = prefix_end(prefix);
  req.revision = rev;
  req.min_mod_revision = base + 1;
  req.keys_only = true;
  req.limit = 1;
  BOOST_OUTCOME_CO_TRY(auto resp, co_await kv.range(std::move(req)));
  co_return resp.kvs.empty() && resp.count == static_cast<std::int64_t>(keys_at_base);
}

}  // namespace

ClusterView::ClusterView(KvStore& kv, const KeyLayout& keys, ClusterViewOptions opts)
    : kv_(kv), keys_(keys), opts_(opts) {}

ClusterView::~ClusterView() { stop(); }

void ClusterView::stop() {
  if (follow_) follow_->stop();
  follow_.reset();
}

bool ClusterView::following() const { return follow_ && !follow_->stopped; }

Revision ClusterView::revision() const { return following() ? follow_->revision : 0; }

std::size_t ClusterView::relists() const { return following() ? follow_->reflector->relists() : 0; }

Task<Result<std::shared_ptr<ClusterView::Follow>>> ClusterView::ready() {
  if (!following()) {
    auto ex = co_await asio::this_coro::executor;
    follow_ = std::make_shared<Follow>(kv_, keys_, ex);
    ++counters_.starts;
    log::info("registry", "cluster view following", {{"prefix", keys_.prefix()}});
    asio::co_spawn(ex, follow(follow_), asio::detached);
    asio::co_spawn(ex, expire(follow_, opts_.idle), asio::detached);
    co_return FollowPtr();
  }
  FollowPtr f = follow_;
  f->last_read = Clock::now();
  if (f->revision == 0) co_return FollowPtr();  // still listing
  BOOST_OUTCOME_CO_TRY(const Revision rev, co_await store_revision(kv_, keys_.prefix()));
  if (f->stopped) co_return FollowPtr();
  if (f->revision >= rev) co_return f;
  const auto deadline = Clock::now() + opts_.catch_up;
  const auto settled = std::min(deadline, Clock::now() + opts_.settle);  // named: GCC 12
  co_await wait_for(f, rev, settled);
  if (f->stopped) co_return FollowPtr();
  if (f->revision >= rev) co_return f;
  ++counters_.checks;
  const Revision base = f->revision;
  const std::size_t keys_at_base = f->reflector->cache().size();
  auto same = co_await unchanged_since(kv_, keys_.prefix(), base, keys_at_base, rev);
  if (f->stopped) co_return FollowPtr();
  if (same && same.value()) {
    // Nothing under the prefix changed in (base, rev]: the copy at base is the store at rev.
    // Watch events, if any came meanwhile, are all after rev.
    f->revision = std::max(f->revision, rev);
    co_return f;
  }
  co_await wait_for(f, rev, deadline);
  if (f->stopped) co_return FollowPtr();
  if (f->revision >= rev) co_return f;
  log::info("registry", "cluster view behind the store, reading directly",
            {{"revision", std::to_string(f->revision)}, {"store", std::to_string(rev)}});
  co_return FollowPtr();
}

Task<Result<std::shared_ptr<const UnitsSnapshot>>> ClusterView::units() {
  BOOST_OUTCOME_CO_TRY(auto f, co_await ready());
  if (!f) {
    ++counters_.unserved;
    co_return std::shared_ptr<const UnitsSnapshot>();
  }
  ++counters_.served;
  co_return f->units_now();
}

Task<Result<std::shared_ptr<const std::vector<UnitStateRecord>>>> ClusterView::states() {
  BOOST_OUTCOME_CO_TRY(auto f, co_await ready());
  if (!f) {
    ++counters_.unserved;
    co_return std::shared_ptr<const std::vector<UnitStateRecord>>();
  }
  ++counters_.served;
  co_return f->states_now();
}

}  // namespace fleet::registry
