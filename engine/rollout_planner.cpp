#include "engine/rollout_planner.h"

#include <algorithm>
#include <utility>

namespace fleet::engine {

using registry::RolloutInstance;
using registry::RolloutStep;
using registry::TargetState;
using registry::UnitRollout;

namespace {

enum class Health { waiting, healthy, unhealthy };

struct Verdict {
  Health health = Health::waiting;
  std::string why;  // unhealthy: what systemd reported, or the timeout
};

std::string short_hash(const std::string& h) { return h.substr(0, 7); }

bool is_template(const std::string& name) {
  auto at = name.find('@');
  return at != std::string::npos && at + 1 < name.size() && name[at + 1] == '.';
}

std::string systemd_says(const registry::UnitStateRecord& s) {
  return "systemd reports " + s.active_state + " (" + s.sub_state + ")";
}

// Whether instance `i`, moving to content `want`, is healthy yet. `window_ms`: how long it must
// stay active. Sets i.active_since_ms when it is first seen active; `due` gets the times at
// which the verdict can change without any report.
Verdict judge(RolloutInstance& i, const RolloutUnit& u, const std::string& want,
              std::int64_t window_ms, std::int64_t timeout_ms, std::int64_t now,
              std::vector<std::int64_t>& due) {
  if (u.record.desired == TargetState::inactive) return {Health::healthy, {}};
  const auto& s = u.state;
  const bool ours = s && s->hash == want && !u.machine.empty() && s->machine == u.machine;
  if (ours) {
    if (s->active_state == "failed" || s->sub_state == "auto-restart")
      return {Health::unhealthy, systemd_says(*s)};
    if (u.record.desired == TargetState::loaded) {
      if (s->load_state == "loaded") return {Health::healthy, {}};
    } else if (s->active_state == "active") {
      if (i.active_since_ms == 0) i.active_since_ms = now;
      if (now - i.active_since_ms >= window_ms) return {Health::healthy, {}};
      due.push_back(i.active_since_ms + window_ms);
    } else if (i.active_since_ms != 0) {
      return {Health::unhealthy,
              "left active within " + std::to_string(window_ms) + " ms: " + systemd_says(*s)};
    }
  }
  if (now - i.since_ms >= timeout_ms) {
    std::string why = "not healthy within " + std::to_string(timeout_ms / 1000) + " s";
    if (ours)
      why += ": " + systemd_says(*s);
    else if (u.machine.empty())
      why += ": not scheduled";
    return {Health::unhealthy, why};
  }
  due.push_back(i.since_ms + timeout_ms);
  return {};
}

}  // namespace

RolloutDecision plan_rollout(const RolloutView& v) {
  RolloutDecision d;
  d.rollout = v.rollout;
  auto& r = d.rollout;
  if (r.over()) return d;
  const std::int64_t now = v.now_ms;
  const auto total = std::to_string(r.instances.size());
  std::vector<std::int64_t> due;

  auto event = [&](const std::string& unit, const std::string& machine, std::string why) {
    registry::EventRecord e;
    e.kind = "rollout";
    e.unit = unit;
    e.machine = machine;
    e.reason = std::move(why);
    d.events.push_back(std::move(e));
  };
  auto unit_of = [&](const RolloutInstance& i) -> const RolloutUnit* {
    auto it = v.units.find(i.unit);
    return it == v.units.end() ? nullptr : &it->second;
  };
  auto set_content = [&](const RolloutUnit& u, const std::string& hash) {
    if (u.record.hash == hash) return;
    registry::UnitRecord rec = u.record;
    rec.hash = hash;
    d.writes.push_back(std::move(rec));
  };
  auto step = [&](RolloutInstance& i, RolloutStep s) {
    i.step = s;
    i.since_ms = now;
    i.active_since_ms = 0;
  };
  auto count = [&](std::initializer_list<RolloutStep> steps) {
    return static_cast<int>(std::count_if(r.instances.begin(), r.instances.end(), [&](auto& i) {
      return std::find(steps.begin(), steps.end(), i.step) != steps.end();
    }));
  };
  auto finish = [&](UnitRollout::State s, std::string message) {
    r.state = s;
    r.message = std::move(message);
    r.ended_ms = now;
    event(r.name, {}, "rollout " + std::string(registry::to_string(s)) + ": " + r.message);
  };
  auto skip = [&](RolloutInstance& i) {
    step(i, RolloutStep::skipped);
    i.message = "destroyed during the rollout";
    event(i.unit, {}, "rollout of " + r.name + ": skipped, the unit was destroyed");
  };
  auto stop = [&](const std::string& why) {
    if (!r.revert) {
      finish(UnitRollout::State::failed, why + "; instances left as they are (--no-revert)");
      return;
    }
    r.state = UnitRollout::State::reverting;
    r.message = why;
    event(r.name, {}, "rollout of " + r.name + " reverting: " + why);
    // A template goes back first, so that instances started meanwhile get the previous content.
    if (v.named && is_template(r.name) && !r.old_hash.empty() && v.named->hash == r.hash) {
      registry::UnitRecord rec = *v.named;
      rec.hash = r.old_hash;
      d.writes.push_back(std::move(rec));
    }
  };

  // Moves up to max_unavailable instances (counting those already there) from `from` to `to`:
  // the unit gets the content `what(i)` names, with a deadline and an event saying why. Going
  // forward and going back differ only in the steps, the content and the words.
  auto begin = [&](RolloutStep from, RolloutStep to, auto what) {
    int busy = count({to});
    for (auto& i : r.instances) {
      if (busy >= r.max_unavailable) break;
      if (i.step != from) continue;
      const RolloutUnit* u = unit_of(i);
      if (!u) {
        skip(i);
        continue;
      }
      auto [hash, words] = what(i);
      set_content(*u, hash);
      step(i, to);
      i.machine = u->machine;
      due.push_back(now + r.timeout_ms);
      ++busy;
      event(i.unit, i.machine, "rollout of " + r.name + ": " + words);
    }
  };

  if (r.abort && r.state == UnitRollout::State::running) {
    if (r.revert)
      stop("aborted by the user");
    else
      finish(UnitRollout::State::aborted, "aborted by the user; instances left as they are");
  }

  if (r.state == UnitRollout::State::running) {
    std::optional<std::string> failure;
    for (auto& i : r.instances) {
      if (i.step != RolloutStep::replacing && i.step != RolloutStep::healthy) continue;
      const RolloutUnit* u = unit_of(i);
      if (!u) {
        skip(i);
        continue;
      }
      if (i.step == RolloutStep::healthy) {
        // A replaced instance that fails later in the rollout fails it too.
        const auto& s = u->state;
        if (s && s->hash == r.hash && s->machine == u->machine && s->active_state == "failed") {
          step(i, RolloutStep::failed);
          i.message = systemd_says(*s);
          event(i.unit, i.machine,
                "rollout of " + r.name + ": failed after it was healthy, " + i.message);
          if (!failure) failure = i.unit + " failed on " + i.machine + ": " + i.message;
        }
        continue;
      }
      i.machine = u->machine;
      Verdict verdict = judge(i, *u, r.hash, r.min_healthy_ms, r.timeout_ms, now, due);
      if (verdict.health == Health::healthy) {
        step(i, RolloutStep::healthy);
        const auto done = count({RolloutStep::healthy, RolloutStep::skipped});
        event(i.unit, i.machine,
              "rollout of " + r.name + ": [" + std::to_string(done) + "/" + total +
                  "] healthy on content " + short_hash(r.hash));
      } else if (verdict.health == Health::unhealthy) {
        step(i, RolloutStep::failed);
        i.message = verdict.why;
        event(i.unit, i.machine, "rollout of " + r.name + ": unhealthy, " + verdict.why);
        if (!failure) {
          std::string where;
          if (!i.machine.empty()) where = " on " + i.machine;
          failure = i.unit + " unhealthy" + where + ": " + verdict.why;
        }
      }
    }
    if (failure) stop(*failure);
  }

  if (r.state == UnitRollout::State::running) {
    begin(RolloutStep::pending, RolloutStep::replacing, [&](const RolloutInstance& i) {
      return std::pair<const std::string&, std::string>(
          r.hash, "replacing content " + short_hash(i.old_hash) + " by " + short_hash(r.hash));
    });
    if (count({RolloutStep::healthy, RolloutStep::skipped}) ==
        static_cast<int>(r.instances.size())) {
      finish(UnitRollout::State::done, std::to_string(count({RolloutStep::healthy})) +
                                           " instance(s) on content " + short_hash(r.hash));
    }
  }

  if (r.state == UnitRollout::State::reverting) {
    const bool aborted = r.abort;
    // Instances that are down anyway go back at once.
    for (auto& i : r.instances) {
      if (i.step != RolloutStep::replacing && i.step != RolloutStep::failed) continue;
      const RolloutUnit* u = unit_of(i);
      if (!u) {
        skip(i);
        continue;
      }
      set_content(*u, i.old_hash);
      step(i, RolloutStep::reverting);
      event(i.unit, u->machine,
            "rollout of " + r.name + ": back to content " + short_hash(i.old_hash));
    }
    std::optional<std::string> failure;
    for (auto& i : r.instances) {
      if (i.step != RolloutStep::reverting) continue;
      const RolloutUnit* u = unit_of(i);
      if (!u) {
        skip(i);
        continue;
      }
      i.machine = u->machine;
      Verdict verdict = judge(i, *u, i.old_hash, 0, r.timeout_ms, now, due);
      if (verdict.health == Health::healthy) {
        step(i, RolloutStep::reverted);
        event(i.unit, i.machine,
              "rollout of " + r.name + ": reverted, active on content " + short_hash(i.old_hash));
      } else if (verdict.health == Health::unhealthy) {
        step(i, RolloutStep::failed);
        i.message = verdict.why;
        if (!failure) failure = i.unit + " did not come back on its previous content: " + i.message;
      }
    }
    if (failure) {
      finish(UnitRollout::State::failed, r.message + "; the revert failed too: " + *failure);
    } else {
      begin(RolloutStep::healthy, RolloutStep::reverting, [&](const RolloutInstance& i) {
        return std::pair<const std::string&, std::string>(
            i.old_hash, "back to content " + short_hash(i.old_hash));
      });
      if (count({RolloutStep::healthy, RolloutStep::reverting}) == 0) {
        const auto back = std::to_string(count({RolloutStep::reverted}));
        if (aborted)
          finish(UnitRollout::State::aborted,
                 "aborted by the user; " + back + " instance(s) back on their previous content");
        else
          finish(UnitRollout::State::reverted,
                 r.message + "; " + back + " instance(s) back on their previous content");
      }
    }
  }

  if (!r.over() && !due.empty()) d.wake_at_ms = *std::min_element(due.begin(), due.end());
  d.changed = !(d.rollout == v.rollout) || !d.writes.empty();
  return d;
}

}  // namespace fleet::engine
