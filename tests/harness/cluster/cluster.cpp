#include "tests/harness/cluster/cluster.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

#include "tests/harness/wait.h"

namespace fleet::testing {

namespace {

std::string random_id() {
  std::random_device rd;
  std::mt19937_64 gen(rd());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 32; ++i) id += kHex[gen() % 16];
  return id;
}

std::string join(const std::vector<std::string>& v, char sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

}  // namespace

Cluster::Cluster(ClusterOptions opts) : opts_(std::move(opts)) {
  work_dir_ =
      std::string(FLEET_CLUSTER_WORK_DIR) + "/" + opts_.label + "-" + std::to_string(::getpid());
  std::filesystem::remove_all(work_dir_);
  std::filesystem::create_directories(work_dir_);
  EtcdOptions eo;
  eo.members = opts_.etcd_members;
  eo.label = opts_.label;
  etcd_ = std::make_unique<EtcdCluster>(eo);
  ports_ = free_ports(opts_.hosts);
  if (opts_.cuttable) {
    proxies_.resize(opts_.hosts);
    for (auto& per_host : proxies_) {
      for (const auto& url : etcd_->endpoints())
        per_host.push_back(std::make_unique<CutProxy>(std::stoi(url.substr(url.rfind(':') + 1))));
    }
  }
  for (std::size_t i = 0; i < opts_.hosts; ++i) ids_.push_back(random_id());
  hosts_.resize(opts_.hosts);
  for (std::size_t i = 0; i < opts_.hosts; ++i) {
    auto h = Host::boot(host_options(i));
    if (!h)
      throw std::runtime_error("booting host " + std::to_string(i + 1) + ": " + h.error().message);
    hosts_[i] = std::move(h).value();
  }
  for (std::size_t i = 0; i < opts_.hosts; ++i) wait_ready(i);
}

Cluster::~Cluster() {
  for (auto& h : hosts_)
    if (h) h->halt();
  hosts_.clear();
  proxies_.clear();
  etcd_.reset();
}

HostOptions Cluster::host_options(std::size_t i) const {
  HostOptions o;
  o.name = opts_.label + "-h" + std::to_string(i + 1);
  o.ip = ip(i);
  o.machine_id = ids_.at(i);
  if (i < opts_.metadata.size()) o.metadata = opts_.metadata[i];
  std::vector<std::string> md;
  for (const auto& [k, v] : o.metadata) md.push_back(k + "=" + v);
  std::vector<std::string> etcd = etcd_->endpoints();
  if (opts_.cuttable) {
    etcd.clear();
    for (const auto& p : proxies_.at(i))
      etcd.push_back("http://127.0.0.1:" + std::to_string(p->port()));
  }
  std::string exec = opts_.fleetd + " --etcd_servers=" + join(etcd, ',') + " --public_ip=" + o.ip +
                     " --agent_ttl=" + std::to_string(opts_.agent_ttl_s) +
                     "s --engine_lease_ttl=" + std::to_string(opts_.engine_lease_ttl_s) +
                     "s --engine_reconcile_interval=500ms" +
                     " --api_listen=unix:///var/run/fleet.sock --api_listen=tcp://" + o.ip + ":" +
                     std::to_string(ports_.at(i));
  if (!md.empty()) exec += " --metadata=" + join(md, ',');
  o.unit_contents["fleetd.service"] =
      "[Unit]\nDescription=fleet daemon\nAfter=dbus.service\n\n[Service]\nExecStart=" + exec +
      "\nRestart=always\nRestartSec=1\n";
  o.start_units = {"fleetd.service"};
  return o;
}

void Cluster::wait_ready(std::size_t i) {
  bool ok = wait_until(
      [&] {
        auto r = hosts_[i]->run({opts_.fleetctl, "list-machines", "--no-legend"},
                                std::chrono::seconds(5));
        return r.exit == 0;
      },
      std::chrono::seconds(60), std::chrono::milliseconds(200));
  if (!ok) {
    auto log = hosts_[i]->run({"journalctl", "-u", "fleetd", "--no-pager", "-n", "30"});
    throw std::runtime_error("fleetd on host " + std::to_string(i + 1) +
                             " did not answer: " + log.out);
  }
}

int Cluster::index_of(const std::string& id_prefix) const {
  if (id_prefix.empty()) return -1;
  for (std::size_t i = 0; i < ids_.size(); ++i)
    if (ids_[i].rfind(id_prefix, 0) == 0) return static_cast<int>(i);
  return -1;
}

void Cluster::halt(std::size_t i) {
  if (hosts_.at(i)) hosts_[i]->halt();
}

void Cluster::boot(std::size_t i) {
  halt(i);
  hosts_[i].reset();
  auto h = Host::boot(host_options(i));
  if (!h)
    throw std::runtime_error("rebooting host " + std::to_string(i + 1) + ": " + h.error().message);
  hosts_[i] = std::move(h).value();
  wait_ready(i);
}

void Cluster::cut(std::size_t i) {
  if (!opts_.cuttable) throw std::logic_error("Cluster::cut needs ClusterOptions::cuttable");
  for (auto& p : proxies_.at(i)) p->cut();
}

void Cluster::heal(std::size_t i) {
  if (!opts_.cuttable) throw std::logic_error("Cluster::heal needs ClusterOptions::cuttable");
  for (auto& p : proxies_.at(i)) p->heal();
}

std::size_t Cluster::any_up() const {
  for (std::size_t i = 0; i < hosts_.size(); ++i)
    if (up(i)) return i;
  throw std::runtime_error("no host is up");
}

Host::Exec Cluster::fleetctl(std::size_t i, const std::vector<std::string>& args,
                             std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{opts_.fleetctl};
  argv.insert(argv.end(), args.begin(), args.end());
  return hosts_.at(i)->run(argv, timeout);
}

std::string Cluster::write_unit(const std::string& name, const std::string& content) {
  std::string path = work_dir_ + "/" + name;
  std::ofstream(path, std::ios::trunc) << content;
  return path;
}

}  // namespace fleet::testing
