#pragma once
// A simulated cluster host: a real systemd as PID 1 in its own PID, mount, UTS, IPC and cgroup
// namespaces (the rationale for each step is in init_script.h). Private tmpfs on /run,
// /tmp, /var/tmp and /var/log (optionally a private layer over /usr, /etc and /var), its own
// /etc/machine-id, host-global units masked, so booting one
// never touches the machine. Every host is killed with its namespace when the Host object dies,
// at exit, on a fatal signal, and (via PR_SET_PDEATHSIG) when the thread that booted it exits.
//
// Not thread-safe, with one exception: the const members (run, alive, write_file, ...) may run
// while one other thread calls poll_down() or halt(). Boot hosts from a thread that outlives them
// (the kernel sends PR_SET_PDEATHSIG when the forking *thread* exits, not the process).

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace fleet::testing {

struct HostOptions {
  std::string name;        // hostname; [a-z0-9-], also names the cgroup and run directory
  std::string ip;          // the host's public address on lo: 127.0.0.11, 127.0.0.12, ...
  std::string machine_id;  // 32 hex; empty = a fresh random ID (set it to reboot "the same" host)
  std::map<std::string, std::string> metadata;  // written to /run/fleet/host.env for fleetd
  // Unit files (paths on this machine) copied into the host's /run/systemd/system before boot.
  std::vector<std::string> extra_units;
  // Unit files given by content (name -> text), also placed in /run/systemd/system before boot.
  std::map<std::string, std::string> unit_contents;
  // Units the boot target pulls in (Wants=), e.g. "fleetd.service".
  std::vector<std::string> start_units;
  // A private writable layer (overlayfs on a tmpfs) over /usr, /etc and /var: the host can
  // install packages (dpkg -i) that the machine never sees, and loses them when it ends.
  bool private_system = false;
  std::chrono::milliseconds boot_timeout{30000};
};

// How PID 1 of a host ended. The kernel ends the init of a non-initial PID namespace that calls
// reboot(2) as if a signal had killed it: SIGHUP for a restart, SIGINT for power-off and halt
// (which therefore look the same from outside); unshare, our child, re-raises its child's
// fatal signal on itself, so its wait status carries the signal.
enum class HostEnd {
  reboot,    // systemd finished a reboot (`systemctl reboot`, reboot.target)
  poweroff,  // systemd finished a power-off or halt
  killed,    // any other signal: halt() (SIGKILL), the OOM killer, `kill -9` of PID 1
  exited,    // PID 1 exited by itself: the init script refused to boot, `systemctl exit`
};
std::string_view to_string(HostEnd e);

struct HostDown {
  HostEnd end = HostEnd::killed;
  int code = 0;  // the exit status for `exited`, else the signal number
  std::chrono::steady_clock::time_point seen;  // when poll_down() or halt() first saw it
};

class Host {
 public:
  struct Exec {
    int exit = -1;  // exit status; 128+N if killed by signal N; 124 on timeout
    std::string out, err;
  };

  // Boots the host and waits (with opts.boot_timeout) until its systemd reports running.
  static Result<std::unique_ptr<Host>> boot(HostOptions opts);

  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;
  ~Host();  // halts

  const std::string& name() const { return opts_.name; }
  const std::string& ip() const { return opts_.ip; }
  pid_t pid() const { return pid1_; }  // PID 1 of the host, as seen from the machine
  const std::string& machine_id() const { return machine_id_; }
  bool alive() const;
  const std::string& cgroup_dir() const { return cgroup_dir_; }
  const std::string& run_dir() const { return run_dir_; }  // on the machine; has console.log

  // Runs argv (argv[0] absolute or found in the host's PATH) inside all the host's namespaces
  // via nsenter; waits at most `timeout` (the process group is killed then). `env` entries are
  // "KEY=value" added to a minimal environment.
  Exec run(const std::vector<std::string>& argv,
           std::chrono::milliseconds timeout = std::chrono::milliseconds(10000),
           const std::vector<std::string>& env = {}) const;

  // Writes a file into the host's private filesystem view (e.g. /run/systemd/system/x.service).
  Status write_file(const std::string& path_in_host, const std::string& content) const;
  // Drops a unit into /run/systemd/system and runs daemon-reload (does not start it).
  Status install_unit(const std::string& unit, const std::string& content) const;
  // Starts a long-lived command owned by the host's systemd: `systemd-run --unit=<unit>`.
  // `properties` are systemd-run -p values ("Restart=always"), `env` "KEY=value".
  Status start_transient(const std::string& unit, const std::vector<std::string>& argv,
                         const std::vector<std::string>& properties = {},
                         const std::vector<std::string>& env = {}) const;
  // ActiveState of a unit inside the host ("active", "inactive", "failed", ...).
  std::string unit_state(const std::string& unit) const;

  // Kills PID 1 (the namespace dies with it), waits for it and removes the cgroup dirs.
  // Idempotent. PID 1 is not signalled when it has already ended (its PID may be reused).
  void halt();

  // Whether PID 1 has ended, and how; never blocks. The first call after the end reaps the
  // launcher, later calls (and halt()) keep the answer. Empty while the host runs.
  std::optional<HostDown> poll_down();

  // The options this host was booted with, its machine ID filled in.
  HostOptions options() const;

  // Boots this host again, as a reboot does: same name, IP, machine ID, metadata and units.
  // Halts this one first (a no-op kill when PID 1 has ended) and refuses to boot until its cgroup
  // tree is removed and no process is left in its mount namespace, which holds the private
  // tmpfs mounts. This object stays, halted; the new boot is the returned one.
  Result<std::unique_ptr<Host>> boot_again();

  // The cgroup2 mount on this machine: /sys/fs/cgroup (pure v2) or /sys/fs/cgroup/unified.
  static Result<std::string> cgroup2_root();

 private:
  explicit Host(HostOptions opts) : opts_(std::move(opts)) {}
  Status wait_ready(std::chrono::steady_clock::time_point deadline);
  std::string console_tail() const;
  void reap_launcher(int status);

  HostOptions opts_;
  std::string machine_id_;
  std::string cgroup_dir_;
  std::string run_dir_;
  pid_t launcher_ = -1;  // the `unshare` process (our child)
  pid_t pid1_ = -1;      // its child: systemd, PID 1 of the namespace
  std::string mnt_ns_;   // PID 1's mount namespace ("mnt:[4026532...]")
  // Read by the const members while another thread may poll_down() or halt().
  std::atomic<bool> halted_ = false;
  std::atomic<bool> ended_ = false;  // PID 1 has ended; down_ says how
  std::optional<HostDown> down_;
};

// Shorthand for a host's address: "127.0.0.<10+index>" (index from 1).
std::string host_ip(int index);

}  // namespace fleet::testing
