#pragma once
// SimAgents: thousands of simulated agents in one process on one EtcdNode (one io_context, one
// etcd client). Each does what a real agent (agent/agent.cpp) does through the registry, with the
// same calls: grants a machine lease and keeps it alive (LeaseKeeper), claims its machine record
// under it, follows only its own assignments (Registry::watch_assignments), fetches the contents
// of units new to it that their assignments did not carry (get_contents), reports their states
// under its lease (put_states) with the events a state change records (kept for the next round
// when their write fails, as the agent keeps them), and deletes the states of
// units taken away (delete_states). Only systemd is left out: a launched unit is "active/running"
// at once. Like the agent, it coalesces: changes arriving within AgentOptions::publish_delay (50
// ms) of each other are acted on together, so a burst of assignments costs one fetch and one states
// write (plus its events and the deletions of units taken away), not three writes per watch batch.

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "common/backoff.h"
#include "common/log.h"
#include "common/sleep.h"
#include "registry/lease_keeper.h"
#include "tests/harness/wait.h"
#include "tests/integration/engine/etcd_node.h"
#include "tests/integration/engine/sim_machines.h"

namespace fleet::testing {

class SimAgents {
 public:
  SimAgents(EtcdNode& node, std::chrono::seconds ttl) : node_(node), ttl_(ttl) {}
  ~SimAgents() {
    try {
      stop_all();
    } catch (...) {
    }
  }
  SimAgents(const SimAgents&) = delete;
  SimAgents& operator=(const SimAgents&) = delete;

  // Starts many agents, `parallel` joining at a time.
  void add_many(const std::vector<std::string>& ids, std::size_t parallel = 32) {
    node_.call(join_many(ids, parallel), std::chrono::seconds(300));
  }

  // The machines are lost: their agents stop at once and their leases are revoked through
  // `control`, a client of its own. A dead host's lease ends in etcd whatever other hosts ask of
  // it; revoked through the agents' one shared client, the revokes waited behind the surviving
  // agents' requests for its slots (1.8-9 s, and one timed out and left its lease to the TTL).
  Status revoke_many(const std::vector<std::string>& ids, EtcdNode& control,
                     std::size_t parallel = 32) {
    auto leases = node_.on_loop([&] {
      std::vector<registry::LeaseId> out;
      for (const auto& id : ids) {
        Agent& a = *agents_.at(id);
        // A lease the agent lost already has nothing left to revoke.
        if (a.keeper.state() == registry::LeaseKeeper::State::held) out.push_back(a.keeper.id());
        a.stopped = true;
        if (a.feed) a.feed->cancel();
        if (a.wake) a.wake->cancel();
        a.keeper.stop();
      }
      return out;
    });
    return control.call(revoke_leases(control.kv(), std::move(leases), parallel),
                        std::chrono::seconds(60));
  }

  // Called on the agents' loop with every assignment change an agent's watch delivers (unit,
  // machine, assigned or taken away): how a benchmark times placements as the agents see them.
  using AssignmentHook = std::function<void(const std::string&, const std::string&, bool)>;
  void on_assignment(AssignmentHook hook) {
    node_.on_loop([&] {
      hook_ = std::move(hook);
      return 0;
    });
  }

  struct Totals {
    std::uint64_t states_put = 0, states_deleted = 0, contents_fetched = 0, failures = 0;
    std::uint64_t state_writes = 0;  // put_states calls: rounds that reported something
    std::uint64_t lease_losses = 0;
  };
  Totals totals() {
    return node_.on_loop([&] { return totals_; });
  }

  void stop_all() {
    node_.on_loop([&] {
      for (auto& [id, a] : agents_) stop(*a);
      return 0;
    });
    const bool stopped = wait_until(
        [&] {
          for (auto& [id, a] : agents_)
            if (!*a->keeper_done || !*a->follow_done || !*a->work_done) return false;
          return true;
        },
        std::chrono::seconds(30), std::chrono::milliseconds(5));
    if (!stopped) throw std::runtime_error("simulated agents did not stop within 30 s");
  }

 private:
  struct Agent {
    Agent(registry::KvStore& kv, std::chrono::seconds ttl)
        : keeper(kv, registry::LeaseKeeperOptions{ttl}) {}
    std::string id;
    registry::LeaseKeeper keeper;
    std::unique_ptr<registry::AssignmentFeed> feed;
    std::map<std::string, registry::Assignment> desired;
    std::set<std::string> contents;  // hashes fetched
    std::map<std::string, registry::UnitStateRecord> published;
    std::vector<std::string> removed;               // units taken away since the last round of work
    std::vector<registry::EventRecord> unrecorded;  // events a failed write left for the next
    bool dirty = false;
    std::unique_ptr<boost::asio::steady_timer> wake;  // cancelled when `dirty` is set
    std::shared_ptr<std::atomic<bool>> keeper_done = std::make_shared<std::atomic<bool>>(false);
    std::shared_ptr<std::atomic<bool>> follow_done = std::make_shared<std::atomic<bool>>(false);
    std::shared_ptr<std::atomic<bool>> work_done = std::make_shared<std::atomic<bool>>(false);
    bool stopped = false;
  };

  static void stop(Agent& a) {
    if (a.stopped) return;
    a.stopped = true;
    a.keeper.stop();
    if (a.feed) a.feed->cancel();
    if (a.wake) a.wake->cancel();
  }

  registry::Task<void> join(std::string id) {
    auto a = std::make_unique<Agent>(node_.kv(), ttl_);
    a->id = id;
    registry::MachineRecord rec;
    rec.id = id;
    rec.public_ip = "127.0.0.1";
    rec.version = "sim";
    // As the agent's acquire_lease() and announce(): retried with backoff until they succeed.
    Backoff backoff(std::chrono::milliseconds(100), std::chrono::milliseconds(5000));
    for (int attempt = 0;; ++attempt) {
      auto granted = co_await a->keeper.grant();
      std::string error;
      if (granted) {
        auto st = co_await node_.reg().claim_machine(rec, granted.value());
        if (st) break;
        error = st.error().describe();
      } else {
        error = granted.error().describe();
      }
      if (attempt == 20) throw std::runtime_error("joining: " + error);
      co_await sleep_for(backoff.next());
    }
    a->feed = node_.reg().watch_assignments(id);
    a->keeper.on_change([this](registry::LeaseKeeper::State s, registry::LeaseId) {
      if (s == registry::LeaseKeeper::State::lost) ++totals_.lease_losses;
    });
    a->wake = std::make_unique<boost::asio::steady_timer>(node_.io());
    Agent& ref = *a;
    agents_[id] = std::move(a);
    node_.spawn(keep(ref), ref.keeper_done);
    node_.spawn(follow(ref), ref.follow_done);
    node_.spawn(work(ref), ref.work_done);
  }

  registry::Task<void> keep(Agent& a) { (void)co_await a.keeper.run(); }

  // The agent's watch: each batch of assignment changes updates what it should run and asks for
  // a round of work.
  registry::Task<void> follow(Agent& a) {
    while (true) {
      auto changes = co_await a.feed->next();
      if (!changes) co_return;
      for (auto& c : changes.value()) {
        if (c.unit.empty()) continue;  // a reboot request
        if (c.assignment) {
          // As the agent: a content sent along needs no fetch (the agent checks its hash).
          if (!c.assignment->content.empty()) a.contents.insert(c.assignment->hash);
          c.assignment->content.clear();
          a.desired[c.unit] = *c.assignment;
          if (hook_) hook_(c.unit, a.id, true);
        } else if (a.desired.erase(c.unit)) {
          a.removed.push_back(c.unit);
          if (hook_) hook_(c.unit, a.id, false);
        }
      }
      a.dirty = true;
      a.wake->cancel();
    }
  }

  // The agent's reconcile and publish: waits publish_delay after the first change so that the
  // changes of a burst are handled together, then fetches missing contents, reports states
  // (and their events) and deletes the states of units taken away.
  registry::Task<void> work(Agent& a) {
    const auto delay = agent::AgentOptions{}.publish_delay;
    while (!a.stopped) {
      if (!a.dirty) {
        a.wake->expires_at(boost::asio::steady_timer::time_point::max());
        (void)co_await a.wake->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        continue;
      }
      co_await sleep_for(delay);
      if (a.stopped) co_return;
      a.dirty = false;
      bool failed = false;
      std::vector<std::string> removed;
      removed.swap(a.removed);
      std::vector<std::string> missing;
      for (const auto& [unit, as] : a.desired)
        if (!a.contents.count(as.hash)) missing.push_back(as.hash);
      if (!missing.empty()) {
        auto fetched = co_await node_.reg().get_contents(missing);
        if (!fetched) {
          ++totals_.failures;
          failed = true;  // tried again in the next round
        } else {
          totals_.contents_fetched += fetched.value().size();
          for (const auto& [hash, text] : fetched.value()) a.contents.insert(hash);
        }
      }
      std::vector<registry::UnitStateRecord> states;
      std::vector<registry::EventRecord> events;
      for (const auto& [unit, as] : a.desired) {
        if (!a.contents.count(as.hash)) continue;
        const bool run = as.desired == registry::TargetState::launched;
        registry::UnitStateRecord rec{
            unit, a.id, as.hash, "loaded", run ? "active" : "inactive", run ? "running" : "dead"};
        auto pub = a.published.find(unit);
        if (pub != a.published.end() && pub->second == rec) continue;
        if (run && (pub == a.published.end() || pub->second.active_state != "active")) {
          registry::EventRecord e;
          e.kind = "started";
          e.unit = unit;
          e.machine = a.id;
          e.reason = "systemd: active (running)";
          events.push_back(std::move(e));
        }
        states.push_back(std::move(rec));
      }
      if (!states.empty()) {
        auto st = co_await node_.reg().put_states(states, a.keeper.id());
        if (!st) {
          ++totals_.failures;
          failed = true;
          events.clear();  // made again from the states when they are written
        } else {
          totals_.states_put += states.size();
          ++totals_.state_writes;
          for (auto& s : states) a.published[s.unit] = s;
        }
      }
      // As the agent's record_events(): events a write refused go with the next round.
      if (!events.empty() || !a.unrecorded.empty()) {
        const std::string now = log::timestamp_now();
        for (auto& e : events) e.time = now;
        a.unrecorded.insert(a.unrecorded.end(), std::make_move_iterator(events.begin()),
                            std::make_move_iterator(events.end()));
        std::vector<registry::EventRecord> batch = a.unrecorded;
        auto appended = co_await node_.reg().events().append(std::move(batch));
        if (appended) {
          a.unrecorded.clear();
        } else {
          ++totals_.failures;
          failed = true;
          if (a.unrecorded.size() > 1000)
            a.unrecorded.erase(a.unrecorded.begin(), a.unrecorded.end() - 1000);
        }
      }
      if (!removed.empty()) {
        auto st = co_await node_.reg().delete_states(a.id, removed);
        if (!st) {
          ++totals_.failures;
          a.removed.insert(a.removed.end(), removed.begin(), removed.end());
          failed = true;
        } else {
          totals_.states_deleted += removed.size();
          for (const auto& u : removed) a.published.erase(u);
        }
      }
      // After a failure, the agent's publish loop waits 500 ms before it tries again.
      if (failed) {
        a.dirty = true;
        co_await sleep_for(std::chrono::milliseconds(500));
      }
    }
  }

  registry::Task<void> join_many(std::vector<std::string> ids, std::size_t parallel) {
    std::string failure;
    co_await parallel_for(ids.size(), parallel, [&](std::size_t i) -> registry::Task<void> {
      try {
        co_await join(ids[i]);
      } catch (const std::exception& e) {
        failure = e.what();
      }
    });
    if (!failure.empty()) throw std::runtime_error(failure);
  }

  static registry::Task<Status> revoke_leases(registry::KvStore& kv,
                                              std::vector<registry::LeaseId> leases,
                                              std::size_t parallel) {
    Status result = ok();
    co_await parallel_for(leases.size(), parallel, [&](std::size_t i) -> registry::Task<void> {
      auto st = co_await kv.lease_revoke(leases[i]);
      // Expired meanwhile: gone either way, as LeaseKeeper::revoke() counts it.
      if (!st && st.error().code != Errc::not_found) result = st.error();
    });
    co_return result;
  }

  EtcdNode& node_;
  std::chrono::seconds ttl_;
  std::map<std::string, std::unique_ptr<Agent>> agents_;  // touched on the node's loop only
  Totals totals_;
  AssignmentHook hook_;
};

}  // namespace fleet::testing
