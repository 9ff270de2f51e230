// fleet-cluster: keeps a local demo cluster (etcd + real-systemd hosts running fleetd) alive
// until SIGTERM/SIGINT, then tears everything down. Used by scripts/demo.
//
//   fleet-cluster serve <state-dir> [hosts]
//
// Writes <state-dir>/cluster.env (HOSTn_IP, HOSTn_PID, HOSTn_API, HOSTn_ID, ETCD) once every
// fleetd answers, and <state-dir>/pid.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "tests/harness/cluster/cluster.h"

int main(int argc, char** argv) {
  if (argc < 3 || std::string(argv[1]) != "serve") {
    std::cerr << "usage: fleet-cluster serve <state-dir> [hosts]\n";
    return 2;
  }
  std::string dir = argv[2];
  std::size_t hosts = argc > 3 ? std::stoul(argv[3]) : 3;
  std::filesystem::create_directories(dir);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  try {
    fleet::testing::ClusterOptions o;
    o.hosts = hosts;
    o.label = "demo";
    o.agent_ttl_s = 10;
    o.metadata = {{{"role", "web"}}, {{"role", "web"}}, {{"role", "db"}}};
    o.reboot_on_request = true;  // `fleetctl reboot` and `systemctl reboot` in a host boot it again
    fleet::testing::Cluster c(o);
    std::ofstream env(dir + "/cluster.env.tmp");
    for (std::size_t i = 0; i < c.size(); ++i) {
      auto n = std::to_string(i + 1);
      env << "HOST" << n << "_IP=" << c.ip(i) << "\nHOST" << n << "_PID=" << c.host(i).pid()
          << "\nHOST" << n << "_API=" << c.api_url(i) << "\nHOST" << n << "_ID=" << c.machine_id(i)
          << "\n";
    }
    env << "ETCD=" << c.etcd().endpoint(0) << "\nHOSTS=" << c.size() << "\n";
    env.close();
    std::filesystem::rename(dir + "/cluster.env.tmp", dir + "/cluster.env");
    std::ofstream(dir + "/pid") << ::getpid() << "\n";
    int sig = 0;
    sigwait(&set, &sig);
    std::filesystem::remove(dir + "/cluster.env");
    std::cerr << "fleet-cluster: tearing down\n";
  } catch (const std::exception& e) {
    std::cerr << "fleet-cluster: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
