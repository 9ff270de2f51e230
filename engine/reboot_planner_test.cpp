// plan_reboots(): which host goes next under the semaphore, and when a rollout stops. The
// rollout is driven to its end on a simulated clock and simulated machines.

#include "engine/reboot_planner.h"

#include <doctest/doctest.h>

using namespace fleet::engine;
using fleet::registry::MaintenanceMode;
using fleet::registry::RebootLock;
using fleet::registry::RebootRollout;
using fleet::registry::RebootStep;

namespace {

RebootView view(std::vector<std::string> hosts, int max_unavailable = 1, int lock_max = 1) {
  RebootView v;
  v.rollout.max_unavailable = max_unavailable;
  v.rollout.timeout_s = 100;
  for (auto& h : hosts) {
    v.rollout.hosts.push_back({h, RebootStep::pending, {}, 0});
    v.machines[h] = {"boot1", false};
  }
  v.lock.max = lock_max;
  v.now = 1000;
  return v;
}

std::string steps(const RebootRollout& r) {
  std::string out;
  for (const auto& h : r.hosts) out += std::string(to_string(h.step)).substr(0, 1);
  return out;  // e.g. "drp": draining, rebooting, pending
}

// What the cluster would report after the decision is written: state and lock as decided.
void apply(RebootView& v, const RebootDecision& d) {
  v.rollout = d.rollout;
  v.lock = d.lock;
}

}  // namespace

TEST_CASE("hosts are taken one at a time under the semaphore") {
  struct Row {
    const char* name;
    int max_unavailable, lock_max;
    std::vector<std::string> external;  // holders outside the rollout
    std::string steps;
    std::vector<std::string> holders;
  };
  const Row rows[] = {
      {"default: one host", 1, 1, {}, "dpp", {"a"}},
      {"two at once when both allow it", 2, 2, {}, "ddp", {"a", "b"}},
      {"the semaphore's max caps the rollout", 3, 1, {}, "dpp", {"a"}},
      {"the rollout's max caps a wider semaphore", 1, 3, {}, "dpp", {"a"}},
      {"an external holder takes the only slot", 1, 1, {"z"}, "ppp", {"z"}},
      {"an external holder leaves one of two", 2, 2, {"z"}, "dpp", {"z", "a"}},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    auto v = view({"a", "b", "c"}, row.max_unavailable, row.lock_max);
    v.lock.holders = row.external;
    auto d = plan_reboots(v);
    CHECK(steps(d.rollout) == row.steps);
    CHECK(d.lock.holders == row.holders);
    for (const auto& h : d.rollout.hosts)
      if (h.step == RebootStep::draining) {
        REQUIRE(d.maintenance.count(h.machine));
        CHECK(d.maintenance.at(h.machine).mode == MaintenanceMode::draining);
      }
    CHECK(d.changed == (row.steps != "ppp"));
  }
}

TEST_CASE("a rollout of three hosts: drain, reboot, back, next, never two in maintenance") {
  auto v = view({"a", "b", "c"});
  int rounds = 0;
  std::map<std::string, int> reboots;
  while (v.rollout.state == RebootRollout::State::running && rounds++ < 50) {
    auto d = plan_reboots(v);
    int busy = 0;
    for (const auto& h : d.rollout.hosts)
      busy += h.step == RebootStep::draining || h.step == RebootStep::rebooting;
    CHECK(busy <= 1);
    CHECK(d.lock.holders.size() <= 1);
    for (const auto& [m, boot] : d.requests)
      if (boot) {
        CHECK(*boot == v.machines[m].boot_id);
        ++reboots[m];
        v.machines.erase(m);  // it goes down...
      }
    apply(v, d);
    v.now += 5;
    for (auto& h : v.rollout.hosts) {
      if (h.step == RebootStep::draining) v.machines[h.machine].drained = true;  // units moved
      if (h.step == RebootStep::rebooting && !v.machines.count(h.machine))
        v.machines[h.machine] = {"boot2", false};  // ...and comes back with a new boot
    }
  }
  CHECK(v.rollout.state == RebootRollout::State::done);
  CHECK(v.rollout.message == "3 machine(s) rebooted");
  CHECK(reboots == std::map<std::string, int>{{"a", 1}, {"b", 1}, {"c", 1}});
  CHECK(v.lock.holders.empty());
  CHECK_FALSE(plan_reboots(v).changed);  // a finished rollout is left alone
}

TEST_CASE("a host that is not back in time stops the rollout and keeps its slot") {
  auto v = view({"a", "b"});
  apply(v, plan_reboots(v));
  v.machines["a"].drained = true;
  auto d = plan_reboots(v);
  REQUIRE(d.requests.at("a") == "boot1");
  apply(v, d);
  v.machines.erase("a");
  v.now += 100;
  CHECK_FALSE(plan_reboots(v).changed);  // within the timeout: waiting
  v.now += 1;
  d = plan_reboots(v);
  CHECK(d.rollout.state == RebootRollout::State::stopped);
  CHECK(d.rollout.message ==
        "machine a did not come back from its reboot within 100 s; the rollout stopped (its "
        "slot stays held)");
  CHECK(steps(d.rollout) == "fp");
  CHECK(d.lock.holders == std::vector<std::string>{"a"});
  CHECK(d.maintenance.empty());  // a stays drained
  apply(v, d);
  v.machines["a"] = {"boot2", false};  // back too late: nothing moves on its own
  CHECK_FALSE(plan_reboots(v).changed);
}

TEST_CASE("other ways a host fails or counts as rebooting") {
  SUBCASE("not drained in time") {
    auto v = view({"a"});
    apply(v, plan_reboots(v));
    v.now += 101;
    CHECK(plan_reboots(v).rollout.hosts[0].step == RebootStep::failed);
  }
  SUBCASE("down when its turn comes") {
    auto v = view({"a", "b"});
    v.machines.erase("a");
    auto d = plan_reboots(v);
    CHECK(steps(d.rollout) == "fp");
    CHECK(d.lock.holders.empty());
  }
  SUBCASE("down while draining: waits for it to come back") {
    auto v = view({"a"});
    apply(v, plan_reboots(v));
    v.machines.erase("a");
    auto d = plan_reboots(v);
    CHECK(steps(d.rollout) == "r");
    CHECK(d.requests.empty());
    apply(v, d);
    v.machines["a"] = {"boot2", false};
    d = plan_reboots(v);
    CHECK(d.rollout.state == RebootRollout::State::done);
    CHECK(d.maintenance.at("a").mode == MaintenanceMode::none);
  }
  SUBCASE("a fleetd restart (same boot) is not a reboot") {
    auto v = view({"a"});
    apply(v, plan_reboots(v));
    v.machines["a"].drained = true;
    apply(v, plan_reboots(v));
    CHECK(steps(v.rollout) == "r");
    CHECK_FALSE(plan_reboots(v).changed);  // still boot1
  }
}
