// Rolling updates on real systemd hosts, driven by fleetctl as a user types it: four web@
// instances on three hosts get new template content one (or two) at a time, a version that
// cannot start is put back, a rollout is aborted, and one goes on when the engine leader's host
// is halted in its middle. How many instances are down at once is read from the instances' own
// start/stop log (ExecStart / ExecStopPost lines), not from fleet's view.

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <set>

#include "tests/e2e/support/e2e.h"
#include "tests/harness/wait.h"

using namespace fleet::testing;
using namespace fleet::testing::e2e;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kUnits = {"web@1.service", "web@2.service", "web@3.service",
                                         "web@4.service"};

// The template at `version`; `exec` replaces the logging ExecStart (a version that fails).
std::string web(const std::string& log, int version, const std::string& exec = {}) {
  std::string text = logging_unit(log);
  text = "[Unit]\nDescription=web v" + std::to_string(version) + "\n\n" + text;
  if (!exec.empty()) {
    auto at = text.find("ExecStart=");
    text.replace(at, text.find('\n', at) - at, "ExecStart=" + exec);
  }
  return text;
}

// unit -> (reported content hash, active) from `fleetctl list-units`.
std::map<std::string, std::pair<std::string, std::string>> running(Cluster& c) {
  std::map<std::string, std::pair<std::string, std::string>> out;
  auto r = c.fleetctl(c.any_up(),
                      {"list-units", "--no-legend", "--full", "--fields", "unit,hash,active"});
  for (auto& row : rows(r.out))
    if (row.size() == 3) out[row[0]] = {row[1], row[2]};
  return out;
}

// The content hash of web@1.service as `fleetctl list-unit-files` shows it (instances started
// from a local template file: the template itself is not submitted, as in fleet).
std::string content_hash(Cluster& c) {
  auto r =
      c.fleetctl(c.any_up(), {"list-unit-files", "--no-legend", "--full", "--fields", "unit,hash"});
  for (auto& row : rows(r.out))
    if (row.size() == 2 && row[0] == "web@1.service") return row[1];
  return {};
}

// Every instance active with content `hash`.
bool all_on(Cluster& c, const std::string& hash) {
  auto now = running(c);
  for (const auto& u : kUnits) {
    auto it = now.find(u);
    if (it == now.end() || it->second.first != hash || it->second.second != "active") return false;
  }
  return true;
}

void clear(const std::string& log) { std::ofstream(log, std::ios::trunc); }

}  // namespace

TEST_CASE("fleetctl rollout: health-gated, reverting, abortable, surviving the engine leader") {
  auto t_all = std::chrono::steady_clock::now();
  ClusterOptions o;
  o.label = "rollout";
  Cluster c(o);
  const std::string log = c.work_dir() + "/web.log";
  const std::string cd = "cd " + c.work_dir() + " && ";
  c.write_unit("web@.service", web(log, 1));
  auto started = fleetctl_sh(c, 0, cd + "fleetctl start web@{1..4}.service");
  REQUIRE_MESSAGE(started.exit == 0, started.err);
  REQUIRE(wait_until([&] { return all_on(c, content_hash(c)); }, kSettle, 200ms));
  std::string previous = content_hash(c);
  const std::string fast = "--min-healthy=500ms --timeout=20s ";

  {
    INFO("a good version: one at a time, all on the new content");
    clear(log);
    c.write_unit("web@.service", web(log, 2));
    auto t0 = std::chrono::steady_clock::now();
    auto r = fleetctl_sh(c, 0, cd + "fleetctl rollout " + fast + "web@.service");
    MESSAGE("rollout of 4 instances, 1 at a time: ", since(t0), " s\n", r.out);
    REQUIRE_MESSAGE(r.exit == 0, r.out << r.err);
    CHECK(contains(r.out, "[4/4] web@"));
    CHECK(contains(r.out, " healthy on "));
    CHECK(contains(r.out, "Rollout of web@.service done"));
    const std::string now = content_hash(c);
    CHECK(now != previous);
    CHECK(all_on(c, now));
    CHECK(most_down(log) == 1);
    previous = now;
  }
  {
    INFO("a version whose ExecStart fails: non-zero exit, every instance back and active");
    clear(log);
    c.write_unit("web@.service", web(log, 3, "/bin/sh -c \"echo broken; exit 3\""));
    // The health window must be longer than an agent takes to report the failure (the planner
    // only knows what agents published): with 500 ms, web@1 was once judged healthy before its
    // failure arrived, and then failed while web@2 was replaced. The bad version fails at once,
    // so the longer window costs nothing here.
    auto r = fleetctl_sh(c, 0, cd + "fleetctl rollout --min-healthy=3s --timeout=20s web@.service");
    MESSAGE(r.out, r.err);
    CHECK(r.exit == 1);
    CHECK(contains(r.err, "Rollout of web@.service reverted"));
    CHECK(contains(r.err, "web@1.service unhealthy on"));
    CHECK(contains(r.err, "systemd reports failed"));
    CHECK(content_hash(c) == previous);
    CHECK(wait_until([&] { return all_on(c, previous); }, kSettle, 200ms));
    CHECK(most_down(log) <= 1);
    auto status = c.fleetctl(0, {"rollout-status", "web@.service"});
    CHECK(status.exit == 0);
    CHECK(contains(status.out, "reverted"));
  }
  {
    INFO("--max-unavailable=2: two at a time");
    clear(log);
    c.write_unit("web@.service", web(log, 4));
    auto t0 = std::chrono::steady_clock::now();
    auto r =
        fleetctl_sh(c, 0, cd + "fleetctl rollout --max-unavailable=2 " + fast + "web@.service");
    MESSAGE("rollout of 4 instances, 2 at a time: ", since(t0), " s");
    REQUIRE_MESSAGE(r.exit == 0, r.out << r.err);
    const std::string now = content_hash(c);
    CHECK(all_on(c, now));
    CHECK(most_down(log) <= 2);
    previous = now;
  }
  {
    INFO("abort: the changed instance goes back, the rollout ends aborted");
    c.write_unit("web@.service", web(log, 5));
    auto r = fleetctl_sh(c, 0,
                         cd + "fleetctl rollout --no-block --min-healthy=30s --timeout=1m "
                              "web@.service");
    REQUIRE_MESSAGE(r.exit == 0, r.err);
    auto in_progress = c.fleetctl(0, {"rollout-status"});
    CHECK(in_progress.exit == 3);
    // Abort once the first instance runs the new content.
    REQUIRE(wait_until(
        [&] {
          auto s = c.fleetctl(0, {"rollout-status", "web@.service"});
          return contains(s.out, "replacing") && running(c)["web@1.service"].second == "active" &&
                 running(c)["web@1.service"].first != previous;
        },
        kSettle, 200ms));
    auto a = c.fleetctl(0, {"rollout", "--abort", "web@.service"});
    CHECK_MESSAGE(a.exit == 0, a.out << a.err);
    CHECK(contains(a.out + a.err, "aborted by the user"));
    auto s = c.fleetctl(0, {"rollout-status", "web@.service"});
    CHECK(s.exit == 0);
    CHECK(contains(s.out, "aborted"));
    CHECK(content_hash(c) == previous);
    CHECK(wait_until([&] { return all_on(c, previous); }, kSettle, 200ms));
  }
  {
    INFO("the engine leader's host halted in the middle: the rollout finishes");
    const int leader = registry_leader(c);
    REQUIRE(leader >= 0);
    const auto via = static_cast<std::size_t>((leader + 1) % 3);
    c.write_unit("web@.service", web(log, 6));
    auto r = fleetctl_sh(c, via,
                         cd + "fleetctl rollout --no-block --min-healthy=1s --timeout=30s "
                              "web@.service");
    REQUIRE_MESSAGE(r.exit == 0, r.err);
    REQUIRE(wait_until(
        [&] {
          auto s = c.fleetctl(via, {"rollout-status", "web@.service"});
          for (auto& row : rows(s.out))
            if (row.size() > 2 && row[0] == "web@.service")
              return row[2] == "1/4" || row[2] == "2/4";
          return false;
        },
        kSettle, 100ms));
    auto t_halt = std::chrono::steady_clock::now();
    c.halt(static_cast<std::size_t>(leader));
    int status = -1;
    std::string out;
    REQUIRE(wait_until(
        [&] {
          auto s = c.fleetctl(via, {"rollout-status", "web@.service"}, 10s);
          status = s.exit;
          out = s.out;
          return status == 0;
        },
        60s, 250ms));
    MESSAGE("rollout over ", since(t_halt), " s after the leader's host was halted\n", out);
    CHECK(contains(out, "done"));
    const std::string now = content_hash(c);
    CHECK(now != previous);
    CHECK(wait_until([&] { return all_on(c, now); }, kSettle, 200ms));
  }
  MESSAGE("rollout e2e: ", since(t_all), " s in all");
}
