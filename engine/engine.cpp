#include "engine/engine.h"

#include <malloc.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/loop_affinity.h"
#include "common/metrics.h"
#include "common/sleep.h"
#include "engine/cluster_model.h"
#include "engine/plan_events.h"
#include "engine/planner.h"
#include "registry/lease_keeper.h"
#include "registry/registry.h"

namespace fleet::engine {

namespace net = boost::asio;

namespace {
std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace
using namespace boost::asio::experimental::awaitable_operators;
using registry::Task;
using namespace std::chrono_literals;

struct Engine::Impl {
  Impl(registry::Registry& registry, std::chrono::seconds ttl)
      : owned_keeper(registry.lease_keeper(registry::LeaseKeeperOptions{ttl})),
        keeper(*owned_keeper) {}
  std::unique_ptr<registry::LeaseKeeper> owned_keeper;
  registry::LeaseKeeper& keeper;
  LoopAffinity loop;  // run() binds it; stop() must come from the same thread
  bool stopping = false;
  std::unique_ptr<Timer> stop_timer;  // never expires; cancelled by stop()
};

Engine::Engine(registry::Registry& registry, EngineOptions opts)
    : registry_(registry),
      opts_(std::move(opts)),
      impl_(std::make_unique<Impl>(registry, opts_.lease_ttl)) {}

Engine::~Engine() = default;

void Engine::stop() {
  impl_->loop.check();
  impl_->stopping = true;
  if (impl_->stop_timer) impl_->stop_timer->cancel();
  impl_->keeper.stop();
}

Task<void> Engine::run() {
  impl_->loop.check();
  auto ex = co_await net::this_coro::executor;
  impl_->stop_timer = std::make_unique<Timer>(ex, Timer::time_point::max());
  auto stopped = [this]() -> Task<void> {
    co_await impl_->stop_timer->async_wait(net::as_tuple(net::use_awaitable));
  };
  auto campaign_loop = [this]() -> Task<void> {
    Backoff backoff(std::chrono::milliseconds(100), std::chrono::milliseconds(2000));
    while (!impl_->stopping) {
      if (!impl_->keeper.held()) {
        auto granted = co_await impl_->keeper.grant();
        if (!granted) {
          log::warn("engine", "cannot obtain a lease", {{"error", granted.error().describe()}});
          co_await sleep_for(backoff.next());
          continue;
        }
      }
      registry::Revision seen = 0;
      auto won = co_await registry_.campaign(opts_.machine_id, impl_->keeper.id(), &seen);
      if (!won) {
        log::warn("engine", "campaign failed", {{"error", won.error().describe()}});
        co_await sleep_for(backoff.next());
        continue;
      }
      backoff.reset();
      if (won.value()) {
        co_await lead();
      } else {
        co_await follow(seen);
      }
    }
  };
  co_await (campaign_loop() || impl_->keeper.run() || stopped());
  if (impl_->keeper.held()) {
    (void)co_await registry_.resign(impl_->keeper.id());
    (void)co_await impl_->keeper.revoke();
  }
  stats_.leader = false;
}

Task<void> Engine::follow(registry::Revision seen) {
  // Campaign again as soon as the leader key changes. The watch starts right after the
  // campaign's own read, so no deletion can slip in between; the timer is only a safety net for
  // a stream that died silently. (A new watch every second, as before, cost each follower a
  // connection and a watch per second.)
  auto watcher = registry_.watch_leader(seen);
  Timer timer(co_await net::this_coro::executor,
              std::max<std::chrono::milliseconds>(opts_.lease_ttl, 1s));
  (void)co_await (watcher->next() || timer.async_wait(net::use_awaitable));
  watcher->cancel();
}

// What one term of leadership keeps: the model fed by the cluster watch and the pass signals.
struct Engine::Term {
  Term(registry::Registry& registry, net::any_io_executor ex, registry::LeaseId l)
      : lease(l), feed(registry.watch_cluster()), wake(std::move(ex)) {}
  const registry::LeaseId lease;
  std::unique_ptr<registry::ClusterFeed> feed;
  ClusterModel model;
  Backoff write_retry{std::chrono::milliseconds(200), std::chrono::milliseconds(5000)};
  Timer wake;  // a pass is wanted (cancelled) or the safety-net period passed
  bool dirty = false;
  bool deposed = false;                               // a fenced write failed: another engine leads
  bool passed = false;                                // this term made its first pass
  std::chrono::steady_clock::time_point last_trim{};  // of the event history
  std::optional<std::set<std::string>> machines_seen;  // as of the previous pass
  // When a rolling update must be decided again though nothing is reported (a health window
  // or a timeout ends), in Unix milliseconds.
  std::optional<std::int64_t> rollout_due_ms;
};

Task<void> Engine::lead() {
  stats_.leader = true;
  stats_.leader_since_unix = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
  log::info("engine", "leadership acquired", {{"machine", opts_.machine_id}});
  registry::EventRecord took;
  took.kind = "leader";
  took.machine = opts_.machine_id;
  took.reason = "this machine's engine now places units";
  std::vector<registry::EventRecord> leader_event;
  leader_event.push_back(std::move(took));
  co_await registry_.events().record(std::move(leader_event), "engine");

  Term term(registry_, co_await net::this_coro::executor, impl_->keeper.id());
  auto lost = [&]() -> Task<void> { (void)co_await impl_->keeper.wait_lost(); };
  co_await (follow_cluster(term) || reconcile_loop(term) || lost());
  term.feed->cancel();
  stats_.leader = false;
  if (!impl_->stopping)
    log::warn("engine", term.deposed ? "deposed" : "leadership lost",
              {{"machine", opts_.machine_id}, {"reason", impl_->keeper.loss_reason()}});
}

// Gather: every change of the cluster goes into the model; a change that matters wakes a pass.
Task<void> Engine::follow_cluster(Term& term) {
  while (true) {
    auto batch = co_await term.feed->next();
    if (!batch) co_return;
    // The echo of our own writes changes nothing (write_plan applied them already): planning
    // again for each echoed txn would re-plan the whole cluster ~N/128 times after a mass
    // change and delay the reaction to real events behind that backlog.
    bool changed = batch.value().initial;
    for (const auto& c : batch.value().changes) changed = term.model.apply(c) || changed;
    if (!changed) continue;
    term.dirty = true;
    term.wake.cancel();
  }
}

Task<void> Engine::reconcile_loop(Term& term) {
  while (true) {
    if (!term.dirty || !term.feed->synced()) {
      auto wait = std::chrono::duration_cast<Clock::duration>(opts_.reconcile_interval);
      if (term.rollout_due_ms) {
        auto until = std::chrono::milliseconds(*term.rollout_due_ms - unix_ms() + 1);
        wait = std::min(wait, std::chrono::duration_cast<Clock::duration>(
                                  std::max(until, std::chrono::milliseconds(0))));
      }
      term.wake.expires_after(wait);
      auto [ec] = co_await term.wake.async_wait(net::as_tuple(net::use_awaitable));
      if (!ec) {
        term.dirty = true;  // the periodic safety-net pass
      } else if (term.dirty && term.passed) {
        // Woken by a change: the rest of its burst (a batch request's other txns, the other
        // leases of a lost rack) is usually a few ms behind. Planning on the first txn alone
        // placed 64-128 of 500 units, and the rest waited for that pass's writes and events.
        // (A term's first pass follows a whole listing, with no burst to wait for: a new leader
        // plans at once.)
        co_await sleep_for(opts_.batch_window);
      }
      continue;
    }
    term.dirty = false;
    if (!co_await pass(term)) co_return;  // deposed, or our own shutdown
    term.passed = true;
    co_await reboot_step(term);
    co_await rollout_step(term);
    co_await sleep_for(opts_.batch_window);
  }
}

// One pass: plan on the model, write the plan (fenced), collect unused contents. False when
// this term is over.
Task<bool> Engine::pass(Term& term) {
  auto t0 = std::chrono::steady_clock::now();
  Plan plan;
  std::vector<registry::EventRecord> membership;
  {
    // Freed before the writes: at 100,000 units the snapshot is ~70 MB.
    const ClusterSnapshot snapshot = term.model.snapshot();
    plan = plan_schedule(snapshot);
    // Named, not built inside co_await's arguments (GCC 12, Documentation/development.md).
    membership = membership_events(term.machines_seen, snapshot.machines);
  }
  // The writes are derived before anything is awaited, so from the model the plan was made on
  // (plan_ms in the log is then the pass's own CPU, not also an etcd round trip). Changes the
  // feed applies while they are written mark their units, so the next pass compares those again
  // even where apply_written() then overwrites them in the model.
  registry::ScheduleBatch removals = registry_.schedule_batch();
  registry::ScheduleBatch additions = registry_.schedule_batch();
  term.model.writes_for(plan, removals, additions);
  stats_.units = term.model.unit_count();
  stats_.unschedulable = plan.unschedulable.size();
  const log::Level item = log::item_level(plan.tasks.size());
  if (log::enabled(item))
    for (const auto& t : plan.tasks) log::write(item, "engine", describe(t), {});
  auto t_planned = std::chrono::steady_clock::now();
  co_await registry_.events().record(std::move(membership), "engine");
  if (!removals.empty() || !additions.empty()) {
    auto written = co_await write_plan(term, std::move(removals), std::move(additions));
    if (!written) {
      if (term.deposed || impl_->stopping) co_return false;
      term.dirty = true;
      // etcd refusing writes quickly (quota full, a member cut off) must not be hammered with a
      // full plan every 200 ms.
      co_await sleep_for(term.write_retry.next());
      co_return true;
    }
    term.write_retry.reset();
    term.dirty =
        true;  // one more pass confirms the model converged (its echo will not trigger one)
    auto ms = [](auto d) {
      return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
    };
    // After the writes, not in their transactions: a plan is written in several chunks, and an
    // event lost to a crash between the two is one line of history, not a wrong decision.
    auto decided = plan_events(plan);
    co_await registry_.events().record(std::move(decided), "engine");
    log::info("engine", "pass applied",
              {{"tasks", std::to_string(plan.tasks.size())},
               {"writes", std::to_string(written.value())},
               {"plan_ms", ms(t_planned - t0)},
               {"write_ms", ms(std::chrono::steady_clock::now() - t_planned)}});
    // A large pass's plan, ops and events are freed by now, but glibc keeps the pages: without
    // this a leader that once placed 100,000 units holds that pass's peak for good.
    if (written.value() >= 10000) malloc_trim(0);
  }
  auto unused = term.model.unused_contents();
  if (!unused.empty()) {
    auto st = co_await registry_.collect_contents(unused, term.lease);
    if (!st)
      log::debug("engine", "content collection deferred", {{"error", st.error().describe()}});
  }
  co_await trim_events(term);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ++stats_.passes;
  if (opts_.metrics) opts_.metrics->observe(metrics::families::engine_pass_duration, secs);
  stats_.last_pass_seconds = secs;
  stats_.total_pass_seconds += secs;
  co_return true;
}

// Keeps the event history within its retention: the leader's chore, so one fleetd does it.
Task<void> Engine::trim_events(Term& term) {
  const auto now = std::chrono::steady_clock::now();
  if (term.last_trim != std::chrono::steady_clock::time_point{} &&
      now - term.last_trim < opts_.event_trim_interval)
    co_return;
  term.last_trim = now;
  auto trimmed =
      co_await registry_.events().trim(opts_.event_retention, std::chrono::system_clock::now());
  if (!trimmed) {
    log::warn("engine", "cannot trim events", {{"error", trimmed.error().describe()}});
  } else if (trimmed.value() > 0) {
    log::info("engine", "trimmed events", {{"deleted", std::to_string(trimmed.value())}});
  }
}

// Carries a running rolling reboot one step further (engine/reboot_planner.h). A write that
// lost a race with a user's change is decided again on the next pass.
Task<void> Engine::reboot_step(Term& term) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  auto view = term.model.reboot_view(now);
  if (!view) co_return;
  RebootDecision d = plan_reboots(*view);
  if (!d.changed) co_return;
  // A named argument: GCC 12 frees a temporary built inside a co_await expression twice.
  registry::RebootWrite write{std::move(d.rollout), std::move(d.lock), std::move(d.maintenance),
                              std::move(d.requests)};
  auto st = co_await registry_.write_reboot_step(std::move(write), term.lease);
  if (!st) {
    log::warn("engine", "reboot rollout step not written", {{"error", st.error().describe()}});
    co_return;
  }
  for (const auto& e : d.events) log::info("engine", e, {{"machine", opts_.machine_id}});
}

// Carries each rolling update in progress one step further (engine/rollout_planner.h). The unit
// records it changes are applied to the model at once, so the next pass schedules them without
// waiting for their echo. A write that lost a race with a user's change is decided again.
Task<void> Engine::rollout_step(Term& term) {
  term.rollout_due_ms.reset();
  auto views = term.model.rollout_views(unix_ms());
  for (const auto& view : views) {
    RolloutDecision d = plan_rollout(view);
    if (d.wake_at_ms && (!term.rollout_due_ms || *d.wake_at_ms < *term.rollout_due_ms))
      term.rollout_due_ms = d.wake_at_ms;
    if (!d.changed) continue;
    // As written, for the model (their echo arrives later).
    std::vector<registry::ClusterChange> written;
    for (const auto& u : d.writes) written.emplace_back(registry::cluster::Unit{u.name, u});
    written.emplace_back(registry::cluster::UnitRolloutSet{d.rollout.name, d.rollout});
    registry::RolloutWrite write{std::move(d.rollout), std::move(d.writes)};
    auto rev = co_await registry_.write_rollout_step(std::move(write), term.lease);
    if (!rev) {
      log::warn("engine", "rollout step not written",
                {{"unit", view.rollout.name}, {"error", rev.error().describe()}});
      term.dirty = true;
      continue;
    }
    for (auto& c : written) {
      if (auto* u = std::get_if<registry::cluster::Unit>(&c)) u->record->mod_revision = rev.value();
      if (auto* r = std::get_if<registry::cluster::UnitRolloutSet>(&c))
        r->rollout->mod_revision = rev.value();
      term.model.apply(c);
    }
    term.dirty = true;  // the changed units are scheduled on the next pass
    for (const auto& e : d.events)
      log::info("engine", e.reason, {{"unit", e.unit}, {"machine", e.machine}});
    co_await registry_.events().record(std::move(d.events), "engine");
  }
}

// Writes removals first (see ClusterModel::writes_for), then additions; each phase has txns in
// flight at once. The number of ops written, or the failure (term.deposed when fenced off).
// A large plan goes in parts of kPlanPartOps ops, each applied to the model once written:
// only one part's changes are held at a time (at 100,000 units the changes of a whole plan were
// ~80 MB next to its ops), and the model follows the writes as they are made.
Task<Result<std::size_t>> Engine::write_plan(Term& term, registry::ScheduleBatch removals,
                                             registry::ScheduleBatch additions) {
  constexpr std::size_t kPlanPartOps = 16384;
  std::vector<registry::ScheduleBatch> parts = removals.split(kPlanPartOps);
  for (auto& part : additions.split(kPlanPartOps)) parts.push_back(std::move(part));
  std::size_t ops = 0;
  Status st = ok();
  for (auto& part : parts) {
    // Our own writes echo back through the feed later; applying them to the model as soon as
    // they are written keeps the next pass from planning on a model that does not know them yet
    // (which could move a unit twice).
    auto written = part.changes();
    const std::size_t n = part.size();
    st = co_await registry_.apply(std::move(part), term.lease);
    if (!st) break;
    for (const auto& c : written) term.model.apply_written(c);
    ops += n;
  }
  if (!st) {
    // Some txns may have been written and some not: the next pass compares every unit again.
    term.model.rewrite_all();
    if (st.error().code == Errc::conflict) {
      log::warn("engine", "leadership lost: writes fenced off", {{"machine", opts_.machine_id}});
      term.deposed = true;
    } else if (!impl_->stopping) {  // our own shutdown cancelled the write: nothing to report
      ++stats_.pass_failures;
      log::warn("engine", "writing the plan failed", {{"error", st.error().describe()}});
    }
    co_return st.error();
  }
  stats_.writes += ops;
  co_return ops;
}

}  // namespace fleet::engine
