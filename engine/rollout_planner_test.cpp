// plan_rollout(): which instances get the new content next, when one is healthy, when the
// rollout stops and how it reverts. Rollouts are driven to their end on simulated time with
// simulated agents that report each unit's state for the content it was given.

#include "engine/rollout_planner.h"

#include <doctest/doctest.h>

#include <set>

using namespace fleet::engine;
using fleet::registry::RolloutStep;
using fleet::registry::TargetState;
using fleet::registry::UnitRecord;
using fleet::registry::UnitRollout;
using fleet::registry::UnitStateRecord;

namespace {

constexpr std::int64_t kHealthy = 5000;
constexpr std::int64_t kTimeout = 60000;

struct Sim {
  RolloutView v;
  std::set<std::string> bad;  // hashes whose units fail when started
  int most_replacing = 0;

  explicit Sim(int units, int max_unavailable = 1, bool revert = true) {
    auto& r = v.rollout;
    r.name = "web@.service";
    r.hash = "new";
    r.old_hash = "old";
    r.max_unavailable = max_unavailable;
    r.min_healthy_ms = kHealthy;
    r.timeout_ms = kTimeout;
    r.revert = revert;
    v.named = UnitRecord{"web@.service", "new", TargetState::inactive, 1};
    for (int i = 1; i <= units; ++i) {
      std::string name = "web@" + std::to_string(i) + ".service";
      r.instances.push_back({name, "old"});
      v.units[name] = {UnitRecord{name, "old", TargetState::launched, 1},
                       "m" + std::to_string(i % 3), std::nullopt};
    }
    v.now_ms = 1000000;
    agents();
  }

  // Each agent reports its unit on the content it has: active, or failed for a bad one.
  void agents() {
    for (auto& [name, u] : v.units) {
      bool fails = bad.count(u.record.hash) > 0;
      u.state = UnitStateRecord{name,
                                u.machine,
                                u.record.hash,
                                "loaded",
                                fails ? "failed" : "active",
                                fails ? "failed" : "running"};
    }
  }

  RolloutDecision decide() {
    RolloutDecision d = plan_rollout(v);
    for (const auto& w : d.writes) {
      if (w.name == v.rollout.name && v.named) {
        v.named->hash = w.hash;
        continue;
      }
      REQUIRE(v.units.count(w.name));
      v.units[w.name].record.hash = w.hash;
    }
    v.rollout = d.rollout;
    int replacing = 0;
    for (const auto& i : v.rollout.instances)
      replacing += i.step == RolloutStep::replacing || i.step == RolloutStep::reverting;
    most_replacing = std::max(most_replacing, replacing);
    return d;
  }

  // Passes until the rollout is over: agents report, time moves to the next wake-up.
  void run() {
    for (int pass = 0; pass < 200 && !v.rollout.over(); ++pass) {
      agents();
      auto d = decide();
      if (d.wake_at_ms && !d.changed) v.now_ms = std::max(v.now_ms, *d.wake_at_ms);
    }
    REQUIRE(v.rollout.over());
  }

  std::string steps() const {
    std::string out;
    for (const auto& i : v.rollout.instances) out += std::string(to_string(i.step)).substr(0, 1);
    return out;  // e.g. "hrpp": healthy, replacing, pending, pending
  }
  std::set<std::string> hashes() const {
    std::set<std::string> out;
    for (const auto& [name, u] : v.units) out.insert(u.record.hash);
    return out;
  }
};

UnitStateRecord state(const Sim& s, const std::string& unit, const std::string& hash,
                      const std::string& active, const std::string& sub,
                      const std::string& load = "loaded") {
  return {unit, s.v.units.at(unit).machine, hash, load, active, sub};
}

}  // namespace

TEST_CASE("a rollout replaces at most max-unavailable instances at a time") {
  struct Row {
    int max_unavailable;
    std::string first;  // steps after the first decision
  };
  const Row rows[] = {{1, "rppp"}, {2, "rrpp"}, {3, "rrrp"}, {10, "rrrr"}};
  for (const auto& row : rows) {
    CAPTURE(row.max_unavailable);
    Sim s(4, row.max_unavailable);
    auto d = s.decide();
    CHECK(s.steps() == row.first);
    CHECK(d.writes.size() == static_cast<std::size_t>(std::min(4, row.max_unavailable)));
    for (const auto& w : d.writes) {
      CHECK(w.hash == "new");
      CHECK(w.desired == TargetState::launched);  // desired states are kept
    }
    s.run();
    CAPTURE(s.v.rollout.message);
    CHECK(s.v.rollout.state == UnitRollout::State::done);
    CHECK(s.most_replacing == std::min(4, row.max_unavailable));
    CHECK(s.hashes() == std::set<std::string>{"new"});
    CHECK(s.steps() == "hhhh");
  }
}

TEST_CASE("a replaced instance is healthy only after min-healthy without leaving active") {
  struct Row {
    const char* name;
    TargetState desired;
    // reports after the instance was replaced, each followed by `after` ms
    std::vector<std::pair<UnitStateRecord, std::int64_t>> (*reports)(const Sim&);
    char step;  // of web@1 after the last report
    UnitRollout::State state;
  };
  using S = UnitRollout::State;
  using Reports = std::vector<std::pair<UnitStateRecord, std::int64_t>>;
  const std::string u = "web@1.service";
  const Row rows[] = {
      {"the old copy still active: waiting", TargetState::launched,
       [](const Sim& s) {
         return Reports{{state(s, "web@1.service", "old", "active", "running"), 9000}};
       },
       'r', S::running},
      {"new content active, window not over: waiting", TargetState::launched,
       [](const Sim& s) {
         return Reports{{state(s, "web@1.service", "new", "active", "running"), 4000}};
       },
       'r', S::running},
      {"new content active through the window: healthy", TargetState::launched,
       [](const Sim& s) {
         return Reports{{state(s, "web@1.service", "new", "active", "running"), 2000},
                        {state(s, "web@1.service", "new", "active", "running"), 3000}};
       },
       'h', S::running},
      {"systemd reports failed: unhealthy", TargetState::launched,
       [](const Sim& s) {
         return Reports{{state(s, "web@1.service", "new", "failed", "failed"), 0}};
       },
       'r', S::reverting},
      {"restarting: unhealthy", TargetState::launched,
       [](const Sim& s) {
         return Reports{{state(s, "web@1.service", "new", "activating", "auto-restart"), 0}};
       },
       'r', S::reverting},
      {"left active within the window: unhealthy", TargetState::launched,
       [](const Sim& s) {
         return Reports{{state(s, "web@1.service", "new", "active", "running"), 1000},
                        {state(s, "web@1.service", "new", "activating", "start"), 0}};
       },
       'r', S::reverting},
      {"still activating at the timeout: unhealthy", TargetState::launched,
       [](const Sim& s) {
         return Reports{{state(s, "web@1.service", "new", "activating", "start"), kTimeout}};
       },
       'r', S::reverting},
      {"a loaded unit is healthy once loaded with the new content", TargetState::loaded,
       [](const Sim& s) {
         return Reports{{state(s, "web@1.service", "new", "inactive", "dead"), 0}};
       },
       'h', S::running},
      {"an inactive unit is healthy at once", TargetState::inactive,
       [](const Sim&) { return Reports{}; }, 'h', S::running},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    Sim s(2);
    s.v.units[u].record.desired = row.desired;
    s.decide();
    REQUIRE(s.steps() == "rp");
    for (const auto& [report, after] : row.reports(s)) {
      s.v.units[u].state = report;
      s.decide();
      s.v.now_ms += after;
    }
    s.decide();
    CAPTURE(s.steps());
    CHECK(s.v.rollout.state == row.state);
    if (row.state == S::reverting) {
      // The unhealthy instance goes straight back, named with what systemd said.
      CHECK(s.v.rollout.instances[0].step == RolloutStep::reverting);
      CHECK(s.v.units[u].record.hash == "old");
      CHECK(s.v.rollout.message.find("web@1.service unhealthy on m1") == 0);
      CHECK(s.v.named->hash == "old");  // the template too
    } else {
      CHECK(s.steps()[0] == row.step);
    }
  }
}

TEST_CASE("an unhealthy instance reverts every changed one, at most max-unavailable at a time") {
  struct Row {
    int max_unavailable;
    bool revert;
    UnitRollout::State state;
    std::string steps;
    std::set<std::string> hashes;
  };
  using S = UnitRollout::State;
  const Row rows[] = {
      {1, true, S::reverted, "RRRp", {"old"}},
      {2, true, S::reverted, "RRRR", {"old"}},
      {1, false, S::failed, "hhfp", {"old", "new"}},
  };
  for (const auto& row : rows) {
    CAPTURE(row.max_unavailable);
    CAPTURE(row.revert);
    Sim s(4, row.max_unavailable, row.revert);
    // The third instance's new copy fails: the first two are healthy by then (with one at a time).
    for (int pass = 0; pass < 200 && !s.v.rollout.over(); ++pass) {
      auto d = s.decide();
      for (auto& [name, u] : s.v.units) {
        bool fails = name == "web@3.service" && u.record.hash == "new";
        u.state = state(s, name, u.record.hash, fails ? "failed" : "active",
                        fails ? "failed" : "running");
      }
      if (d.wake_at_ms && !d.changed) s.v.now_ms = std::max(s.v.now_ms, *d.wake_at_ms);
    }
    REQUIRE(s.v.rollout.over());
    std::string got;
    for (const auto& i : s.v.rollout.instances)
      got += i.step == RolloutStep::reverted ? 'R' : std::string(to_string(i.step))[0];
    CHECK(got == row.steps);
    CHECK(s.v.rollout.state == row.state);
    CHECK(s.hashes() == row.hashes);
    CHECK(s.most_replacing <= row.max_unavailable);
    CHECK(s.v.rollout.message.find("web@3.service unhealthy on m0: systemd reports failed") == 0);
  }
}

TEST_CASE("abort, destroyed instances and a rollout that is over") {
  SUBCASE("abort reverts the changed instances, then the rollout is aborted") {
    Sim s(3);
    s.decide();
    s.agents();
    s.v.rollout.abort = true;
    s.run();
    CHECK(s.v.rollout.state == UnitRollout::State::aborted);
    CHECK(s.hashes() == std::set<std::string>{"old"});
    CHECK(s.steps() == "rpp");  // web@1 reverted
  }
  SUBCASE("abort without revert leaves everything as it is") {
    Sim s(3, 1, false);
    s.decide();
    s.v.rollout.abort = true;
    auto d = s.decide();
    CHECK(s.v.rollout.state == UnitRollout::State::aborted);
    CHECK(d.writes.empty());
    CHECK(s.v.units["web@1.service"].record.hash == "new");
  }
  SUBCASE("an instance destroyed meanwhile is skipped") {
    Sim s(3);
    s.v.units.erase("web@2.service");
    s.run();
    CHECK(s.v.rollout.state == UnitRollout::State::done);
    CHECK(s.steps() == "hsh");
  }
  SUBCASE("nothing is decided for a rollout that is over") {
    Sim s(2);
    s.v.rollout.state = UnitRollout::State::done;
    auto d = s.decide();
    CHECK_FALSE(d.changed);
    CHECK(d.writes.empty());
  }
  SUBCASE("steps are recorded as rollout events naming unit and machine") {
    Sim s(1);
    auto d = s.decide();
    REQUIRE(d.events.size() == 1);
    CHECK(d.events[0].kind == "rollout");
    CHECK(d.events[0].unit == "web@1.service");
    CHECK(d.events[0].machine == "m1");
  }
}
