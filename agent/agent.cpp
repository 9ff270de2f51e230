#include "agent/agent.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "agent/agent_plan.h"
#include "agent/state_events.h"
#include "agent/unit_manager.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/loop_affinity.h"
#include "common/sleep.h"
#include "registry/registry.h"
#include "unitfile/requirements.h"
#include "unitfile/unit_file.h"

namespace fleet::agent {

namespace net = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

struct Agent::Impl {
  Impl(registry::Registry& registry, std::chrono::seconds ttl)
      : owned_keeper(registry.lease_keeper(registry::LeaseKeeperOptions{ttl})),
        keeper(*owned_keeper) {}
  std::unique_ptr<registry::LeaseKeeper> owned_keeper;
  registry::LeaseKeeper& keeper;
  LoopAffinity loop;  // run() binds it; stop() must come from the same thread
  bool stopping = false;
  bool dirty = true;
  std::unique_ptr<Timer> wake;                     // reconcile signal
  std::unique_ptr<Timer> publish;                  // state flush signal
  std::unique_ptr<Timer> stop_timer;               // cancelled by stop()
  std::vector<std::string> start_queue;            // planned starts not yet sent to systemd
  std::unique_ptr<Timer> start_wake;               // start_queue signal
  std::vector<std::string> unload_queue;           // planned unloads not yet sent to systemd
  std::unique_ptr<Timer> unload_wake;              // unload_queue signal
  std::unique_ptr<registry::AssignmentFeed> feed;  // this machine's assignments, once announced
  // Pause before a start batch lost to an unreachable systemd is planned again (start_loop).
  Backoff start_retry{std::chrono::milliseconds(250), std::chrono::milliseconds(10000)};
  // Pause before units whose unload found systemd unreachable are planned again (unload_loop).
  Backoff unload_retry{std::chrono::milliseconds(250), std::chrono::milliseconds(10000)};
};

namespace {

// Empty when the file cannot be read.
std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> names_of(const std::vector<AgentTask>& tasks, TaskKind kind) {
  std::vector<std::string> out;
  for (const auto& t : tasks)
    if (t.kind == kind) out.push_back(t.unit);
  return out;
}

}  // namespace

Agent::Agent(registry::Registry& registry, UnitManager& units, AgentOptions opts)
    : registry_(registry),
      units_(units),
      opts_(std::move(opts)),
      impl_(std::make_unique<Impl>(registry, opts_.ttl)) {}

Agent::~Agent() { units_.on_state_change(nullptr); }

void Agent::stop() {
  impl_->loop.check();
  impl_->stopping = true;
  if (impl_->stop_timer) impl_->stop_timer->cancel();
  impl_->keeper.stop();
}

Task<bool> Agent::stop_for_signal() {
  auto stopping = co_await units_.system_stopping();
  const bool shutdown = stopping && stopping.value();
  if (!stopping)
    log::warn("agent", "cannot tell whether the host is shutting down; keeping the machine",
              {{"machine", opts_.machine.id}, {"error", stopping.error().describe()}});
  impl_->stopping = true;  // nothing reacts to the revoke below as to a lost lease
  if (shutdown && impl_->keeper.held()) {
    log::info("agent", "host shutting down: handing the machine's units over",
              {{"machine", opts_.machine.id}, {"units", std::to_string(file_hash_.size())}});
    if (auto st = co_await impl_->keeper.revoke(); !st)
      log::warn("agent", "hand-over failed; the units move after the TTL",
                {{"machine", opts_.machine.id}, {"error", st.error().describe()}});
  }
  stop();
  co_return shutdown;
}

Task<void> Agent::acquire_lease() {
  // A lease that outlived a fleetd restart still carries our machine record and states:
  // resuming it is what lets the restart go unnoticed by the engine.
  std::string saved = read_file(opts_.lease_file);
  if (!saved.empty()) {
    registry::LeaseId id = 0;
    try {
      id = std::stoll(saved);
    } catch (...) {
      id = 0;
    }
    if (id != 0) {
      auto resumed = co_await impl_->keeper.adopt(id);
      if (resumed) {
        log::info("agent", "resumed machine lease", {{"machine", opts_.machine.id}});
        co_return;
      }
    }
  }
  Backoff backoff(std::chrono::milliseconds(100), std::chrono::milliseconds(5000));
  while (!impl_->stopping) {
    auto granted = co_await impl_->keeper.grant();
    if (granted) {
      std::filesystem::create_directories(std::filesystem::path(opts_.lease_file).parent_path());
      std::ofstream(opts_.lease_file, std::ios::trunc) << granted.value() << '\n';
      log::info("agent", "machine lease granted", {{"machine", opts_.machine.id}});
      co_return;
    }
    log::warn("agent", "cannot obtain a machine lease",
              {{"machine", opts_.machine.id}, {"error", granted.error().describe()}});
    co_await sleep_for(backoff.next());
  }
}

Task<void> Agent::announce() {
  Backoff backoff(std::chrono::milliseconds(100), std::chrono::milliseconds(5000));
  while (!impl_->stopping && impl_->keeper.held()) {
    auto st = co_await registry_.claim_machine(opts_.machine, impl_->keeper.id());
    if (st) co_return;
    log::warn("agent", "cannot announce machine",
              {{"machine", opts_.machine.id}, {"error", st.error().describe()}});
    co_await sleep_for(backoff.next());
  }
}

void Agent::observe(const UnitStatus& s, std::uint64_t as_of) {
  auto it = file_hash_.find(s.name);
  if (it == file_hash_.end()) return;  // not a unit of ours
  auto& newest = observed_at_[s.name];
  if (as_of < newest) return;  // asked for before a report already taken in (observations_)
  newest = as_of;
  registry::UnitStateRecord rec{s.name,       opts_.machine.id, it->second,
                                s.load_state, s.active_state,   s.sub_state};
  auto pub = published_.find(s.name);
  if (pub != published_.end() && pub->second == rec) {
    pending_.erase(s.name);
    return;
  }
  pending_[s.name] = std::move(rec);
  if (impl_->publish) impl_->publish->cancel();
}

namespace {

// Events kept for a later flush while the registry refuses them (one per state change of a
// unit); beyond this many the oldest go, counted (AgentStats::events_dropped) and logged.
constexpr std::size_t kMaxUnrecordedEvents = 1000;

}  // namespace

// The publish loop is the one writer of this machine's states: a state write and a deletion
// sent side by side may be applied in either order, and a write of a unit's last state that
// etcd applied after the unload's deletion left that state there for as long as the machine
// lived (a drain then waited for a unit that had long moved).
Task<void> Agent::flush_states() {
  if (!impl_->keeper.held()) co_return;
  if (!unpublish_.empty()) {
    std::vector<std::string> gone(unpublish_.begin(), unpublish_.end());
    auto st = co_await registry_.delete_states(opts_.machine.id, gone);
    if (!st) {
      log::warn("agent", "removing unit states failed",
                {{"machine", opts_.machine.id}, {"error", st.error().describe()}});
      co_return;  // kept; retried on the next flush
    }
    // No write of these was sent meanwhile (this is the only writer), so none is left behind.
    for (const auto& n : gone) unpublish_.erase(n);
  }
  if (pending_.empty()) {                     // only events an earlier flush could not write
    std::vector<registry::EventRecord> none;  // (named: GCC 12 and temporaries in co_await)
    co_await record_events(std::move(none));
    co_return;
  }
  std::vector<registry::UnitStateRecord> batch;
  batch.reserve(pending_.size());
  for (auto& [name, rec] : pending_) batch.push_back(rec);
  auto st = co_await registry_.put_states(batch, impl_->keeper.id());
  if (!st) {
    log::warn("agent", "publishing unit states failed",
              {{"machine", opts_.machine.id}, {"error", st.error().describe()}});
    co_return;  // kept pending; retried on the next flush
  }
  std::vector<registry::EventRecord> events;
  for (auto& rec : batch) {
    auto it = pending_.find(rec.unit);
    if (it != pending_.end() && it->second == rec) pending_.erase(it);
    auto prev = published_.find(rec.unit);
    auto e = state_event(prev == published_.end() ? nullptr : &prev->second, rec);
    if (e) events.push_back(std::move(*e));
    // Unloaded while this write was in flight: its state is deleted, not published.
    if (file_hash_.count(rec.unit)) published_[rec.unit] = std::move(rec);
  }
  stats_.states_published += batch.size();
  co_await record_events(std::move(events));
}

// Appends the events of a flush after those an earlier flush could not write. A failed write
// keeps them all for the next flush (the publish loop comes back while any are kept), so a
// flaky registry delays the history instead of losing it; each keeps the time it happened.
Task<void> Agent::record_events(std::vector<registry::EventRecord> events) {
  if (events.empty() && unrecorded_events_.empty()) co_return;
  const std::string now = log::timestamp_now();
  for (auto& e : events)
    if (e.time.empty()) e.time = now;
  std::vector<registry::EventRecord> all = std::move(unrecorded_events_);
  unrecorded_events_.clear();
  all.insert(all.end(), std::make_move_iterator(events.begin()),
             std::make_move_iterator(events.end()));
  std::vector<registry::EventRecord> attempt = all;  // (named: GCC 12, temporaries in co_await)
  auto st = co_await registry_.events().append(std::move(attempt));
  if (st) co_return;
  if (all.size() > kMaxUnrecordedEvents) {
    const std::size_t dropped = all.size() - kMaxUnrecordedEvents;
    all.erase(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(dropped));
    stats_.events_dropped += dropped;
    log::warn("agent", "events dropped",
              {{"machine", opts_.machine.id}, {"events", std::to_string(dropped)}});
  }
  log::warn("agent", "cannot record events, kept for the next flush",
            {{"machine", opts_.machine.id},
             {"events", std::to_string(all.size())},
             {"error", st.error().describe()}});
  unrecorded_events_ = std::move(all);
}

// One pass, in named steps: gather the current state (contents, files, systemd's view), plan
// (agent_plan.h), execute the plan.
Task<bool> Agent::reconcile_pass() {
  // The assignments as of now: follow() changes desired_ while this pass awaits, and a unit
  // planned without its content fetched made the load throw (which ended the agent). Later
  // changes mark the agent dirty, so the next pass takes them.
  const std::map<std::string, registry::Assignment> desired = desired_;
  if (!co_await fetch_contents(desired)) co_return false;
  adopt_files_on_disk();
  auto current = co_await gather_current();
  if (!current) co_return false;

  std::map<std::string, DesiredUnit> want;
  for (const auto& [name, a] : desired) want[name] = DesiredUnit{a.hash, a.desired};
  auto tasks = plan_agent(want, *current);
  // Units still being unloaded are planned again once the unloader is done, and so are the
  // other tasks of units this pass unloads (new content: unload, then load and start): loading
  // while the unloader stops the unit and deletes its file would race with it.
  std::set<std::string> unloads;
  for (const auto& t : tasks)
    if (t.kind == TaskKind::unload) unloads.insert(t.unit);
  std::erase_if(tasks, [&](const AgentTask& t) {
    return unloading_.count(t.unit) > 0 || (t.kind != TaskKind::unload && unloads.count(t.unit));
  });
  ++stats_.passes;
  if (tasks.empty()) co_return true;
  const log::Level item = log::item_level(tasks.size());
  if (log::enabled(item))
    for (const auto& t : tasks)
      log::write(item, "agent", to_string(t.kind),
                 {{"unit", t.unit}, {"machine", opts_.machine.id}, {"reason", t.reason}});
  if (item != log::Level::info) {
    std::map<std::string_view, std::size_t> kinds;
    for (const auto& t : tasks) ++kinds[to_string(t.kind)];
    std::string counts;
    for (const auto& [k, n] : kinds)
      counts += (counts.empty() ? "" : " ") + std::string(k) + ":" + std::to_string(n);
    log::info("agent", "pass tasks", {{"machine", opts_.machine.id}, {"tasks", counts}});
  }

  const bool reached = co_await execute(tasks, desired, *current);
  // Signals cover later changes; one listing of the units this pass loaded or stopped makes
  // their new states visible right away. Units queued to start are listed by their starter
  // once their jobs are done: listed now, systemd would load each new one only to free it again
  // (nothing holds an inactive unit), a load more per unit than its start costs.
  const std::set<std::string> queued(impl_->start_queue.begin(), impl_->start_queue.end());
  std::set<std::string> touched_set;
  for (const auto& t : tasks)
    if (file_hash_.count(t.unit) && !queued.count(t.unit) && !unloading_.count(t.unit))
      touched_set.insert(t.unit);
  std::vector<std::string> touched(touched_set.begin(), touched_set.end());
  if (!touched.empty()) {
    const std::uint64_t as_of = ++observations_;
    if (auto listed = co_await units_.list(touched))
      for (const auto& s : listed.value()) observe(s, as_of);
  }
  stats_.units = file_hash_.size();
  co_return reached;
}

Task<bool> Agent::fetch_contents(const std::map<std::string, registry::Assignment>& desired) {
  // Contents are immutable per hash: fetch each one once, all missing ones in txns of gets (one
  // by one, 200 fresh units cost a round trip each while systemd waited for work).
  std::set<std::string> wanted;
  for (const auto& [name, a] : desired)
    if (a.desired != registry::TargetState::inactive && !contents_.count(a.hash))
      wanted.insert(a.hash);
  if (wanted.empty()) co_return true;
  const std::vector<std::string> missing(wanted.begin(), wanted.end());
  auto fetched = co_await registry_.get_contents(missing);
  if (!fetched) {
    log::warn("agent", "cannot fetch unit contents",
              {{"machine", opts_.machine.id}, {"error", fetched.error().describe()}});
    co_return false;
  }
  for (auto& [hash, text] : fetched.value()) contents_[hash] = std::move(text);
  if (fetched.value().size() == missing.size()) co_return true;
  for (const auto& hash : missing)
    if (!contents_.count(hash))
      log::warn("agent", "unit content missing", {{"hash", hash}, {"machine", opts_.machine.id}});
  co_return false;
}

void Agent::adopt_files_on_disk() {
  for (const auto& name : units_.files_on_disk()) {
    if (file_hash_.count(name)) continue;
    // Loaded again instead while it should run here; adopted (and so unloaded) otherwise.
    if (auto d = desired_.find(name); load_failed_.count(name) && d != desired_.end() &&
                                      d->second.desired != registry::TargetState::inactive)
      continue;
    load_failed_.erase(name);
    // An unreadable file has an unknown hash: it is adopted rather than replaced.
    std::string text = read_file(opts_.units_dir + "/" + name);
    file_hash_[name] = text.empty() ? std::string() : unitfile::sha1_hex(text);
  }
}

Task<std::optional<std::map<std::string, CurrentUnit>>> Agent::gather_current() {
  std::map<std::string, CurrentUnit> current;
  std::vector<std::string> names;
  for (const auto& [name, h] : file_hash_) names.push_back(name);
  if (names.empty()) co_return current;
  const std::uint64_t as_of = ++observations_;
  auto listed = co_await units_.list(names);
  if (!listed) {
    log::warn("agent", "cannot list units", {{"error", listed.error().describe()}});
    co_return std::nullopt;
  }
  for (const auto& s : listed.value()) {
    // Unloaded while the listing was in flight (the unloader runs beside passes): no longer
    // ours, and its entry must not come back.
    auto hash = file_hash_.find(s.name);
    if (hash == file_hash_.end()) continue;
    CurrentUnit cu{hash->second, s.active_state, start_requested_.count(s.name) > 0};
    if (unloading_.count(s.name)) {
      current[s.name] = cu;  // planned again once unloaded (reconcile_pass)
      continue;
    }
    // Adoption after a restart: a unit already running counts as started by us (not one being
    // held stopped: a listing from before its stop would otherwise keep it from restarting).
    if (is_running_state(s.active_state) && !held_.count(s.name)) start_requested_.insert(s.name);
    current[s.name] = cu;
    observe(s, as_of);
  }
  co_return current;
}

void Agent::report(const Status& st, std::string_view what) {
  if (st) return;
  ++stats_.task_failures;
  log::warn("agent", std::string(what) + " failed",
            {{"machine", opts_.machine.id}, {"error", st.error().describe()}});
}

// Queues unloads for the unloader, loads, stops, then queues starts for the starters.
Task<bool> Agent::execute(const std::vector<AgentTask>& tasks,
                          const std::map<std::string, registry::Assignment>& desired,
                          const std::map<std::string, CurrentUnit>& current) {
  bool reached = true;
  queue_unloads(names_of(tasks, TaskKind::unload));
  if (auto load = names_of(tasks, TaskKind::load); !load.empty()) {
    std::vector<UnitFileSpec> specs;
    for (const auto& n : load) {
      const auto& a = desired.at(n);
      specs.push_back({n, contents_.at(a.hash)});
      file_hash_[n] = a.hash;
    }
    auto loaded = co_await units_.load(std::move(specs));
    if (loaded) {
      for (const auto& n : load) load_failed_.erase(n);
    } else {
      for (const auto& n : load) {
        file_hash_.erase(n);
        load_failed_.insert(n);
      }
      reached = loaded.error().code != Errc::unavailable;
    }
    report(loaded, "load");
  }
  auto stop = names_of(tasks, TaskKind::stop);
  if (disconnected_) {
    // Out of touch, no StopOnDisconnect unit may run here (e.g. its stop failed): stop it again.
    for (const auto& [name, cu] : current)
      if (is_running_state(cu.active_state) && stops_on_disconnect(name) &&
          std::find(stop.begin(), stop.end(), name) == stop.end()) {
        held_.insert(name);
        stop.push_back(name);
      }
  }
  if (!stop.empty()) {
    for (const auto& n : stop) start_requested_.erase(n);
    report(co_await units_.stop(stop), "stop");
  }
  queue_starts(names_of(tasks, TaskKind::start));
  co_return reached;
}

void Agent::queue_starts(std::vector<std::string> start) {
  // Out of touch, a StopOnDisconnect unit may already run elsewhere: it starts once we are back
  // and the registry still assigns it to us (reconnect()).
  std::erase_if(start, [&](const std::string& n) {
    if (disconnected_ && stops_on_disconnect(n)) held_.insert(n);
    return held_.count(n) > 0;
  });
  if (start.empty()) return;
  // Marked now: a unit that fails to start is reported failed, not retried in a loop.
  for (const auto& n : start) start_requested_.insert(n);
  // The starter runs the jobs, so the next pass can fetch and load units assigned meanwhile
  // while systemd works through these (waiting here left systemd idle between passes).
  impl_->start_queue.insert(impl_->start_queue.end(), start.begin(), start.end());
  impl_->start_wake->cancel();
}

void Agent::queue_unloads(const std::vector<std::string>& unload) {
  if (unload.empty()) return;
  for (const auto& n : unload) {
    start_requested_.erase(n);  // also keeps a queued start from running
    unloading_.insert(n);
  }
  impl_->unload_queue.insert(impl_->unload_queue.end(), unload.begin(), unload.end());
  impl_->unload_wake->cancel();
}

// Runs the unloads reconcile passes queue, so that a pass does not wait for their stop jobs:
// units taken away in a burst arrive over several passes (the engine's writes commit one txn at
// a time), and with the unload inside the pass each later part waited for the stops of the part
// before. Several run at once (run()), so that a unit slow to stop holds up only its own batch;
// a unit is queued once until its unload is over (unloading_), so never unloaded twice at once.
Task<void> Agent::unload_loop() {
  while (true) {
    if (impl_->unload_queue.empty()) {
      // Never expires (run()); queue_unloads() cancels every idle unloader's wait.
      co_await impl_->unload_wake->async_wait(net::as_tuple(net::use_awaitable));
      continue;
    }
    std::vector<std::string> batch = std::exchange(impl_->unload_queue, {});
    auto unloaded = co_await units_.unload(batch);
    report(unloaded, "unload");
    if (!unloaded && unloaded.error().code == Errc::unavailable) {
      // systemd unreachable: the units are still there and still ours; planned again after a
      // pause (passes then see them as they are).
      co_await sleep_for(impl_->unload_retry.next());
      for (const auto& n : batch) unloading_.erase(n);
      request_pass();
      continue;
    }
    impl_->unload_retry.reset();
    for (const auto& n : batch) {
      unloading_.erase(n);
      start_requested_.erase(n);
      observed_at_.erase(n);
      file_hash_.erase(n);
      published_.erase(n);
      pending_.erase(n);
    }
    stats_.units = file_hash_.size();
    unpublish_.insert(batch.begin(), batch.end());
    if (impl_->publish) impl_->publish->cancel();
    // Passes left these units alone meanwhile; one of them may be assigned here again (its new
    // state is written after the deletion: flush_states()).
    request_pass();
  }
}

bool Agent::stops_on_disconnect(const std::string& unit) {
  auto h = file_hash_.find(unit);
  if (h == file_hash_.end()) return false;
  if (auto known = stop_on_disconnect_.find(h->second); known != stop_on_disconnect_.end())
    return known->second;
  auto c = contents_.find(h->second);
  // An adopted unit (after a fleetd restart) may have no fetched content yet: read its file.
  std::string text = c != contents_.end() ? c->second : read_file(opts_.units_dir + "/" + unit);
  auto parsed = unitfile::UnitFile::parse(text);
  bool stop = parsed && unitfile::requirements_of(parsed.value(), unit).stop_on_disconnect;
  stop_on_disconnect_[h->second] = stop;  // contents are immutable per hash
  return stop;
}

Task<void> Agent::disconnect(std::string why) {
  disconnected_ = true;
  std::vector<std::string> stop;
  for (const auto& [name, hash] : file_hash_)
    if (stops_on_disconnect(name)) stop.push_back(name);
  if (stop.empty()) co_return;
  for (const auto& n : stop) {
    start_requested_.erase(n);  // also keeps a queued start from running
    held_.insert(n);
    log::warn("agent", "stop",
              {{"unit", n}, {"machine", opts_.machine.id}, {"reason", "StopOnDisconnect: " + why}});
  }
  stats_.disconnect_stops += stop.size();
  if (auto st = co_await units_.stop(stop); !st) {
    ++stats_.task_failures;
    log::warn("agent", "stop failed",
              {{"machine", opts_.machine.id}, {"error", st.error().describe()}});
  }
}

Task<void> Agent::reconnect() {
  if (!held_.empty()) {
    // The engine may have moved held units away meanwhile, and our watch may still be catching
    // up: nothing starts again before the assignments as of now are known.
    auto fresh = co_await registry_.list_assignments(opts_.machine.id);
    if (!fresh) {
      log::warn("agent", "cannot re-read assignments",
                {{"machine", opts_.machine.id}, {"error", fresh.error().describe()}});
      co_return;  // still out of touch; the guard tries again
    }
    // desired_ stays the feed's (overwriting it could drop a newer change the feed applied while
    // this read was in flight). A held unit the registry no longer assigns to us stays held until
    // the feed delivers that removal (follow_assignments releases it then); the others may start.
    std::set<std::string> still_ours;
    for (const auto& a : fresh.value()) still_ours.insert(a.unit);
    std::size_t released = 0;
    for (auto it = held_.begin(); it != held_.end();) {
      if (!still_ours.count(*it)) {
        ++it;
        continue;
      }
      start_requested_.erase(*it);
      it = held_.erase(it);
      ++released;
    }
    log::info("agent", "back in touch with the registry",
              {{"machine", opts_.machine.id},
               {"released", std::to_string(released)},
               {"moved_away", std::to_string(held_.size())}});
  }
  disconnected_ = false;
  request_pass();
}

// Watches the machine lease by our own clock: out of touch once it has gone unrenewed for 3/4
// of its TTL (the engine acts only after the whole TTL, as the registry expires it), back once it
// is renewed again.
Task<void> Agent::guard_connection() {
  using Clock = registry::LeaseKeeper::Clock;
  const auto margin = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.ttl) / 4;
  const auto poll = std::min(margin, std::chrono::milliseconds(1000));
  Timer timer(co_await net::this_coro::executor);
  while (true) {
    if (impl_->stopping) co_return co_await until_stopped();  // the group ends with stop()
    auto& keeper = impl_->keeper;
    const bool fresh = keeper.held() && Clock::now() < keeper.expires_at() - margin;
    if (!fresh && !disconnected_) {
      co_await disconnect(keeper.held() ? "machine lease not renewed for 3/4 of its TTL"
                                        : "machine lease lost");
    } else if (fresh && disconnected_) {
      co_await reconnect();
    }
    if (!disconnected_ && keeper.held()) {
      timer.expires_at(keeper.expires_at() - margin);
    } else {
      timer.expires_after(poll);
    }
    co_await timer.async_wait(net::as_tuple(net::use_awaitable));
  }
}

// Nothing else runs before the machine is announced, but its lease must be renewed meanwhile:
// after a reboot the claim waits for the previous boot's record (same machine ID) to expire, a
// whole TTL, and an unrenewed lease expired during that wait (announce then failed forever with
// "requested lease not found").
Task<void> Agent::join() {
  while (!impl_->stopping) {
    if (!impl_->keeper.held()) co_await acquire_lease();
    co_await announce();
    if (impl_->keeper.held()) co_return;
  }
}

// A rolling reboot asks for the boot it saw; after the reboot the same request names an older
// boot and is ignored until the engine withdraws it.
Task<void> Agent::reboot_if_asked(const std::string& boot) {
  if (boot.empty() || boot != opts_.machine.boot_id || rebooting_) co_return;
  log::info("agent", "rebooting at the cluster's request (rolling reboot)",
            {{"machine", opts_.machine.id}});
  auto st = co_await units_.reboot();
  if (!st) {
    log::warn("agent", "reboot failed",
              {{"machine", opts_.machine.id}, {"error", st.error().describe()}});
    co_return;
  }
  rebooting_ = true;
}

void Agent::request_pass() {
  impl_->dirty = true;
  impl_->wake->cancel();
}

Task<void> Agent::follow_assignments() {
  while (true) {
    auto changes = co_await impl_->feed->next();
    if (!changes) co_return;
    for (auto& c : changes.value()) {
      if (c.unit.empty()) {
        if (c.reboot_from) co_await reboot_if_asked(*c.reboot_from);
        continue;
      }
      if (c.assignment) {
        // A content sent along is kept like a fetched one (contents are immutable per hash),
        // after checking that it is the one the hash names.
        std::string& text = c.assignment->content;
        if (!text.empty() && !contents_.count(c.assignment->hash) &&
            unitfile::sha1_hex(text) == c.assignment->hash)
          contents_[c.assignment->hash] = std::move(text);
        c.assignment->content.clear();
        desired_[c.unit] = std::move(*c.assignment);
      } else {
        desired_.erase(c.unit);
        held_.erase(c.unit);  // no longer ours: nothing to start again
      }
    }
    request_pass();
  }
}

Task<void> Agent::reconcile_loop() {
  // A pass that cannot read etcd or systemd is retried after a growing pause: at once, it would
  // spin on the error (systemd's failures come back without waiting), starve the API on the
  // same loop and write its warning thousands of times a second.
  Backoff retry(std::chrono::milliseconds(250), std::chrono::milliseconds(10000));
  while (true) {
    // Until the first listing of our assignments arrives there is nothing to compare with.
    if (!impl_->dirty || !impl_->feed->synced()) {
      impl_->wake->expires_after(opts_.resync_interval);
      auto [ec] = co_await impl_->wake->async_wait(net::as_tuple(net::use_awaitable));
      if (!ec) {
        published_.clear();  // the periodic resync republishes every state
        impl_->dirty = true;
      }
      continue;
    }
    impl_->dirty = false;
    if (co_await reconcile_pass()) {
      retry.reset();
      continue;
    }
    impl_->dirty = true;
    co_await sleep_for(retry.next());
  }
}

Task<void> Agent::publish_loop() {
  while (true) {
    if (pending_.empty() && unrecorded_events_.empty() && unpublish_.empty()) {
      impl_->publish->expires_at(Timer::time_point::max());
      co_await impl_->publish->async_wait(net::as_tuple(net::use_awaitable));
    }
    co_await sleep_for(opts_.publish_delay);
    co_await flush_states();
    if (!pending_.empty() || !unrecorded_events_.empty() || !unpublish_.empty())
      co_await sleep_for(std::chrono::milliseconds(500));
  }
}

// Runs the start jobs reconcile passes queue; a unit stopped or unloaded since it was queued is
// skipped. Several of these run at once (run()): each waits for its batch's jobs to finish, and
// with one, the units a later pass loaded waited for the slowest job of the batch before (all
// jobs queued in systemd at once, as `systemctl start` of them all does, is what keeps systemd
// busy).
Task<void> Agent::start_loop() {
  while (true) {
    if (impl_->start_queue.empty()) {
      // Never expires (run()); queue_starts() cancels the waits of every idle starter. (Setting
      // the expiry here would cancel the other starters' waits, which would set it again.)
      co_await impl_->start_wake->async_wait(net::as_tuple(net::use_awaitable));
      continue;
    }
    std::vector<std::string> batch;
    for (auto& n : std::exchange(impl_->start_queue, {}))
      if (start_requested_.count(n) && file_hash_.count(n)) batch.push_back(std::move(n));
    if (batch.empty()) continue;  // the queue is empty now: the next round waits
    log::info("agent", "starting units",
              {{"machine", opts_.machine.id}, {"units", std::to_string(batch.size())}});
    auto st = co_await units_.start(batch);
    log::info("agent", "start jobs done",
              {{"machine", opts_.machine.id}, {"units", std::to_string(batch.size())}});
    if (!st) {
      ++stats_.task_failures;
      log::warn("agent", "start failed",
                {{"machine", opts_.machine.id}, {"error", st.error().describe()}});
      // Lost with the bus connection or with systemd leaving the bus: these starts are not
      // failed starts (which are not retried), so the next pass starts what did not start; it
      // backs off while systemd stays unreachable. A unit that did start is running, and the
      // pass's listing marks it started again.
      if (st.error().code == Errc::unavailable) {
        // After a pause: when systemd left the bus and came back at once, the pass's listing
        // works, so the pass itself would not back off, and the starts would repeat at once
        // for as long as systemd keeps dropping them. Still marked requested meanwhile, so no
        // pass plans them again before the pause is over.
        co_await sleep_for(impl_->start_retry.next());
        for (const auto& n : batch) start_requested_.erase(n);
        request_pass();
      }
    } else {
      impl_->start_retry.reset();
    }
    // Signals cover later changes; one listing makes the new states visible right away.
    const std::uint64_t as_of = ++observations_;
    if (auto listed = co_await units_.list(batch))
      for (const auto& s : listed.value()) observe(s, as_of);
    // A pass that stopped or unloaded one of these while its start was in flight ran first: the
    // next pass sees what systemd did and undoes it.
    for (const auto& n : batch) {
      if (start_requested_.count(n) && file_hash_.count(n)) continue;
      request_pass();
      break;
    }
  }
}

Task<void> Agent::keep_lease() {
  while (true) {
    (void)co_await impl_->keeper.wait_lost();
    stats_.lease_held = false;
    // Stopping (a hand-over revokes the lease on purpose): the group ends with stop(), not here,
    // so the revoke in flight completes.
    if (impl_->stopping) co_return co_await until_stopped();
    log::warn("agent", "machine lease lost",
              {{"machine", opts_.machine.id}, {"reason", impl_->keeper.loss_reason()}});
    co_await acquire_lease();
    co_await announce();
    stats_.lease_held = impl_->keeper.held();
    published_.clear();  // states vanished with the old lease
    request_pass();
  }
}

Task<void> Agent::until_stopped() {
  co_await impl_->stop_timer->async_wait(net::as_tuple(net::use_awaitable));
}

Task<void> Agent::run() {
  impl_->loop.check();
  auto ex = co_await net::this_coro::executor;
  impl_->wake = std::make_unique<Timer>(ex);
  impl_->publish = std::make_unique<Timer>(ex);
  impl_->stop_timer = std::make_unique<Timer>(ex, Timer::time_point::max());
  impl_->start_wake = std::make_unique<Timer>(ex, Timer::time_point::max());
  impl_->unload_wake = std::make_unique<Timer>(ex, Timer::time_point::max());
  units_.on_state_change([this](const UnitStatus& s) { observe(s, ++observations_); });

  co_await (join() || impl_->keeper.run());
  if (impl_->stopping) co_return;
  stats_.lease_held = impl_->keeper.held();

  impl_->feed = registry_.watch_assignments(opts_.machine.id);
  co_await (follow_assignments() || reconcile_loop() || start_loop() || start_loop() ||
            start_loop() || start_loop() || unload_loop() || unload_loop() || publish_loop() ||
            keep_lease() || guard_connection() || impl_->keeper.run() || until_stopped());
  impl_->feed->cancel();
  units_.on_state_change(nullptr);
}

}  // namespace fleet::agent
