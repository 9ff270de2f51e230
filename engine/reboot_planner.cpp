#include "engine/reboot_planner.h"

#include <algorithm>

namespace fleet::engine {

using registry::MaintenanceMode;
using registry::RebootRollout;
using registry::RebootStep;

namespace {

bool in_maintenance(RebootStep s) {
  return s == RebootStep::draining || s == RebootStep::rebooting;
}

}  // namespace

RebootDecision plan_reboots(const RebootView& v) {
  RebootDecision d;
  d.rollout = v.rollout;
  d.lock = v.lock;
  if (d.rollout.state != RebootRollout::State::running) return d;
  auto& r = d.rollout;
  auto fail = [&](registry::RebootHost& h, const std::string& why) {
    h.step = RebootStep::failed;
    h.since = v.now;
    r.state = RebootRollout::State::stopped;
    r.message = "machine " + h.machine + " " + why + "; the rollout stopped (its slot stays held)";
    d.events.push_back(r.message);
  };
  auto overdue = [&](const registry::RebootHost& h) { return v.now - h.since > r.timeout_s; };
  const std::string within = "within " + std::to_string(r.timeout_s) + " s";

  for (auto& h : r.hosts) {
    auto m = v.machines.find(h.machine);
    if (h.step == RebootStep::draining) {
      if (m == v.machines.end()) {
        h.step = RebootStep::rebooting;  // went down on its own: wait for it like a reboot
        h.since = v.now;
        d.events.push_back("machine " + h.machine + " went down while draining");
      } else if (m->second.drained) {
        h.step = RebootStep::rebooting;
        h.boot_id = m->second.boot_id;
        h.since = v.now;
        d.requests[h.machine] = h.boot_id;
        d.events.push_back("machine " + h.machine + " drained, asked to reboot");
      } else if (overdue(h)) {
        fail(h, "was not drained " + within);
      }
    } else if (h.step == RebootStep::rebooting) {
      if (m != v.machines.end() && m->second.boot_id != h.boot_id) {
        h.step = RebootStep::done;
        h.since = v.now;
        d.maintenance[h.machine] = registry::Maintenance{};
        std::erase(d.lock.holders, h.machine);
        d.requests[h.machine] = std::nullopt;
        d.events.push_back("machine " + h.machine + " is back after its reboot");
      } else if (overdue(h)) {
        fail(h, "did not come back from its reboot " + within);
      }
    }
  }

  if (r.state == RebootRollout::State::running) {
    auto busy = static_cast<int>(std::count_if(
        r.hosts.begin(), r.hosts.end(), [](const auto& h) { return in_maintenance(h.step); }));
    for (auto& h : r.hosts) {
      if (h.step != RebootStep::pending) continue;
      const bool holds = std::find(d.lock.holders.begin(), d.lock.holders.end(), h.machine) !=
                         d.lock.holders.end();
      if (busy >= r.max_unavailable ||
          (!holds && static_cast<int>(d.lock.holders.size()) >= d.lock.max))
        break;
      auto m = v.machines.find(h.machine);
      if (m == v.machines.end()) {
        fail(h, "is not up when its turn came");
        break;
      }
      if (!holds) d.lock.holders.push_back(h.machine);
      d.maintenance[h.machine] = registry::Maintenance{MaintenanceMode::draining, false, v.now};
      h.step = RebootStep::draining;
      h.boot_id = m->second.boot_id;
      h.since = v.now;
      ++busy;
      d.events.push_back("machine " + h.machine + " takes a reboot slot and drains");
    }
    if (std::all_of(r.hosts.begin(), r.hosts.end(),
                    [](const auto& h) { return h.step == RebootStep::done; })) {
      r.state = RebootRollout::State::done;
      r.message = std::to_string(r.hosts.size()) + " machine(s) rebooted";
      d.events.push_back("reboot rollout done: " + r.message);
    }
  }
  d.changed = !(d.rollout == v.rollout) || !(d.lock == v.lock) || !d.maintenance.empty() ||
              !d.requests.empty();
  return d;
}

}  // namespace fleet::engine
