#include "tests/harness/cluster/cluster.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

#include "tests/harness/test_failures.h"
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

using Clock = std::chrono::steady_clock;

// The modification time of `path`, on steady_clock (the host stamps with the wall clock; it is
// mapped by the clocks' current offset).
std::optional<Clock::time_point> stamp_time(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  auto wall = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
  return Clock::now() - (std::chrono::system_clock::now() - wall);
}

BootRecord starting_now() {
  BootRecord r;
  r.started = Clock::now();
  return r;
}

}  // namespace

// Holds busy_[i] for a halt or boot by the test thread, so that the monitor leaves host i alone.
class Cluster::Claim {
 public:
  Claim(Cluster& c, std::size_t i) : c_(c), i_(i) {
    std::unique_lock lk(c_.mu_);
    c_.changed_.wait(lk, [&] { return !c_.busy_.at(i_); });
    c_.busy_[i_] = true;
  }
  ~Claim() {
    {
      std::lock_guard lk(c_.mu_);
      c_.busy_[i_] = false;
    }
    c_.changed_.notify_all();
  }
  Claim(const Claim&) = delete;
  Claim& operator=(const Claim&) = delete;

 private:
  Cluster& c_;
  std::size_t i_;
};

Cluster::Cluster(ClusterOptions opts)
    : opts_(std::move(opts)), failures_at_start_(failed_assertions().load()) {
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
  boots_.resize(opts_.hosts);
  busy_.resize(opts_.hosts, false);
  for (std::size_t i = 0; i < opts_.hosts; ++i) {
    boots_[i].push_back(starting_now());
    auto h = Host::boot(host_options(i));
    if (!h)
      throw std::runtime_error("booting host " + std::to_string(i + 1) + ": " + h.error().message);
    hosts_[i] = std::move(h).value();
  }
  for (std::size_t i = 0; i < opts_.hosts; ++i) {
    wait_ready(*hosts_[i], i);
    boots_[i].back().ready = Clock::now();
  }
  monitor_ = std::thread([this] { monitor(); });
}

Cluster::~Cluster() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  // Before the hosts: the hosts it booted die with it, and it must not watch a halted one.
  if (monitor_.joinable()) monitor_.join();
  // A failed REQUIRE (or any exception) unwinds through here, a failed CHECK is counted: what
  // the fleetds logged is the one clue to a failure seen only once, e.g. in CI, and it goes with
  // the hosts.
  if (std::uncaught_exceptions() > 0 || failed_assertions().load() > failures_at_start_)
    dump_fleetd_logs();
  for (auto& h : hosts_)
    if (h) h->halt();
  hosts_.clear();
  retired_.clear();
  proxies_.clear();
  etcd_.reset();
}

void Cluster::dump_fleetd_logs() {
  for (std::size_t i = 0; i < hosts_.size(); ++i) {
    if (!hosts_[i] || !hosts_[i]->alive()) continue;
    auto log = hosts_[i]->run({"journalctl", "-u", "fleetd", "--no-pager", "-o", "short-precise",
                               "-n", std::to_string(kDumpedLogLines)});
    std::fprintf(stderr, "--- fleetd on host %zu (%s), its last %d log lines:\n%s", i + 1,
                 hosts_[i]->name().c_str(), kDumpedLogLines, log.out.c_str());
  }
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
  std::string exec = opts_.fleetd + " --etcd_servers=" + join(etcd, ',') + " --public_ip=" + o.ip;
  if (opts_.agent_ttl_s > 0) exec += " --agent_ttl=" + std::to_string(opts_.agent_ttl_s) + "s";
  if (opts_.engine_lease_ttl_s > 0)
    exec += " --engine_lease_ttl=" + std::to_string(opts_.engine_lease_ttl_s) +
            "s --engine_reconcile_interval=500ms";
  exec += " --api_listen=unix:///var/run/fleet.sock --api_listen=tcp://" + o.ip + ":" +
          std::to_string(ports_.at(i));
  if (!md.empty()) exec += " --metadata=" + join(md, ',');
  o.unit_contents["fleetd.service"] =
      "[Unit]\nDescription=fleet daemon\nAfter=dbus.service\n\n[Service]\nExecStart=" + exec +
      "\nRestart=always\nRestartSec=1\n";
  // Ordered after fleetd, so a shutdown stops it (and it stamps the time) before fleetd gets
  // SIGTERM: the start of the outage, which PID 1's end would place a second or more too late.
  o.unit_contents["fleet-harness-stopping.service"] =
      "[Unit]\nDescription=tells the test harness that shutdown began\nAfter=fleetd.service\n\n"
      "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n"
      "ExecStop=/usr/bin/touch " +
      stopping_stamp(i) + "\n";
  o.start_units = {"fleetd.service", "fleet-harness-stopping.service"};
  return o;
}

std::string Cluster::stopping_stamp(std::size_t i) const {
  return work_dir_ + "/" + opts_.label + "-h" + std::to_string(i + 1) + ".stopping";
}

void Cluster::wait_ready(Host& h, std::size_t i) {
  bool ok = wait_until(
      [&] {
        if (stop_) return true;  // the destructor waits for the monitor
        auto r = h.run({opts_.fleetctl, "list-machines", "--no-legend"}, std::chrono::seconds(5));
        return r.exit == 0;
      },
      std::chrono::seconds(60), std::chrono::milliseconds(200));
  if (!ok) {
    auto log = h.run({"journalctl", "-u", "fleetd", "--no-pager", "-n", "30"});
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

Host& Cluster::host(std::size_t i) {
  std::lock_guard lk(mu_);
  return *hosts_.at(i);
}

bool Cluster::up(std::size_t i) const {
  std::lock_guard lk(mu_);
  return hosts_.at(i) && hosts_[i]->alive();
}

void Cluster::halt(std::size_t i) {
  Claim claim(*this, i);
  halt_claimed(i);
}

void Cluster::halt_claimed(std::size_t i) {
  Host& h = host(i);
  h.halt();
  std::lock_guard lk(mu_);
  auto d = h.poll_down();
  if (d && !boots_[i].back().down) record_down(i, *d);
}

void Cluster::boot(std::size_t i) {
  Claim claim(*this, i);
  halt_claimed(i);
  {
    std::lock_guard lk(mu_);
    boots_[i].push_back(starting_now());
  }
  reboot(i);
}

void Cluster::reboot(std::size_t i) {
  Host* old = nullptr;
  std::size_t ended = 0;
  {
    std::lock_guard lk(mu_);
    old = hosts_[i].get();
    ended = boots_[i].size() - 1;
  }
  try {
    // The new boot starts with a fresh run dir: keep the console log of the one that ended.
    std::error_code ec;
    std::filesystem::rename(
        old->run_dir() + "/console.log",
        work_dir_ + "/" + old->name() + "-boot" + std::to_string(ended) + "-console.log", ec);
    std::filesystem::remove(stopping_stamp(i), ec);
    auto h = old->boot_again();
    if (!h) throw std::runtime_error(h.error().message);
    Host& fresh = *h.value();
    {
      std::lock_guard lk(mu_);
      retired_.push_back(std::move(hosts_[i]));
      hosts_[i] = std::move(h).value();
    }
    wait_ready(fresh, i);
  } catch (const std::exception& e) {
    std::string why = "rebooting host " + std::to_string(i + 1) + ": " + e.what();
    std::lock_guard lk(mu_);
    boots_[i].back().error = why;
    throw std::runtime_error(why);
  }
  std::lock_guard lk(mu_);
  if (!stop_) boots_[i].back().ready = Clock::now();
}

void Cluster::record_down(std::size_t i, const HostDown& d) {
  BootRecord& rec = boots_[i].back();
  rec.down = d;
  rec.stopping = stamp_time(stopping_stamp(i));
}

void Cluster::monitor() {
  std::unique_lock lk(mu_);
  while (!stop_) {
    for (std::size_t i = 0; i < hosts_.size() && !stop_; ++i) {
      const BootRecord& rec = boots_[i].back();
      if (busy_[i] || rec.down || !rec.error.empty() || !hosts_[i]) continue;
      auto d = hosts_[i]->poll_down();  // a waitpid(WNOHANG): fine under the lock
      if (!d) continue;
      record_down(i, *d);
      if (d->end != HostEnd::reboot || !opts_.reboot_on_request) continue;
      boots_[i].push_back(starting_now());
      busy_[i] = true;
      lk.unlock();
      try {
        reboot(i);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "WARN cluster: %s\n", e.what());
      }
      lk.lock();
      busy_[i] = false;
      changed_.notify_all();
    }
    changed_.wait_for(lk, std::chrono::milliseconds(20), [&] { return stop_.load(); });
  }
}

std::vector<BootRecord> Cluster::boots(std::size_t i) const {
  std::lock_guard lk(mu_);
  return boots_.at(i);
}

std::size_t Cluster::boot_count(std::size_t i) const {
  std::lock_guard lk(mu_);
  const auto& b = boots_.at(i);
  return static_cast<std::size_t>(
      std::count_if(b.begin(), b.end(), [](const BootRecord& r) { return r.ready.has_value(); }));
}

std::vector<Outage> Cluster::outages() const {
  std::lock_guard lk(mu_);
  std::vector<Outage> out;
  for (std::size_t i = 0; i < boots_.size(); ++i) {
    const auto& b = boots_[i];
    // An outage starts at the end of a boot that served; boots that never served lie inside it.
    for (std::size_t k = 0; k < b.size(); ++k) {
      if (!b[k].ready || !b[k].down) continue;
      Outage o{i, b[k].down->end, b[k].stopping.value_or(b[k].down->seen), std::nullopt};
      for (std::size_t n = k + 1; n < b.size() && !o.until; ++n) o.until = b[n].ready;
      out.push_back(o);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const Outage& a, const Outage& b) { return a.from < b.from; });
  return out;
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
  for (std::size_t i = 0; i < size(); ++i)
    if (up(i)) return i;
  throw std::runtime_error("no host is up");
}

Host::Exec Cluster::fleetctl(std::size_t i, const std::vector<std::string>& args,
                             std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{opts_.fleetctl};
  argv.insert(argv.end(), args.begin(), args.end());
  return host(i).run(argv, timeout);
}

std::string Cluster::write_unit(const std::string& name, const std::string& content) {
  std::string path = work_dir_ + "/" + name;
  std::ofstream(path, std::ios::trunc) << content;
  return path;
}

}  // namespace fleet::testing
