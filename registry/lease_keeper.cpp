#include "registry/lease_keeper.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "common/loop_affinity.h"

namespace fleet::registry {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

// Timers live in the frames of the coroutines that sleep on them; state changes wake them here.
struct LeaseKeeper::Impl {
  LoopAffinity loop;            // run() binds it; stop() must come from the same thread
  Timer* wake = nullptr;        // run()'s sleep
  std::vector<Timer*> waiters;  // wait_lost() calls
  void notify() {
    if (wake != nullptr) wake->cancel();
    for (auto* w : waiters) w->cancel();
  }
};

namespace {

Task<bool> op_cancelled() {
  auto cs = co_await asio::this_coro::cancellation_state;
  co_return cs.cancelled() != asio::cancellation_type::none;
}

Task<void> sleep_until(LeaseKeeper::Clock::time_point when) {
  Timer t(co_await asio::this_coro::executor, when);
  co_await t.async_wait(asio::as_tuple(asio::use_awaitable));  // cancelled early: just return
}

}  // namespace

std::string_view to_string(LeaseKeeper::State s) {
  switch (s) {
    case LeaseKeeper::State::none:
      return "none";
    case LeaseKeeper::State::held:
      return "held";
    case LeaseKeeper::State::lost:
      return "lost";
    case LeaseKeeper::State::revoked:
      return "revoked";
  }
  return "unknown";
}

LeaseKeeper::LeaseKeeper(KvStore& kv, LeaseKeeperOptions opts)
    : kv_(kv), opts_(opts), impl_(std::make_unique<Impl>()) {}

LeaseKeeper::~LeaseKeeper() = default;

std::chrono::milliseconds LeaseKeeper::local_ttl() const {
  return opts_.local_ttl.count() > 0
             ? opts_.local_ttl
             : std::chrono::duration_cast<std::chrono::milliseconds>(opts_.ttl);
}

void LeaseKeeper::set_state(State s) {
  state_ = s;
  impl_->notify();
  if (on_change_) on_change_(s, id_);
}

void LeaseKeeper::lose(std::string reason) {
  loss_reason_ = std::move(reason);
  auto id = std::to_string(id_);
  log::warn("registry", "lease lost", {{"lease", id}, {"reason", loss_reason_}});
  set_state(State::lost);
}

Task<Result<LeaseId>> LeaseKeeper::adopt(LeaseId id) {
  auto sent = Clock::now();
  auto r = co_await kv_.lease_keepalive(id);
  if (!r) co_return r.error();
  id_ = id;
  ++generation_;
  expires_at_ = sent + std::min<std::chrono::milliseconds>(local_ttl(), r.value());
  renew_at_ = sent + local_ttl() / 3;
  backoff_.reset();
  log::info("registry", "lease adopted", {{"lease", std::to_string(id_)}});
  set_state(State::held);
  co_return id_;
}

Task<Result<LeaseId>> LeaseKeeper::grant() {
  // Our clock starts before the request: the server's TTL cannot have started earlier.
  auto sent = Clock::now();
  auto r = co_await kv_.lease_grant(opts_.ttl);
  if (!r) co_return r.error();
  id_ = r.value();
  ++generation_;
  expires_at_ = sent + local_ttl();
  renew_at_ = sent + local_ttl() / 3;
  backoff_.reset();
  auto id = std::to_string(id_);
  auto ttl = std::to_string(opts_.ttl.count());
  log::info("registry", "lease granted", {{"lease", id}, {"ttl", ttl}});
  set_state(State::held);
  co_return id_;
}

Task<void> LeaseKeeper::keepalive_once() {
  const auto id = id_;
  const auto generation = generation_;
  const auto sent = Clock::now();
  // Race the renewal against our own expiry: a store that does not answer must not keep us
  // believing we hold the lease.
  auto res = co_await (kv_.lease_keepalive(id) || sleep_until(expires_at_));
  if (generation != generation_ || state_ != State::held) co_return;  // superseded meanwhile
  if (res.index() == 1) {
    lose("no keepalive succeeded within the TTL");
    co_return;
  }
  auto& r = std::get<0>(res);
  if (r) {
    expires_at_ = sent + local_ttl();
    renew_at_ = sent + local_ttl() / 3;
    backoff_.reset();
    co_return;
  }
  if (r.error().code == Errc::not_found) {
    lose("lease not found in the store (expired or revoked)");
    co_return;
  }
  renew_at_ = Clock::now() + backoff_.next();
  auto lease = std::to_string(id);
  log::warn("registry", "lease keepalive failed, retrying",
            {{"lease", lease}, {"error", r.error().describe()}});
}

Task<Status> LeaseKeeper::run() {
  impl_->loop.check();
  Timer wake(co_await asio::this_coro::executor);
  impl_->wake = &wake;
  struct Unregister {
    Impl* impl;
    ~Unregister() { impl->wake = nullptr; }
  } unregister{impl_.get()};
  for (;;) {
    if (stopped_) co_return ok();
    if (co_await op_cancelled()) co_return fail(Errc::cancelled, "lease keeper cancelled");
    if (state_ != State::held) {
      wake.expires_at(Clock::time_point::max());
      co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    auto now = Clock::now();
    if (now >= expires_at_) {
      lose("no keepalive succeeded within the TTL");
      continue;
    }
    if (now < renew_at_) {
      wake.expires_at(std::min(renew_at_, expires_at_));
      co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    co_await keepalive_once();
  }
}

Task<Status> LeaseKeeper::revoke() {
  if (state_ != State::held) co_return ok();
  const auto id = id_;
  set_state(State::revoked);  // stop renewing first: we are giving it up either way
  auto r = co_await kv_.lease_revoke(id);
  if (!r && r.error().code != Errc::not_found) co_return r.error();
  auto lease = std::to_string(id);
  log::info("registry", "lease revoked", {{"lease", lease}});
  co_return ok();
}

void LeaseKeeper::stop() {
  impl_->loop.check();
  stopped_ = true;
  impl_->notify();
}

Task<LeaseKeeper::State> LeaseKeeper::wait_lost() {
  if (state_ != State::held) co_return state_;
  const auto generation = generation_;
  Timer t(co_await asio::this_coro::executor, Clock::time_point::max());
  impl_->waiters.push_back(&t);
  while (state_ == State::held && generation == generation_) {
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    if (co_await op_cancelled()) break;
    t.expires_at(Clock::time_point::max());
  }
  std::erase(impl_->waiters, &t);
  co_return state_;
}

}  // namespace fleet::registry
