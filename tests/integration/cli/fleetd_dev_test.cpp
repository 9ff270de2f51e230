// The real fleetd binary in --dev mode (in-memory registry, units simulated in memory because
// the test hides the system bus) driven by the real fleetctl binary: what a user trying fleet++
// on one host does. Also SIGHUP reload and SIGTERM shutdown.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/harness/wait.h"

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

// Starts argv with stdout and stderr appended to `log`, in `cwd`, with extra environment.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log, const std::string& cwd,
            const std::vector<std::string>& env) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    if (chdir(cwd.c_str()) != 0) _exit(126);
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

// Non-blocking reap: the exit code once the child has exited.
std::optional<int> reaped(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) != pid) return std::nullopt;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A raw HTTP/1.0 GET over the unix socket (the response's head and body).
std::string http_get(const std::string& sock, const std::string& target) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock.c_str());
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string req = "GET " + target + " HTTP/1.0\r\nHost: fleet\r\n\r\n";
    if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
        out.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

struct Run {
  int code = -1;
  std::string out;  // stdout and stderr
};

struct DevFleetd {
  std::string dir;
  std::string sock;
  std::string log;
  pid_t pid = -1;
  int exit_code = -1;

  DevFleetd() {
    std::string tmpl = (fs::temp_directory_path() / "fleetd-dev-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()));
    dir = tmpl;
    sock = dir + "/fleet.sock";
    log = dir + "/fleetd.log";
    write_file(dir + "/machine-id", "5f0e1d2c3b4a59687766554433221100\n");
    write_file(dir + "/fleet.conf", "metadata=region=earth\nverbosity=0\n");
    file("hello.service", "[Unit]\nDescription=Hello\n\n[Service]\nExecStart=/bin/sleep 100\n");
  }
  ~DevFleetd() {
    if (pid > 0 && exit_code < 0) {
      ::kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  void start() {
    pid = spawn({FLEETD_BIN, "--dev", "--config=" + dir + "/fleet.conf",
                 "--machine_id_file=" + dir + "/machine-id", "--units_directory=" + dir + "/units/",
                 "--api_listen=unix://" + sock, "--public_ip=127.0.0.1", "--agent_ttl=5s"},
                log, dir,
                // No system bus: --dev must fall back to simulated units, whatever the host runs.
                {"DBUS_SYSTEM_BUS_ADDRESS=unix:path=" + dir + "/no-bus"});
    REQUIRE(pid > 0);
    REQUIRE(fleet::testing::wait_until([&] { return logged("leadership acquired"); }, 10s));
  }

  void file(const std::string& name, const std::string& text) {
    write_file(dir + "/" + name, text);
  }

  bool logged(const std::string& what) const { return slurp(log).find(what) != std::string::npos; }

  Run fleetctl(std::vector<std::string> args) {
    std::string out = dir + "/fleetctl.out";
    fs::remove(out);
    args.insert(args.begin(), {FLEETCTL_BIN, "--endpoint=unix://" + sock});
    pid_t child = spawn(args, out, dir, {});
    int status = 0;
    waitpid(child, &status, 0);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out)};
  }

  // Sends `sig` and waits up to `deadline` for the exit; true when it exited in time.
  bool signal_and_wait(int sig, std::chrono::milliseconds deadline) {
    ::kill(pid, sig);
    return fleet::testing::wait_until(
        [&] {
          if (auto code = reaped(pid)) exit_code = *code;
          return exit_code >= 0;
        },
        deadline);
  }
};

}  // namespace

TEST_CASE("fleetd --dev serves fleetctl on one host and exits 0 on SIGTERM") {
  DevFleetd d;
  d.start();
  CHECK(d.logged("dev mode: in-memory registry"));
  CHECK(d.logged("dev mode simulates units in memory"));
  auto machines = d.fleetctl({"list-machines", "--no-legend"});
  CHECK(machines.code == 0);
  CHECK(machines.out == "5f0e1d2c...\t127.0.0.1\tregion=earth\n");

  auto submit = d.fleetctl({"submit", "hello.service"});
  CHECK(submit.code == 0);
  CHECK(submit.out == "Unit hello.service inactive\n");
  auto start = d.fleetctl({"start", "hello.service"});
  CHECK(start.code == 0);
  CHECK(start.out == "Unit hello.service launched on 5f0e1d2c.../127.0.0.1\n");
  auto units = d.fleetctl({"list-units", "--no-legend"});
  CHECK(units.code == 0);
  CHECK(units.out == "hello.service\t5f0e1d2c.../127.0.0.1\tactive\trunning\n");
  auto destroy = d.fleetctl({"destroy", "hello.service"});
  CHECK(destroy.code == 0);
  CHECK(destroy.out == "Destroyed hello.service\n");
  CHECK(d.fleetctl({"list-unit-files", "--no-legend"}).out == "");
  CHECK(fleet::testing::wait_until(
      [&] {
        return d.fleetctl({"list-units", "--no-legend"}).out.empty();
      },
      5s));
  // The lease file stays in the test's tree, not the host's /run/fleet.
  CHECK(fs::exists(d.dir + "/machine.lease"));

  REQUIRE(d.signal_and_wait(SIGTERM, 5s));
  CHECK(d.exit_code == 0);
  CHECK(d.logged("stopped"));
  CHECK_FALSE(fs::exists(d.sock));  // the socket file is removed
}

TEST_CASE("fleetctl writes each line as it happens when stdout is not a terminal") {
  DevFleetd d;
  d.start();
  // mars.service fits no machine: fleetctl waits one attempt (2 s) for it after hello.service
  // has launched; a CI job killed meanwhile must still have the lines printed so far.
  d.file("mars.service",
         "[Service]\nExecStart=/bin/sleep 100\n\n[X-Fleet]\n"
         "MachineMetadata=region=mars\n");
  std::string out = d.dir + "/killed.out";
  pid_t child =
      spawn({FLEETCTL_BIN, "--endpoint=unix://" + d.sock, "start", "hello.service", "mars.service"},
            out, d.dir, {});
  REQUIRE(child > 0);
  const std::string launched = "Unit hello.service launched on 5f0e1d2c.../127.0.0.1\n";
  bool seen_while_running = fleet::testing::wait_until(
      [&] { return slurp(out).find(launched) != std::string::npos; }, 10s);
  bool still_running = !reaped(child).has_value();
  ::kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  CHECK(seen_while_running);
  CHECK(still_running);
  std::string text = slurp(out);
  CHECK(text.rfind("Unit hello.service inactive\nUnit mars.service inactive\n" + launched, 0) == 0);
  CHECK(text.find('\r') == std::string::npos);  // no progress line off a terminal
}

TEST_CASE("SIGHUP applies verbosity and token_limit and names keys that need a restart") {
  DevFleetd d;
  d.start();
  d.file("a.service", "[Service]\nExecStart=/bin/true\n");
  d.file("b.service", "[Service]\nExecStart=/bin/true\n");
  REQUIRE(d.fleetctl({"submit", "a.service", "b.service"}).code == 0);
  CHECK(http_get(d.sock, "/fleet/v1/units").find("nextPageToken") == std::string::npos);
  write_file(d.dir + "/fleet.conf", "metadata=region=mars\nverbosity=1\ntoken_limit=1\n");
  ::kill(d.pid, SIGHUP);
  REQUIRE(fleet::testing::wait_until([&] { return d.logged("configuration reloaded"); }, 5s));
  CHECK(d.logged("configuration reloaded applied=token_limit,verbosity"));
  CHECK(d.logged("need a restart to take effect keys=metadata"));
  // Pages now hold one unit; the machine keeps its running metadata.
  CHECK(http_get(d.sock, "/fleet/v1/units").find("nextPageToken") != std::string::npos);
  CHECK(d.fleetctl({"list-unit-files", "--no-legend", "--fields=unit"}).out ==
        "a.service\nb.service\n");
  auto machines = d.fleetctl({"list-machines", "--no-legend"});
  CHECK(machines.out == "5f0e1d2c...\t127.0.0.1\tregion=earth\n");

  // A bad file is refused and the daemon keeps serving.
  write_file(d.dir + "/fleet.conf", "agent_ttl=soon\n");
  ::kill(d.pid, SIGHUP);
  REQUIRE(fleet::testing::wait_until([&] { return d.logged("configuration reload refused"); }, 5s));
  CHECK(d.logged("agent_ttl"));
  CHECK(d.fleetctl({"list-machines", "--no-legend"}).code == 0);

  REQUIRE(d.signal_and_wait(SIGTERM, 5s));
  CHECK(d.exit_code == 0);
}
