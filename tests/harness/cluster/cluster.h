#pragma once
// Cluster: a real fleet cluster on this machine for end-to-end tests and the demo — real etcd
// member(s) and N real-systemd hosts (127.0.0.11, ...), each running fleetd as a service of its
// own systemd. fleetctl runs inside a host, against that host's fleetd socket, exactly as a user
// on that host would type it. Everything is torn down by the destructor.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/harness/etcd/etcd_cluster.h"
#include "tests/harness/host/host.h"
#include "tests/harness/proxy/cut_proxy.h"

namespace fleet::testing {

struct ClusterOptions {
  std::size_t hosts = 3;
  std::size_t etcd_members = 1;
  std::vector<std::map<std::string, std::string>> metadata;  // per host (index 0 = first host)
  int agent_ttl_s = 5;
  int engine_lease_ttl_s = 3;
  // Each host reaches etcd through its own CutProxy, so that cut()/heal() can partition it.
  bool cuttable = false;
  std::string label = "cluster";
  std::string fleetd = FLEET_FLEETD_PATH;
  std::string fleetctl = FLEET_FLEETCTL_PATH;
};

class Cluster {
 public:
  // Starts etcd and every host and waits until each fleetd answers; throws std::runtime_error
  // with the failing host's console tail otherwise.
  explicit Cluster(ClusterOptions opts);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  std::size_t size() const { return hosts_.size(); }
  EtcdCluster& etcd() { return *etcd_; }
  Host& host(std::size_t i) { return *hosts_.at(i); }
  bool up(std::size_t i) const { return hosts_.at(i) && hosts_.at(i)->alive(); }
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
  // Boots host i again with the same machine ID, IP and metadata; waits for its fleetd.
  void boot(std::size_t i);
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
  void wait_ready(std::size_t i);

  ClusterOptions opts_;
  std::unique_ptr<EtcdCluster> etcd_;
  std::vector<std::unique_ptr<Host>> hosts_;
  std::vector<std::string> ids_;
  std::vector<int> ports_;
  std::vector<std::vector<std::unique_ptr<CutProxy>>> proxies_;  // per host, per etcd member
  std::string work_dir_;
};

}  // namespace fleet::testing
