#pragma once
// SimAgents: thousands of simulated agents in one process. Each does what a real agent
// (agent/agent.cpp) does through the registry, with the same calls: grants a machine lease and
// keeps it alive (LeaseKeeper), claims its machine record under it, follows only its own
// assignments (Registry::watch_assignments), fetches the contents of units new to it that their
// assignments did not carry (get_contents), reports their states under its lease (put_states) with
// the events a state change records (kept for the next round when their write fails, as the agent
// keeps them), and deletes the states of units taken away (delete_states). Only systemd is left
// out: a launched unit is "active/running" at once. Like the agent, it coalesces: changes arriving
// within AgentOptions::publish_delay (50 ms) of each other are acted on together, so a burst of
// assignments costs one fetch and one states write (plus its events and the deletions of units
// taken away), not three writes per watch batch.
//
// Clients: a group of agents shares one EtcdNode (one io_context, one thread) and its client for
// everything but lease keep-alives, which go through kKeepAliveClients clients of their own on the
// same loop. Real agents have a client each; what the simulation's sharing changes is said where
// it is decided (SimAgentGroup, and the --agent-clients option of engine_etcd_bench).

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
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

// The agents of one client. Their keep-alives go through clients of their own: sharing the
// writes' client, 5,000 leases of 60 s had its one keep-alive lane (32 requests of up to 8
// leases, renewed one after the other by etcd under load) renewing fewer leases per second than
// fell due, and 155 were lost in one run, a loss no real agent has. The writes stay on one
// client: its limit of requests in flight holds the agents' writes back when etcd is slow (the
// "failed calls" the benchmark prints), and spread over 8 clients the same agents' writes (3x
// the requests) overloaded etcd on a 2-core machine: 102-162 leases and the engine's leadership
// lost (Documentation/performance.md).
class SimAgentGroup {
 public:
  static constexpr std::size_t kKeepAliveClients = 4;

  SimAgentGroup(EtcdNode& node, std::chrono::seconds ttl, const std::vector<std::string>& endpoints)
      : node_(node), ttl_(ttl) {
    for (std::size_t i = 0; i < kKeepAliveClients; ++i) {
      registry::EtcdConfig config;
      config.endpoints = endpoints;
      config.request_timeout = std::chrono::milliseconds(2500);
      auto kv = registry::EtcdKv::create(node_.io(), std::move(config));
      if (!kv) throw std::runtime_error(kv.error().describe());
      keepalive_kvs_.push_back(std::move(kv).value());
    }
  }
  // Stops the agents (stop_all()) unless that was done; the node's loop must still run then.
  ~SimAgentGroup() {
    try {
      if (!all_stopped_) stop_all();
    } catch (...) {
    }
  }
  SimAgentGroup(const SimAgentGroup&) = delete;
  SimAgentGroup& operator=(const SimAgentGroup&) = delete;

  // Starts many agents, `parallel` joining at a time.
  void add_many(const std::vector<std::string>& ids, std::size_t parallel = 32) {
    node_.call(join_many(ids, parallel), std::chrono::seconds(300));
  }

  // The machines are lost: their agents stop at once, and the leases they held are returned
  // for SimAgents::revoke_many to revoke through a client of its own.
  std::vector<registry::LeaseId> stop_lost(const std::vector<std::string>& ids) {
    return node_.on_loop([&] {
      std::vector<registry::LeaseId> out;
      for (const auto& id : ids) {
        Agent& a = *agents_.at(id);
        // A lease the agent lost already has nothing left to revoke.
        if (a.keeper.state() == registry::LeaseKeeper::State::held) out.push_back(a.keeper.id());
        stop(a);
      }
      return out;
    });
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
    Totals& operator+=(const Totals& o) {
      states_put += o.states_put;
      states_deleted += o.states_deleted;
      contents_fetched += o.contents_fetched;
      failures += o.failures;
      state_writes += o.state_writes;
      lease_losses += o.lease_losses;
      return *this;
    }
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
    all_stopped_ = true;
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
    auto a = std::make_unique<Agent>(*keepalive_kvs_[joined_++ % keepalive_kvs_.size()], ttl_);
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

  EtcdNode& node_;
  std::chrono::seconds ttl_;
  // On node_'s loop; destroyed after it stopped (SimAgents' destructor pauses the node first).
  std::vector<std::unique_ptr<registry::EtcdKv>> keepalive_kvs_;
  bool all_stopped_ = false;
  std::size_t joined_ = 0;  // agents started, for spreading them over keepalive_kvs_
  std::map<std::string, std::unique_ptr<Agent>> agents_;  // touched on the node's loop only
  Totals totals_;
  AssignmentHook hook_;
};

// The agents spread over `clients` groups (SimAgentGroup), agent i in group i % clients, each
// group on a thread of its own: a hook is called on the thread of the agent's group.
class SimAgents {
 public:
  SimAgents(const std::vector<std::string>& endpoints, std::chrono::seconds ttl,
            std::size_t clients, std::size_t max_in_flight) {
    for (std::size_t i = 0; i < std::max<std::size_t>(clients, 1); ++i) {
      nodes_.push_back(std::make_unique<EtcdNode>(endpoints, "/fleet/", 128,
                                                  std::chrono::milliseconds(2500), max_in_flight));
      groups_.push_back(std::make_unique<SimAgentGroup>(*nodes_.back(), ttl, endpoints));
    }
  }
  ~SimAgents() {
    for (auto& g : groups_) {
      try {
        g->stop_all();
      } catch (...) {
      }
    }
    // A group's keep-alive clients live on its node's loop: that loop stops before they go.
    for (auto& n : nodes_) n->pause();
    groups_.clear();
  }
  SimAgents(const SimAgents&) = delete;
  SimAgents& operator=(const SimAgents&) = delete;

  // Starts many agents, `parallel` joining at a time in each group.
  void add_many(const std::vector<std::string>& ids, std::size_t parallel = 32) {
    auto parts = split(ids);
    std::vector<std::thread> joiners;
    std::vector<std::string> failures(groups_.size());
    for (std::size_t g = 0; g < groups_.size(); ++g)
      joiners.emplace_back([&, g] {
        try {
          groups_[g]->add_many(parts[g], std::max<std::size_t>(parallel / groups_.size(), 4));
        } catch (const std::exception& e) {
          failures[g] = e.what();
        }
      });
    for (auto& t : joiners) t.join();
    for (const auto& f : failures)
      if (!f.empty()) throw std::runtime_error(f);
    for (std::size_t i = 0; i < ids.size(); ++i) group_of_[ids[i]] = i % groups_.size();
  }

  // The machines are lost: their agents stop at once and their leases are revoked through
  // `control`, a client of its own. A dead host's lease ends in etcd whatever other hosts ask of
  // it; revoked through the agents' shared client, the revokes waited behind the surviving
  // agents' requests for its slots (1.8-9 s, and one timed out and left its lease to the TTL).
  Status revoke_many(const std::vector<std::string>& ids, EtcdNode& control,
                     std::size_t parallel = 32) {
    std::vector<std::vector<std::string>> parts(groups_.size());
    for (const auto& id : ids) parts[group_of_.at(id)].push_back(id);
    std::vector<registry::LeaseId> leases;
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      auto held = groups_[g]->stop_lost(parts[g]);
      leases.insert(leases.end(), held.begin(), held.end());
    }
    return control.call(revoke_leases(control.kv(), std::move(leases), parallel),
                        std::chrono::seconds(60));
  }

  void on_assignment(SimAgentGroup::AssignmentHook hook) {
    for (auto& g : groups_) g->on_assignment(hook);
  }

  SimAgentGroup::Totals totals() {
    SimAgentGroup::Totals sum;
    for (auto& g : groups_) sum += g->totals();
    return sum;
  }

  void stop_all() {
    for (auto& g : groups_) g->stop_all();
  }

 private:
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

  std::vector<std::vector<std::string>> split(const std::vector<std::string>& ids) const {
    std::vector<std::vector<std::string>> parts(groups_.size());
    for (std::size_t i = 0; i < ids.size(); ++i) parts[i % groups_.size()].push_back(ids[i]);
    return parts;
  }

  std::vector<std::unique_ptr<EtcdNode>> nodes_;
  std::vector<std::unique_ptr<SimAgentGroup>> groups_;
  std::map<std::string, std::size_t> group_of_;
};

}  // namespace fleet::testing
