#pragma once
// LeaseKeeper: holds one KvStore lease and keeps it alive, and says as soon as it is lost.
// The engine's leader lease and an agent's presence lease use it.
//
// grant() obtains a lease of Options::ttl. run() then renews it every TTL/3; a failed renewal is
// retried with capped exponential backoff. The lease counts as lost when the store answers
// not_found (it expired or was revoked server-side) or when no renewal has succeeded within the
// TTL by our own clock, measured from when the last successful request was sent: by then the
// server may have expired it, so holders must stop acting on it even while the store is
// unreachable. Loss is observable through state(), on_change() and wait_lost(); after a loss,
// grant() obtains a new lease and run() keeps that one alive. revoke() gives the lease up on
// shutdown.
//
// Single-threaded: every method is called on the store's loop. run() is meant to be started
// once (co_spawn) and ends after stop() or when its awaiting operation is cancelled.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/backoff.h"
#include "common/clock.h"
#include "registry/kv.h"

namespace fleet::registry {

struct LeaseKeeperOptions {
  std::chrono::seconds ttl{10};
  // The lease lifetime our own clock assumes; zero means `ttl`. Tests shorten it to run in ms.
  std::chrono::milliseconds local_ttl{0};
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{2000};
};

class LeaseKeeper {
 public:
  enum class State {
    none,     // never granted
    held,     // granted and, as far as we know, alive
    lost,     // expired, revoked by someone else, or not renewed in time
    revoked,  // given up by revoke()
  };
  using Clock = fleet::Clock;  // tests advance it (common/testing/clock.h)

  // Borrows `kv`, which must outlive the keeper.
  explicit LeaseKeeper(KvStore& kv, LeaseKeeperOptions opts = {});
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // Grants a new lease and makes it the held one (a lease held before is abandoned to its
  // TTL; revoke() it first to end it now). Errors are the store's; no retry here.
  Task<Result<LeaseId>> grant();

  // Takes over a lease granted earlier (by a previous run of this process) if the store still
  // has it: one keep-alive decides. Errc::not_found when it expired meanwhile.
  Task<Result<LeaseId>> adopt(LeaseId id);

  // Keeps the held lease alive; idles while none is held. Returns ok after stop(), cancelled
  // when the awaiting operation is cancelled.
  Task<Status> run();

  // Stops renewing and revokes the held lease (its keys are deleted). A lease the store no
  // longer knows counts as revoked. Without a held lease it does nothing.
  Task<Status> revoke();

  // Makes run() return.
  void stop();

  // Completes once the lease held at the call is no longer held (lost, revoked or replaced by
  // a new grant) and returns the state then; at once when none is held.
  Task<State> wait_lost();

  // Called on every change of state() (after grant, loss and revoke), with the lease id.
  void on_change(std::function<void(State, LeaseId)> cb) { on_change_ = std::move(cb); }

  State state() const { return state_; }
  bool held() const { return state_ == State::held; }
  LeaseId id() const { return id_; }
  // When our own clock considers the held lease expired unless renewed before.
  Clock::time_point expires_at() const { return expires_at_; }
  // Why the last lease was lost (empty while none was).
  const std::string& loss_reason() const { return loss_reason_; }
  std::chrono::milliseconds local_ttl() const;

 private:
  struct Impl;
  void set_state(State s);
  void lose(std::string reason);
  Task<void> keepalive_once();

  KvStore& kv_;
  LeaseKeeperOptions opts_;
  State state_ = State::none;
  LeaseId id_ = 0;
  std::uint64_t generation_ = 0;  // bumped per grant, so a late reply can't touch a newer lease
  Clock::time_point expires_at_{};
  Clock::time_point renew_at_{};
  Backoff backoff_{opts_.initial_backoff, opts_.max_backoff};
  std::string loss_reason_;
  bool stopped_ = false;
  std::function<void(State, LeaseId)> on_change_;
  std::unique_ptr<Impl> impl_;
};

std::string_view to_string(LeaseKeeper::State s);

}  // namespace fleet::registry
