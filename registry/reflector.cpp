#include "registry/reflector.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/clock.h"
#include "common/log.h"

namespace fleet::registry {

namespace asio = boost::asio;

// The backoff timer lives in the waiting coroutine's frame; cancel() reaches it through here.
struct Reflector::Waiter {
  Timer* timer = nullptr;
};

namespace {

Error cancelled_error() { return make_error(Errc::cancelled, "reflector cancelled"); }

Task<bool> op_cancelled() {
  auto cs = co_await asio::this_coro::cancellation_state;
  co_return cs.cancelled() != asio::cancellation_type::none;
}

}  // namespace

Reflector::Reflector(KvStore& kv, std::string prefix, ReflectorOptions opts)
    : kv_(kv), prefix_(std::move(prefix)), opts_(opts), waiter_(std::make_unique<Waiter>()) {}

Reflector::~Reflector() = default;

void Reflector::cancel() {
  cancelled_ = true;
  if (watcher_) watcher_->cancel();
  if (waiter_->timer != nullptr) waiter_->timer->cancel();
}

Task<Status> Reflector::backoff() {
  Timer timer(co_await asio::this_coro::executor, backoff_.next());
  waiter_->timer = &timer;
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  waiter_->timer = nullptr;
  if (cancelled_ || co_await op_cancelled()) co_return cancelled_error();
  co_return ok();
}

ReflectorBatch Reflector::replace_cache(RangeResponse listing, ReflectorBatch::Kind kind) {
  // etcd lists in key order and each page starts after the last; sorted here only if a store
  // ever did otherwise, since the walk below needs it.
  auto by_key = [](const KeyValue& a, const KeyValue& b) { return a.key < b.key; };
  if (!std::is_sorted(listing.kvs.begin(), listing.kvs.end(), by_key))
    std::sort(listing.kvs.begin(), listing.kvs.end(), by_key);
  ReflectorBatch out;
  out.kind = kind;
  out.revision = listing.revision;
  std::map<std::string, Revision> fresh;
  // Walk the old cache and the sorted listing at once: vanished keys become dels, new or
  // changed keys puts.
  auto old_it = cache_.begin();
  auto new_it = listing.kvs.begin();
  while (old_it != cache_.end() || new_it != listing.kvs.end()) {
    if (new_it == listing.kvs.end() || (old_it != cache_.end() && old_it->first < new_it->key)) {
      Change c;
      c.type = Change::Type::del;
      c.kv.key = old_it->first;
      c.kv.mod_revision = out.revision;
      out.changes.push_back(std::move(c));
      ++old_it;
      continue;
    }
    bool changed = true;
    if (old_it != cache_.end() && old_it->first == new_it->key) {
      changed = old_it->second != new_it->mod_revision;
      ++old_it;
    }
    fresh.emplace_hint(fresh.end(), new_it->key, new_it->mod_revision);
    if (changed) out.changes.push_back(Change{Change::Type::put, std::move(*new_it)});
    ++new_it;
  }
  cache_ = std::move(fresh);
  revision_ = out.revision;
  WatchRequest wr;
  wr.key = prefix_;
  wr.range_end = prefix_end(prefix_);
  wr.start_revision = revision_ + 1;
  watcher_ = kv_.watch(std::move(wr));
  return out;
}

Task<Result<ReflectorBatch>> Reflector::list(ReflectorBatch::Kind kind) {
  for (;;) {
    if (cancelled_) co_return cancelled_error();
    auto r = co_await list_pages();
    if (!r) {
      if (cancelled_ || co_await op_cancelled()) co_return cancelled_error();
      log::warn("registry", "reflector list failed, retrying",
                {{"prefix", prefix_}, {"error", r.error().describe()}});
      if (auto s = co_await backoff(); !s) co_return s.error();
      continue;
    }
    backoff_.reset();
    co_return replace_cache(std::move(r).value(), kind);
  }
}

// The prefix in pages of kListPage keys, all read at the first page's revision. One range of a
// large cluster's whole prefix (100,000 units: ~200,000 keys, tens of MB of JSON) outlasted a
// request's deadline under load, and its retries started over each time (issue #14). A page
// whose revision was compacted meanwhile fails the listing, which is retried as a whole.
Task<Result<RangeResponse>> Reflector::list_pages() {
  RangeResponse all;
  RangeRequest req;
  req.key = prefix_;
  req.range_end = prefix_end(prefix_);
  req.limit = kListPage;
  while (true) {
    auto r = co_await kv_.range(req);
    if (!r) co_return r.error();
    RangeResponse& page = r.value();
    if (all.revision == 0) all.revision = page.revision;
    for (auto& kv : page.kvs) all.kvs.push_back(std::move(kv));
    if (!page.more || page.kvs.empty()) break;
    req.key = all.kvs.back().key + '\0';
    req.revision = all.revision;
  }
  all.count = static_cast<std::int64_t>(all.kvs.size());
  co_return all;
}

void Reflector::apply(const WatchBatch& b, ReflectorBatch& out) {
  const Revision base = revision_;  // a revision is never split across batches
  for (const auto& e : b.events) {
    if (e.kv.mod_revision <= base) continue;  // already applied: never repeat a change
    revision_ = std::max(revision_, e.kv.mod_revision);
    if (e.type == Event::Type::put) {
      cache_.insert_or_assign(e.kv.key, e.kv.mod_revision);
      out.changes.push_back(Change{Change::Type::put, e.kv});
    } else if (auto it = cache_.find(e.kv.key); it != cache_.end()) {
      cache_.erase(it);
      out.changes.push_back(Change{Change::Type::del, e.kv});
    }
  }
  out.revision = revision_;
}

Task<Result<ReflectorBatch>> Reflector::next() {
  for (;;) {
    if (cancelled_) co_return cancelled_error();
    if (revision_ == 0) co_return co_await list(ReflectorBatch::Kind::initial);
    if (!watcher_) {
      WatchRequest wr;
      wr.key = prefix_;
      wr.range_end = prefix_end(prefix_);
      wr.start_revision = revision_ + 1;
      watcher_ = kv_.watch(std::move(wr));
    }
    auto b = co_await watcher_->next();
    if (!b) {
      if (cancelled_) co_return cancelled_error();
      // Whatever state the watcher is in now, a fresh one from revision_ + 1 loses nothing.
      watcher_.reset();
      if (co_await op_cancelled()) co_return cancelled_error();
      log::warn("registry", "reflector watch failed, resuming",
                {{"prefix", prefix_}, {"error", b.error().describe()}});
      if (auto s = co_await backoff(); !s) co_return s.error();
      continue;
    }
    if (b.value().compact_revision != 0) {
      watcher_.reset();
      ++relists_;
      auto rev = std::to_string(revision_);
      auto compacted = std::to_string(b.value().compact_revision);
      log::info("registry", "reflector re-listing after compaction",
                {{"prefix", prefix_}, {"revision", rev}, {"compact_revision", compacted}});
      auto r = co_await list(ReflectorBatch::Kind::resync);
      if (!r || !r.value().changes.empty()) co_return r;
      continue;
    }
    backoff_.reset();
    ReflectorBatch out;
    out.kind = ReflectorBatch::Kind::update;
    apply(b.value(), out);
    log::debug("registry", "reflector update",
               {{"prefix", prefix_},
                {"changes", std::to_string(out.changes.size())},
                {"revision", std::to_string(revision_)}});
    if (!out.changes.empty()) co_return out;
  }
}

Task<Status> Reflector::run(std::function<void(const ReflectorBatch&)> on_batch) {
  for (;;) {
    auto b = co_await next();
    if (!b) co_return b.error();
    on_batch(b.value());
  }
}

}  // namespace fleet::registry
