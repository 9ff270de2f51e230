#pragma once
// Cluster: a real fleet cluster on this machine for end-to-end tests and the demo — real etcd
// member(s) and N real-systemd hosts (127.0.0.11, ...), each running fleetd as a service of its
// own systemd. fleetctl runs inside a host, against that host's fleetd socket, exactly as a user
// on that host would type it. Everything is torn down by the destructor.
//
// Threads: a monitor thread (started by the constructor) watches every host's PID 1 (a
// non-blocking wait every 20 ms), records how each boot ended and, with reboot_on_request, boots
// a host again after a reboot request. So the members below are safe to call from one test thread
// while it runs; they take the cluster's mutex, never across a boot. Host objects are never freed
// before the Cluster: a Host& from host(i) stays valid, but after a reboot it is the old, halted
// boot (its run() says "host not running"); call host(i) again for the new one. Stop and start
// hosts only through halt(i) and boot(i), never Host::halt(). Hosts the monitor booted die when
// its thread exits (PR_SET_PDEATHSIG is per thread): it lives until the destructor.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/etcd/etcd_cluster.h"
#include "tests/harness/host/host.h"
#include "tests/harness/proxy/cut_proxy.h"

namespace fleet::testing {

struct ClusterOptions {
  std::size_t hosts = 3;
  std::size_t etcd_members = 1;
  std::vector<std::map<std::string, std::string>> metadata;  // per host (index 0 = first host)
  // 0: not given, fleetd's default (for a test of what users get out of the box). A set
  // engine_lease_ttl_s also sets engine_reconcile_interval to 500 ms.
  int agent_ttl_s = 5;
  int engine_lease_ttl_s = 3;
  // Each host reaches etcd through its own CutProxy, so that cut()/heal() can partition it.
  bool cuttable = false;
  // A host whose systemd ends with a reboot request (`systemctl reboot`, or any start of
  // reboot.target) is booted again by the monitor, with the same machine ID, IP and metadata;
  // fleetd, a service of its systemd, starts with it. A power-off or halt leaves the host down.
  bool reboot_on_request = false;
  std::string label = "cluster";
  std::string fleetd = FLEET_FLEETD_PATH;
  std::string fleetctl = FLEET_FLEETCTL_PATH;
};

// One boot of a host, as the cluster saw it. Times are steady_clock.
struct BootRecord {
  using Time = std::chrono::steady_clock::time_point;
  // The harness began to boot it. The monitor opens the record of a reboot in the same step
  // in which it records the end of the previous boot: a test that sees a power-off's end and no
  // next record knows the host stays down.
  Time started;
  std::optional<Time> ready;  // its fleetd answered `fleetctl list-machines`
  // Its systemd began to shut down: the stop of a unit ordered after fleetd, so this precedes
  // fleetd's SIGTERM (the host stamps it, to a few ms). Empty if the host was killed.
  std::optional<Time> stopping;
  std::optional<HostDown> down;  // PID 1 ended, how, and when that was seen (within ~20 ms)
  std::string error;             // why booting it failed
};

// A span in which a host was not serving: from the start of its shutdown (else the end of its
// PID 1) until the fleetd of its next boot answered (empty: not back yet, or never).
struct Outage {
  std::size_t host = 0;
  HostEnd end = HostEnd::killed;
  BootRecord::Time from;
  std::optional<BootRecord::Time> until;
};

class Cluster {
 public:
  // Starts etcd and every host and waits until each fleetd answers; throws std::runtime_error
  // with the failing host's console tail otherwise.
  explicit Cluster(ClusterOptions opts);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  std::size_t size() const { return ids_.size(); }
  EtcdCluster& etcd() { return *etcd_; }
  Host& host(std::size_t i);
  bool up(std::size_t i) const;
  const std::string& machine_id(std::size_t i) const { return ids_.at(i); }
  std::string ip(std::size_t i) const { return host_ip(static_cast<int>(i) + 1); }
  // fleetd's TCP API of host i, for fleetctl --endpoint from outside the hosts.
  std::string api_url(std::size_t i) const {
    return "http://" + ip(i) + ":" + std::to_string(ports_.at(i));
  }
  // Index of the host whose machine ID starts with `prefix`; -1 if none.
  int index_of(const std::string& id_prefix) const;

  // Halts host i (kill -9 of its PID 1: the seed's `vagrant halt`).
  void halt(std::size_t i);
  // Boots host i again with the same machine ID, IP and metadata; waits for its fleetd. Waits
  // first if the monitor is rebooting it.
  void boot(std::size_t i);

  // Every boot of host i so far, oldest first.
  std::vector<BootRecord> boots(std::size_t i) const;
  // How many boots of host i got as far as an answering fleetd (1 after the constructor).
  std::size_t boot_count(std::size_t i) const;
  // Every host's outages so far, by start time.
  std::vector<Outage> outages() const;
  // Partitions host i from etcd (needs `cuttable`): its requests and watches hang, as on a broken
  // link, until heal(i), which resets its old connections.
  void cut(std::size_t i);
  void heal(std::size_t i);

  // Runs `fleetctl <args>` inside host i.
  Host::Exec fleetctl(std::size_t i, const std::vector<std::string>& args,
                      std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // First live host.
  std::size_t any_up() const;

  // Writes a unit file into a directory every host sees (the shared root filesystem) and
  // returns its path.
  std::string write_unit(const std::string& name, const std::string& content);
  const std::string& work_dir() const { return work_dir_; }

 private:
  HostOptions host_options(std::size_t i) const;
  std::string stopping_stamp(std::size_t i) const;
  void wait_ready(Host& h, std::size_t i);
  // Prints the end of every running host's fleetd journal to stderr (the destructor, on failure).
  void dump_fleetd_logs();
  static constexpr int kDumpedLogLines = 80;
  // Halts host i and records its end (the caller holds busy_[i]).
  void halt_claimed(std::size_t i);
  // Records in host i's last BootRecord how its PID 1 ended and when its shutdown began.
  // Needs mu_ held.
  void record_down(std::size_t i, const HostDown& d);
  // Boots host i again (the caller holds busy_[i]); throws std::runtime_error on failure.
  void reboot(std::size_t i);
  void monitor();
  // Claims host i for a halt or boot: waits while the monitor (or another caller) has it.
  class Claim;

  ClusterOptions opts_;
  std::size_t failures_at_start_ = 0;  // testing::failed_assertions() when the cluster was made
  std::unique_ptr<EtcdCluster> etcd_;
  mutable std::mutex mu_;  // guards hosts_, retired_, boots_, busy_
  std::condition_variable changed_;
  std::vector<std::unique_ptr<Host>> hosts_;
  std::vector<std::unique_ptr<Host>> retired_;  // earlier boots: references to them stay valid
  std::vector<std::vector<BootRecord>> boots_;
  std::vector<bool> busy_;          // a halt or boot of the host is under way, outside mu_
  std::atomic<bool> stop_ = false;  // set by the destructor; ends the monitor and its waits
  std::thread monitor_;
  std::vector<std::string> ids_;
  std::vector<int> ports_;
  std::vector<std::vector<std::unique_ptr<CutProxy>>> proxies_;  // per host, per etcd member
  std::string work_dir_;
};

}  // namespace fleet::testing
