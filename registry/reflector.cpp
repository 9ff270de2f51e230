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
  std::map<std::string, KeyValue> fresh;
  for (auto& kv : listing.kvs) {
    auto key = kv.key;
    fresh.emplace(std::move(key), std::move(kv));
  }
  ReflectorBatch out;
  out.kind = kind;
  out.revision = listing.revision;
  // Walk both sorted maps at once: vanished keys become dels, new or changed keys puts.
  auto old_it = cache_.begin();
  auto new_it = fresh.begin();
  while (old_it != cache_.end() || new_it != fresh.end()) {
    if (new_it == fresh.end() || (old_it != cache_.end() && old_it->first < new_it->first)) {
      Change c;
      c.type = Change::Type::del;
      c.kv.key = old_it->first;
      c.kv.mod_revision = out.revision;
      c.prev = old_it->second;
      out.changes.push_back(std::move(c));
      ++old_it;
    } else if (old_it == cache_.end() || new_it->first < old_it->first) {
      out.changes.push_back(Change{Change::Type::put, new_it->second, std::nullopt});
      ++new_it;
    } else {
      if (old_it->second.mod_revision != new_it->second.mod_revision)
        out.changes.push_back(Change{Change::Type::put, new_it->second, old_it->second});
      ++old_it;
      ++new_it;
    }
  }
  cache_ = std::move(fresh);
  if (!opts_.keep_values)
    for (auto& [key, kv] : cache_) std::string().swap(kv.value);
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
    auto it = cache_.find(e.kv.key);
    if (e.type == Event::Type::put) {
      std::optional<KeyValue> prev;
      if (it != cache_.end()) prev = it->second;
      KeyValue& cached = cache_[e.kv.key];
      cached = e.kv;
      if (!opts_.keep_values) cached.value.clear();
      out.changes.push_back(Change{Change::Type::put, e.kv, std::move(prev)});
    } else if (it != cache_.end()) {
      out.changes.push_back(Change{Change::Type::del, e.kv, it->second});
      cache_.erase(it);
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
