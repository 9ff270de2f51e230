#include "tests/harness/host/host.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "tests/harness/host/init_script.h"
#include "tests/harness/wait.h"

#ifndef FLEET_HOST_RUN_DIR
#error "FLEET_HOST_RUN_DIR must name a directory under the build tree"
#endif

namespace fleet::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kCgroupPrefix = "fleethost-";

// --- Safety net: every live host's PID 1, killed at exit or on a fatal signal. --------------
// Lock-free so the signal handler can read it.
constexpr size_t kMaxHosts = 128;
std::array<std::atomic<pid_t>, kMaxHosts> g_live_pid1{};
std::array<struct sigaction, 32> g_old_actions{};
constexpr std::array<int, 7> kFatalSignals = {SIGINT,  SIGTERM, SIGHUP, SIGABRT,
                                              SIGSEGV, SIGBUS,  SIGFPE};

void kill_all_registered() {
  for (auto& slot : g_live_pid1) {
    pid_t p = slot.exchange(0);
    if (p > 0) ::kill(p, SIGKILL);
  }
}

void on_fatal_signal(int sig) {
  kill_all_registered();
  // Hand over to whoever was installed before (doctest reports crashes), else the default.
  ::sigaction(sig, &g_old_actions[static_cast<size_t>(sig)], nullptr);
  ::raise(sig);
}

void install_safety_net() {
  static std::once_flag once;
  std::call_once(once, [] {
    std::atexit(kill_all_registered);
    for (int sig : kFatalSignals) {
      struct sigaction sa {};
      sa.sa_handler = on_fatal_signal;
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = SA_RESETHAND;
      ::sigaction(sig, &sa, &g_old_actions[static_cast<size_t>(sig)]);
    }
  });
}

void register_pid1(pid_t p) {
  for (auto& slot : g_live_pid1) {
    pid_t expected = 0;
    if (slot.compare_exchange_strong(expected, p)) return;
  }
}

void unregister_pid1(pid_t p) {
  for (auto& slot : g_live_pid1) {
    pid_t expected = p;
    slot.compare_exchange_strong(expected, 0);
  }
}

// --- Small helpers. ------------------------------------------------------------------------

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status write_text(const std::string& path, const std::string& content, mode_t mode = 0644) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
  out.close();
  if (!out) return fail(Errc::internal, "cannot write " + path);
  ::chmod(path.c_str(), mode);
  return ok();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

std::string random_machine_id() {
  std::random_device rd;
  static const char* kHex = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 32; ++i) id += kHex[rd() % 16];
  return id;
}

bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > 40) return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

bool process_exists(pid_t p) { return p > 0 && ::kill(p, 0) == 0; }

// Removes a cgroup tree depth-first; only empty cgroups can be removed, so this cannot hurt
// a live host. Returns true when the whole tree is gone.
bool remove_cgroup_tree(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return true;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::error_code ec2;
    if (e.is_directory(ec2) && !e.is_symlink(ec2)) remove_cgroup_tree(e.path().string());
  }
  return ::rmdir(dir.c_str()) == 0 || errno == ENOENT;
}

// Cgroups left by a test process that died (named fleethost-<ownerpid>-<name>).
void remove_stale_cgroups(const std::string& root) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    std::string n = e.path().filename().string();
    if (n.rfind(kCgroupPrefix, 0) != 0) continue;
    pid_t owner = static_cast<pid_t>(std::atoi(n.c_str() + std::strlen(kCgroupPrefix)));
    if (owner > 0 && owner != ::getpid() && !process_exists(owner)) remove_cgroup_tree(e.path());
  }
}

// Run dirs (console logs) of test processes that are gone; the live ones stay for debugging.
void remove_stale_run_dirs(const std::string& base) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(base, ec)) {
    pid_t owner = static_cast<pid_t>(std::atoi(e.path().filename().c_str()));
    if (owner > 0 && owner != ::getpid() && !process_exists(owner)) fs::remove_all(e.path(), ec);
  }
}

std::string boot_target(const HostOptions& o) {
  std::string wants = "dbus.socket dbus.service";
  for (const auto& u : o.start_units) wants += " " + u;
  return "[Unit]\nDescription=fleet test host " + o.name +
         "\nRequires=basic.target\nWants=" + wants + "\nAfter=basic.target\nAllowIsolate=yes\n";
}

// Processes still in the mount namespace `ns` (readlink of /proc/<pid>/ns/mnt) of the host with
// machine ID `id`: the namespace, and the private tmpfs mounts in it, live on while there are any
// (an nsenter parent of run() may linger a moment after PID 1 ended). The ID check tells ours from
// a newer namespace that reused the inode number of ours once it was freed.
int processes_in_namespace(const std::string& ns, const std::string& id) {
  int n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string pid = e.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code ec2;
    if (fs::read_symlink(e.path() / "ns/mnt", ec2).string() != ns || ec2) continue;
    if (trim(read_file("/proc/" + pid + "/root/etc/machine-id")) == id) ++n;
  }
  return n;
}

std::string host_env(const HostOptions& o, const std::string& machine_id) {
  std::string meta;
  for (const auto& [k, v] : o.metadata) meta += (meta.empty() ? "" : ",") + k + "=" + v;
  return "FLEET_HOST_NAME=" + o.name + "\nFLEET_PUBLIC_IP=" + o.ip +
         "\nFLEET_MACHINE_ID=" + machine_id + "\nFLEET_METADATA=" + meta + "\n";
}

}  // namespace

std::string host_ip(int index) { return "127.0.0." + std::to_string(10 + index); }

std::string_view to_string(HostEnd e) {
  switch (e) {
    case HostEnd::reboot:
      return "reboot";
    case HostEnd::poweroff:
      return "poweroff";
    case HostEnd::killed:
      return "killed";
    case HostEnd::exited:
      return "exited";
  }
  return "?";
}

Result<std::string> Host::cgroup2_root() {
  for (const char* p : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
    struct statfs st {};
    constexpr long kCgroup2Magic = 0x63677270;
    if (::statfs(p, &st) == 0 && static_cast<long>(st.f_type) == kCgroup2Magic) return p;
  }
  return fail(Errc::unavailable, "no cgroup2 mount at /sys/fs/cgroup or /sys/fs/cgroup/unified");
}

Result<std::unique_ptr<Host>> Host::boot(HostOptions opts) {
  if (::geteuid() != 0) return fail(Errc::unavailable, "test hosts need root");
  if (!valid_name(opts.name)) return fail(Errc::invalid_argument, "bad host name " + opts.name);
  auto root = cgroup2_root();
  if (!root) return root.error();
  install_safety_net();
  remove_stale_cgroups(root.value());
  remove_stale_run_dirs(FLEET_HOST_RUN_DIR);

  std::unique_ptr<Host> h(new Host(std::move(opts)));
  const HostOptions& o = h->opts_;
  h->machine_id_ = h->opts_.machine_id.empty() ? random_machine_id() : h->opts_.machine_id;
  std::string tag = std::to_string(::getpid()) + "-" + o.name;

  // Run files live under the build tree: never under a path the host mounts privately.
  h->run_dir_ = std::string(FLEET_HOST_RUN_DIR) + "/" + tag;
  for (const char* bad : {"/tmp", "/run", "/var/tmp", "/var/log"})
    if (h->run_dir_.rfind(std::string(bad) + "/", 0) == 0)
      return fail(Errc::invalid_argument, "host run dir must not be under " + std::string(bad));
  std::error_code ec;
  fs::remove_all(h->run_dir_, ec);
  fs::create_directories(h->run_dir_ + "/units", ec);
  if (ec) return fail(Errc::internal, "cannot create " + h->run_dir_ + ": " + ec.message());
  std::string masks;
  for (const char* m : detail::kMasks) masks += std::string(m) + "\n";
  for (auto st : {write_text(h->run_dir_ + "/init.sh", detail::kInitScript, 0755),
                  write_text(h->run_dir_ + "/masks", masks),
                  write_text(h->run_dir_ + "/machine-id", h->machine_id_ + "\n"),
                  write_text(h->run_dir_ + "/fleet-boot.target", boot_target(o)),
                  write_text(h->run_dir_ + "/host.env", host_env(o, h->machine_id_))})
    if (!st) return st.error();
  if (o.private_system) {
    if (auto st = write_text(h->run_dir_ + "/private-system", ""); !st) return st.error();
  }
  for (const auto& path : o.extra_units) {
    fs::copy_file(path, h->run_dir_ + "/units/" + fs::path(path).filename().string(),
                  fs::copy_options::overwrite_existing, ec);
    if (ec) return fail(Errc::invalid_argument, "cannot copy unit " + path + ": " + ec.message());
  }
  for (const auto& [unit, content] : o.unit_contents)
    if (auto st = write_text(h->run_dir_ + "/units/" + unit, content); !st) return st.error();

  h->cgroup_dir_ = root.value() + "/" + kCgroupPrefix + tag;
  remove_cgroup_tree(h->cgroup_dir_);
  if (::mkdir(h->cgroup_dir_.c_str(), 0755) != 0)
    return fail(Errc::internal, "mkdir " + h->cgroup_dir_ + ": " + std::strerror(errno));

  // Everything the child needs is prepared before fork (only async-signal-safe calls after).
  std::string procs = h->cgroup_dir_ + "/cgroup.procs";
  std::string script = h->run_dir_ + "/init.sh";
  std::string log = h->run_dir_ + "/console.log";
  std::vector<std::string> args = {"/usr/bin/unshare",
                                   "--pid",
                                   "--fork",
                                   "--mount",
                                   "--uts",
                                   "--ipc",
                                   "--cgroup",
                                   "--propagation",
                                   "private",
                                   "--kill-child=SIGKILL",
                                   "/bin/sh",
                                   script,
                                   h->run_dir_,
                                   o.name};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  char env_path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  char* envp[] = {env_path, nullptr};
  pid_t parent = ::getpid();

  pid_t child = ::fork();
  if (child < 0) return fail(Errc::internal, std::string("fork: ") + std::strerror(errno));
  if (child == 0) {
    // Dies with the test process; unshare --kill-child passes that on to the host's PID 1.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "0", 1) != 1) ::_exit(125);
    ::close(fd);
    ::setsid();
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0) ::_exit(124);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::close_range(3, ~0U, 0);  // no socket of the test may outlive its close() in a host
    ::execve(argv[0], argv.data(), envp);
    ::_exit(127);
  }
  h->launcher_ = child;
  auto deadline = Clock::now() + o.boot_timeout;

  // PID 1 is unshare's only child; wait until it has exec'd systemd.
  std::string children =
      "/proc/" + std::to_string(child) + "/task/" + std::to_string(child) + "/children";
  while (true) {
    int status = 0;
    if (::waitpid(child, &status, WNOHANG) == child) {
      h->reap_launcher(status);
      h->halt();
      return fail(Errc::internal, "host " + o.name + " exited during boot: " + h->console_tail());
    }
    if (h->pid1_ <= 0) {
      std::string c = read_file(children);
      if (!c.empty()) {
        h->pid1_ = static_cast<pid_t>(std::atoi(c.c_str()));
        register_pid1(h->pid1_);
      }
    }
    if (h->pid1_ > 0 &&
        trim(read_file("/proc/" + std::to_string(h->pid1_) + "/comm")) == "systemd") {
      std::error_code ns_ec;
      h->mnt_ns_ = fs::read_symlink("/proc/" + std::to_string(h->pid1_) + "/ns/mnt", ns_ec);
      break;
    }
    if (Clock::now() > deadline) {
      h->halt();
      return fail(Errc::timeout, "host " + o.name + " did not exec systemd: " + h->console_tail());
    }
    std::this_thread::sleep_for(5ms);
  }
  if (auto st = h->wait_ready(deadline); !st) {
    h->halt();
    return st.error();
  }
  return h;
}

Status Host::wait_ready(Clock::time_point deadline) {
  std::string last;
  while (true) {
    if (!alive()) return fail(Errc::internal, "host " + name() + " died: " + console_tail());
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms) break;
    auto r = run({"/usr/bin/systemctl", "is-system-running"},
                 std::min<std::chrono::milliseconds>(left, 5000ms));
    last = trim(r.out) + " " + trim(r.err);
    std::string state = trim(r.out);
    if (state == "running") return ok();
    // degraded: booted, but a unit failed; the host is usable, say which in the log.
    if (state == "degraded") {
      auto failed = run({"/usr/bin/systemctl", "--failed", "--no-legend", "--plain"});
      std::fprintf(stderr, "WARN host: booted degraded machine=%s failed=%s\n", name().c_str(),
                   trim(failed.out).c_str());
      return ok();
    }
    std::this_thread::sleep_for(20ms);
  }
  return fail(Errc::timeout, "host " + name() + " not running before deadline (last: " + last +
                                 "): " + console_tail());
}

bool Host::alive() const { return !halted_ && !ended_ && process_exists(pid1_); }

std::string Host::console_tail() const {
  std::string s = read_file(run_dir_ + "/console.log");
  return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
}

Host::~Host() { halt(); }

void Host::halt() {
  if (halted_.exchange(true)) return;
  poll_down();
  if (pid1_ > 0 && !ended_) ::kill(pid1_, SIGKILL);
  unregister_pid1(pid1_);
  bool forced = false;
  if (launcher_ > 0) {
    // unshare exits once its child (PID 1) is gone; the kernel has then killed the namespace.
    auto deadline = Clock::now() + 10s;
    int status = 0;
    while (::waitpid(launcher_, &status, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        ::kill(launcher_, SIGKILL);
        ::waitpid(launcher_, &status, 0);
        forced = true;
        break;
      }
      std::this_thread::sleep_for(2ms);
    }
    reap_launcher(status);
  }
  // Only a launcher killed here may have left PID 1 behind (its PDEATHSIG is on the way);
  // otherwise unshare reaped it, and the PID may already belong to someone else.
  if (forced && pid1_ > 0) wait_until([&] { return !process_exists(pid1_); }, 10s, 2ms);
  // Cgroups empty asynchronously after their last task is reaped: retry until removed.
  if (!cgroup_dir_.empty()) wait_until([&] { return remove_cgroup_tree(cgroup_dir_); }, 10s, 5ms);
}

void Host::reap_launcher(int status) {
  launcher_ = -1;
  HostDown d;
  d.seen = Clock::now();
  if (WIFSIGNALED(status)) {
    d.code = WTERMSIG(status);
    d.end = d.code == SIGHUP   ? HostEnd::reboot
            : d.code == SIGINT ? HostEnd::poweroff
                               : HostEnd::killed;
  } else {
    d.end = HostEnd::exited;
    d.code = WEXITSTATUS(status);
  }
  down_ = d;
  // From now on the PID may be reused: neither halt() nor the safety net may signal it.
  unregister_pid1(pid1_);
  ended_ = true;
}

std::optional<HostDown> Host::poll_down() {
  int status = 0;
  if (!down_ && launcher_ > 0 && ::waitpid(launcher_, &status, WNOHANG) == launcher_)
    reap_launcher(status);
  return down_;
}

HostOptions Host::options() const {
  HostOptions o = opts_;
  o.machine_id = machine_id_;
  return o;
}

Result<std::unique_ptr<Host>> Host::boot_again() {
  halt();
  std::error_code ec;
  if (fs::exists(cgroup_dir_, ec))
    return fail(Errc::internal, "cgroup " + cgroup_dir_ + " of the previous boot is still there");
  if (!mnt_ns_.empty() &&
      !wait_until([&] { return processes_in_namespace(mnt_ns_, machine_id_) == 0; }, 10s, 5ms))
    return fail(Errc::internal, "processes are left in the mount namespace " + mnt_ns_ +
                                    " (private tmpfs mounts) of " + name() + "'s previous boot");
  return boot(options());
}

Host::Exec Host::run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                     const std::vector<std::string>& env) const {
  Exec res;
  if (!alive() || argv.empty()) {
    res.err = "host not running";
    return res;
  }
  std::vector<std::string> args = {
      "/usr/bin/nsenter", "-t", std::to_string(pid1_), "-m", "-p", "-u", "-i", "-C",
      "--wd=/",           "--"};
  args.insert(args.end(), argv.begin(), argv.end());
  std::vector<std::string> envs = {
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
      "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0", "HOME=/root"};
  envs.insert(envs.end(), env.begin(), env.end());
  std::vector<char*> cargv, cenv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : envs) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return res;
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return res;
  }
  pid_t child = ::fork();
  if (child == 0) {
    ::setpgid(0, 0);  // own group: a timeout kills nsenter and what it forked
    int in = ::open("/dev/null", O_RDONLY);
    ::dup2(in, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    // Asio's sockets are not close-on-exec: without this a command that outlives a close() in
    // the test (or merely runs at that moment) keeps the connection open.
    ::close_range(3, ~0U, 0);
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (child < 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return res;
  }
  ::setpgid(child, child);
  auto deadline = Clock::now() + timeout;
  bool timed_out = false;
  std::array<pollfd, 2> fds{{{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}}};
  int open_fds = 2;
  char buf[8192];
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms) {
      timed_out = true;
      break;
    }
    int n = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
      if (r > 0) {
        (i == 0 ? res.out : res.err).append(buf, static_cast<size_t>(r));
      } else if (r == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  if (timed_out) ::kill(-child, SIGKILL);
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (timed_out)
    res.exit = 124;
  else if (WIFEXITED(status))
    res.exit = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    res.exit = 128 + WTERMSIG(status);
  return res;
}

Status Host::write_file(const std::string& path_in_host, const std::string& content) const {
  if (!alive()) return fail(Errc::unavailable, "host " + name() + " not running");
  if (path_in_host.empty() || path_in_host[0] != '/')
    return fail(Errc::invalid_argument, "path must be absolute: " + path_in_host);
  // /proc/<pid>/root is the host's own mount namespace view, private tmpfs included.
  std::string p = "/proc/" + std::to_string(pid1_) + "/root" + path_in_host;
  std::error_code ec;
  fs::create_directories(fs::path(p).parent_path(), ec);
  return write_text(p, content);
}

Status Host::install_unit(const std::string& unit, const std::string& content) const {
  if (auto st = write_file("/run/systemd/system/" + unit, content); !st) return st;
  auto r = run({"/usr/bin/systemctl", "daemon-reload"}, 30000ms);
  if (r.exit != 0) return fail(Errc::internal, "daemon-reload failed: " + r.err);
  return ok();
}

Status Host::start_transient(const std::string& unit, const std::vector<std::string>& argv,
                             const std::vector<std::string>& properties,
                             const std::vector<std::string>& env) const {
  std::vector<std::string> cmd = {"/usr/bin/systemd-run", "--quiet", "--unit=" + unit};
  for (const auto& p : properties) cmd.push_back("--property=" + p);
  for (const auto& e : env) cmd.push_back("--setenv=" + e);
  cmd.insert(cmd.end(), argv.begin(), argv.end());
  auto r = run(cmd, 30000ms);
  if (r.exit != 0) return fail(Errc::internal, "systemd-run " + unit + " failed: " + r.err);
  return ok();
}

std::string Host::unit_state(const std::string& unit) const {
  return trim(run({"/usr/bin/systemctl", "is-active", unit}).out);
}

}  // namespace fleet::testing
