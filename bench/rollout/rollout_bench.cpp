// Rolling updates (issue #16, Done when) on three real-systemd hosts, one etcd. Not part of CTest.
//
//   build/bench/rollout/rollout_bench [instances=30] [min-healthy=1s]
//
// Must run as root (it boots real-systemd hosts and etcd, like the e2e tests).
//
// `instances` web@ instances run on three hosts; each logs `start|stop <unit> <host> <time>` to a
// shared file (ExecStart / ExecStopPost). The same change of the template is made three ways,
// each timed from the command to its end:
//  - `fleetctl rollout --min-healthy=<d> web@.service` (N=1), and with --max-unavailable=3;
//  - by hand, as users did before: destroy and submit the template, then for each instance
//    `fleetctl destroy` + `fleetctl start` (start blocks until systemd reports it active).
// The fewest instances active during each is read from the log (target for a rollout: never
// fewer than instances - N).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "tests/e2e/support/e2e.h"
#include "tests/harness/wait.h"

using namespace fleet::testing;
using namespace fleet::testing::e2e;
using namespace std::chrono_literals;

namespace {

std::string web(const std::string& log, int version) {
  return "[Unit]\nDescription=web v" + std::to_string(version) + "\n\n" + logging_unit(log);
}

bool all_active(Cluster& c, int total) {
  auto r = c.fleetctl(c.any_up(), {"list-units", "--no-legend", "--fields", "unit,active"});
  int active = 0;
  for (auto& row : rows(r.out))
    if (row.size() == 2 && row[1] == "active") ++active;
  return active == total;
}

struct Figure {
  double seconds = -1;
  int fewest = -1;
  int exit = -1;
};

}  // namespace

int main(int argc, char** argv) {
  const int total = argc > 1 ? std::atoi(argv[1]) : 30;
  const std::string healthy = argc > 2 ? argv[2] : "1s";
  ClusterOptions o;
  o.label = "rollout-bench";
  Cluster c(o);
  const std::string log = c.work_dir() + "/web.log";
  const std::string cd = "cd " + c.work_dir() + " && ";
  c.write_unit("web@.service", web(log, 1));
  auto started = fleetctl_sh(
      c, 0, cd + "fleetctl start --no-block web@{1.." + std::to_string(total) + "}.service", 120s);
  if (started.exit != 0 || !wait_until([&] { return all_active(c, total); }, 120s, 500ms)) {
    std::fprintf(stderr, "instances did not start: %s\n", started.err.c_str());
    return 1;
  }

  auto measure = [&](int version, const std::string& line) {
    std::ofstream(log, std::ios::trunc);
    c.write_unit("web@.service", web(log, version));
    auto t0 = std::chrono::steady_clock::now();
    auto r = fleetctl_sh(c, 0, cd + line, 600s);
    Figure f;
    f.seconds = since(t0);
    f.exit = r.exit;
    if (r.exit != 0)
      std::fprintf(stderr, "%s: exit %d\n%s%s\n", line.c_str(), r.exit, r.out.c_str(),
                   r.err.c_str());
    wait_until([&] { return all_active(c, total); }, 60s, 500ms);
    f.fewest = total - most_down(log);
    return f;
  };

  const std::string flags = "--min-healthy=" + healthy + " --timeout=1m ";
  Figure n1 = measure(2, "fleetctl rollout " + flags + "web@.service");
  Figure n3 = measure(3, "fleetctl rollout --max-unavailable=3 " + flags + "web@.service");
  Figure hand = measure(4,
                        "fleetctl destroy web@.service && fleetctl submit web@.service && "
                        "for i in $(seq 1 " +
                            std::to_string(total) +
                            "); do fleetctl destroy web@$i.service && "
                            "fleetctl start web@$i.service || exit 1; done");

  std::printf("rolling update of %d instances on 3 hosts (rollout --min-healthy=%s)\n", total,
              healthy.c_str());
  std::printf("%-38s %9s %14s %8s\n", "", "seconds", "fewest active", "target");
  auto row = [&](const char* what, const Figure& f, int n) {
    std::string target = n > 0 ? ">= " + std::to_string(total - n) : "-";
    std::printf("%-38s %9.1f %8d/%-5d %8s%s\n", what, f.seconds, f.fewest, total, target.c_str(),
                f.exit != 0 ? "  (failed)" : "");
  };
  row("fleetctl rollout (N=1)", n1, 1);
  row("fleetctl rollout --max-unavailable=3", n3, 3);
  row("by hand: destroy + start per unit", hand, 0);
  std::printf("rollout N=1 / by hand: %.2fx the time; N=3 / by hand: %.2fx\n",
              n1.seconds / hand.seconds, n3.seconds / hand.seconds);
  const bool ok = n1.exit == 0 && n3.exit == 0 && n1.fewest >= total - 1 && n3.fewest >= total - 3;
  return ok ? 0 : 1;
}
