#include "fleetctl/tunnel.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "api/forwarding_client.h"

namespace fleet::fleetctl {

namespace {

// Owns the client talking through the tunnel and the ssh process behind it.
class TunnelClient : public api::ForwardingClient {
 public:
  TunnelClient(pid_t pid, std::string dir, std::unique_ptr<api::ApiClient> inner)
      : ForwardingClient(*inner), pid_(pid), dir_(std::move(dir)), c_(std::move(inner)) {}
  ~TunnelClient() override {
    c_.reset();
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    ::unlink((dir_ + "/fleet.sock").c_str());
    ::rmdir(dir_.c_str());
  }

 private:
  pid_t pid_;
  std::string dir_;
  std::unique_ptr<api::ApiClient> c_;
};

void cleanup(pid_t pid, const std::string& dir) {
  if (pid > 0) {
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
  }
  ::unlink((dir + "/fleet.sock").c_str());
  ::rmdir(dir.c_str());
}

}  // namespace

std::vector<std::string> tunnel_ssh_argv(const GlobalOptions& g, const api::Endpoint& remote,
                                         const std::string& local_socket) {
  std::string host = g.tunnel;
  std::string port = "22";
  auto colon = host.rfind(':');
  if (colon != std::string::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  std::string target = remote.kind == api::Endpoint::Kind::unix_socket
                           ? remote.socket_path
                           : remote.host + ":" + remote.port;
  std::vector<std::string> argv = {
      "ssh",
      "-N",
      "-o",
      "ExitOnForwardFailure=yes",
      "-o",
      "ConnectTimeout=" + std::to_string(static_cast<long>(g.ssh_timeout > 1 ? g.ssh_timeout : 1)),
      "-l",
      g.ssh_username,
      "-p",
      port};
  if (g.strict_host_key_checking) {
    std::string known = g.known_hosts_file;
    if (known.empty()) {
      const char* home = std::getenv("HOME");
      known = std::string(home ? home : "") + "/.fleetctl/known_hosts";
    }
    argv.insert(argv.end(),
                {"-o", "StrictHostKeyChecking=ask", "-o", "UserKnownHostsFile=" + known});
  } else {
    argv.insert(argv.end(),
                {"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"});
  }
  argv.insert(argv.end(), {"-L", local_socket + ":" + target, host});
  return argv;
}

Result<std::unique_ptr<api::ApiClient>> open_tunnel_client(const GlobalOptions& g,
                                                           const api::HttpClientOptions& opts) {
  if (opts.endpoint.kind == api::Endpoint::Kind::https) {
    return fail(Errc::invalid_argument, "--tunnel cannot be used with an https endpoint");
  }
  char tmpl[] = "/tmp/fleetctl-tunnel-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return fail(Errc::internal, "unable to create tunnel directory");
  std::string dir = tmpl;
  std::string local = dir + "/fleet.sock";
  auto argv = tunnel_ssh_argv(g, opts.endpoint, local);
  pid_t pid = ::fork();
  if (pid < 0) {
    cleanup(-1, dir);
    return fail(Errc::internal, "unable to start ssh for the tunnel");
  }
  if (pid == 0) {
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::execvp(cargv[0], cargv.data());
    ::_exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<long>(g.ssh_timeout * 1000) + 1000);
  struct stat st {};
  while (::stat(local.c_str(), &st) != 0) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      cleanup(-1, dir);
      return fail(Errc::unavailable,
                  "SSH tunnel to " + g.tunnel + " failed (ssh exit status " +
                      std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")");
    }
    if (std::chrono::steady_clock::now() > deadline) {
      cleanup(pid, dir);
      return fail(Errc::timeout, "timed out while initiating SSH connection");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  api::HttpClientOptions local_opts = opts;
  local_opts.endpoint.kind = api::Endpoint::Kind::unix_socket;
  local_opts.endpoint.socket_path = local;
  local_opts.endpoint.base_path = "/fleet/v1/";
  auto inner = api::HttpApiClient::create(std::move(local_opts));
  if (!inner) {
    cleanup(pid, dir);
    return inner.error();
  }
  return std::unique_ptr<api::ApiClient>(
      new TunnelClient(pid, std::move(dir), std::move(inner.value())));
}

}  // namespace fleet::fleetctl
