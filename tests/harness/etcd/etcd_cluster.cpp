#include "tests/harness/etcd/etcd_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef FLEET_TEST_DATA_DIR
#define FLEET_TEST_DATA_DIR "/tmp/fleet-test-data"
#endif

namespace fleet::testing {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr const char* kEtcdBinary = "/usr/bin/etcd";

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

// "http://127.0.0.1:1234" -> 1234 (the harness only ever uses loopback addresses).
int port_of(const std::string& endpoint) {
  auto colon = endpoint.rfind(':');
  return colon == std::string::npos ? 0 : std::atoi(endpoint.c_str() + colon + 1);
}

// "http://127.0.0.12:1234" -> 127.0.0.12 in network order; 127.0.0.1 when there is no IPv4
// literal (test hosts listen on their own loopback address, etcd on 127.0.0.1).
in_addr_t address_of(const std::string& endpoint) {
  auto start = endpoint.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  auto colon = endpoint.find(':', start);
  std::string host = endpoint.substr(start, colon == std::string::npos ? colon : colon - start);
  in_addr a{};
  if (::inet_pton(AF_INET, host.c_str(), &a) == 1) return a.s_addr;
  return htonl(INADDR_LOOPBACK);
}

bool wait_fd(int fd, short events, Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, static_cast<int>(left.count())) == 1;
}

}  // namespace

namespace {

// The size of the whole response once its header is in `raw` and has a Content-Length.
std::optional<std::size_t> complete_length(const std::string& raw) {
  const auto head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return std::nullopt;
  std::string head = raw.substr(0, head_end + 2);
  for (auto& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const auto at = head.find("\r\ncontent-length:");
  if (at == std::string::npos) return std::nullopt;
  return head_end + 4 + std::strtoull(head.c_str() + at + 17, nullptr, 10);
}

}  // namespace

HttpResult http_request(const std::string& endpoint, const std::string& method,
                        const std::string& path, const std::string& body,
                        std::chrono::milliseconds timeout, const std::vector<std::string>& headers,
                        bool http11) {
  auto deadline = Clock::now() + timeout;
  Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (s.fd < 0) return {};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_of(endpoint)));
  addr.sin_addr.s_addr = address_of(endpoint);
  if (::connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS || !wait_fd(s.fd, POLLOUT, deadline)) return {};
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return {};
  }
  std::string req = method + " " + path + (http11 ? " HTTP/1.1" : " HTTP/1.0") +
                    "\r\nHost: 127.0.0.1\r\n" + (http11 ? "Connection: close\r\n" : "");
  for (const auto& h : headers) req += h + "\r\n";
  req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
  for (std::size_t sent = 0; sent < req.size();) {
    if (!wait_fd(s.fd, POLLOUT, deadline)) return {};
    auto n = ::send(s.fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return {};
    sent += static_cast<std::size_t>(n);
  }
  std::string raw;
  char buf[8192];
  while (true) {
    if (!wait_fd(s.fd, POLLIN, deadline)) return {};
    auto n = ::recv(s.fd, buf, sizeof buf, 0);
    if (n < 0) return {};
    if (n == 0) break;
    raw.append(buf, static_cast<std::size_t>(n));
    // A complete Content-Length body ends the response: some servers keep the connection open.
    if (auto length = complete_length(raw); length && raw.size() >= *length) break;
  }
  HttpResult r;
  auto sp = raw.find(' ');
  auto head_end = raw.find("\r\n\r\n");
  if (sp == std::string::npos || head_end == std::string::npos) return {};
  r.status = std::atoi(raw.c_str() + sp + 1);
  r.body = raw.substr(head_end + 4);
  return r;
}

std::vector<int> free_ports(std::size_t n) {
  std::vector<std::unique_ptr<Fd>> held;
  std::vector<int> ports;
  for (std::size_t i = 0; i < n; ++i) {
    auto s = std::make_unique<Fd>(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (s->fd < 0 || ::bind(s->fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(s->fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("free_ports: cannot bind a loopback port");
    }
    ports.push_back(ntohs(addr.sin_port));
    held.push_back(std::move(s));  // held until all are chosen, so they differ
  }
  return ports;
}

std::string test_data_dir() { return FLEET_TEST_DATA_DIR; }

TestCerts make_test_certs(const std::string& dir) {
  fs::create_directories(dir);
  TestCerts c{dir + "/ca.crt", dir + "/server.crt", dir + "/server.key", dir + "/client.crt",
              dir + "/client.key"};
  // One shell script keeps the openssl invocations readable; all paths are ours.
  std::string script =
      "set -e; cd '" + dir +
      "'; K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';"
      "openssl req -x509 $K -keyout ca.key -out ca.crt -days 2 -subj /CN=fleet-test-ca;"
      "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' > ext;"
      "for n in server client; do "
      "openssl req $K -keyout $n.key -out $n.csr -subj /CN=fleet-test-$n;"
      "openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
      "-extfile ext -out $n.crt; done";
  std::ofstream(dir + "/gen.sh") << script << "\n";
  std::string cmd = "sh '" + dir + "/gen.sh' > '" + dir + "/openssl.log' 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    throw std::runtime_error("make_test_certs: openssl failed, see " + dir + "/openssl.log");
  }
  return c;
}

EtcdProcess::EtcdProcess(std::string name, std::string data_dir, std::string log_file,
                         std::vector<std::string> args, std::string client_url,
                         std::string health_url)
    : name_(std::move(name)),
      data_dir_(std::move(data_dir)),
      log_file_(std::move(log_file)),
      args_(std::move(args)),
      client_url_(std::move(client_url)),
      health_url_(std::move(health_url)) {}

EtcdProcess::~EtcdProcess() { kill(); }

void EtcdProcess::start() {
  if (running()) return;
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(kEtcdBinary));
  for (auto& a : args_) argv.push_back(a.data());
  argv.push_back(nullptr);
  int log = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) throw std::runtime_error("etcd harness: cannot open " + log_file_);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log);
    throw std::runtime_error("etcd harness: fork failed");
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    // Sockets of the test (Asio's are not close-on-exec) must not live on in the child: a
    // connection the test closes would stay open (see tests/harness/proxy/cut_proxy.h).
    ::close_range(3, ~0U, 0);
    ::execv(kEtcdBinary, argv.data());
    ::_exit(127);
  }
  ::close(log);
  pid_ = pid;
}

void EtcdProcess::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = 0;
}

bool EtcdProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = 0;
    return false;
  }
  return true;
}

bool EtcdProcess::healthy() const {
  auto r = http_request(health_url_, "GET", "/health", {}, 1000ms);
  return r.status == 200 && r.body.find("\"true\"") != std::string::npos;
}

void EtcdProcess::wait_healthy(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    if (!running()) {
      throw std::runtime_error("etcd member " + name_ + " exited during start-up; log:\n" +
                               log_tail());
    }
    if (healthy()) return;
    if (Clock::now() >= deadline) {
      throw std::runtime_error("etcd member " + name_ + " not healthy in time; log:\n" +
                               log_tail());
    }
    std::this_thread::sleep_for(50ms);  // polling interval of a condition wait, not a fixed delay
  }
}

std::string EtcdProcess::log_tail(std::size_t bytes) const {
  std::ifstream in(log_file_, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  auto all = ss.str();
  return all.size() > bytes ? all.substr(all.size() - bytes) : all;
}

EtcdCluster::EtcdCluster(EtcdOptions opts) : opts_(std::move(opts)) {
  static std::atomic<int> counter{0};
  const std::string root =
      opts_.data_root.empty() ? std::string(FLEET_TEST_DATA_DIR) + "/etcd" : opts_.data_root;
  dir_ =
      root + "/" + opts_.label + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  auto ports = free_ports(opts_.members * 3);
  auto url = [&](const char* scheme, std::size_t i, std::size_t k) {
    return std::string(scheme) + "://127.0.0.1:" + std::to_string(ports[3 * i + k]);
  };
  bool tls = !opts_.cert_file.empty();
  std::string initial;
  for (std::size_t i = 0; i < opts_.members; ++i) {
    if (!initial.empty()) initial += ",";
    initial += "m" + std::to_string(i) + "=" + url("http", i, 1);
  }
  for (std::size_t i = 0; i < opts_.members; ++i) {
    auto name = "m" + std::to_string(i);
    auto client = url(tls ? "https" : "http", i, 0);
    auto peer = url("http", i, 1);
    auto health = url("http", i, 2);
    std::vector<std::string> args = {"--name",
                                     name,
                                     "--data-dir",
                                     dir_ + "/" + name,
                                     "--listen-client-urls",
                                     client,
                                     "--advertise-client-urls",
                                     client,
                                     "--listen-peer-urls",
                                     peer,
                                     "--initial-advertise-peer-urls",
                                     peer,
                                     "--initial-cluster",
                                     initial,
                                     "--initial-cluster-token",
                                     fs::path(dir_).filename().string(),
                                     "--initial-cluster-state",
                                     "new",
                                     "--listen-metrics-urls",
                                     health,
                                     "--logger",
                                     "zap",
                                     "--log-outputs",
                                     "stderr"};
    if (tls) {
      args.insert(args.end(), {"--cert-file", opts_.cert_file, "--key-file", opts_.key_file});
      if (!opts_.client_ca_file.empty()) {
        args.insert(args.end(), {"--trusted-ca-file", opts_.client_ca_file, "--client-cert-auth"});
      }
    }
    args.insert(args.end(), opts_.extra_args.begin(), opts_.extra_args.end());
    members_.push_back(std::make_unique<EtcdProcess>(
        name, dir_ + "/" + name, dir_ + "/" + name + ".log", args, client, health));
  }
  // Members of a new cluster only become healthy together, so start all before waiting.
  for (auto& m : members_) m->start();
  for (auto& m : members_) m->wait_healthy(opts_.start_timeout);
}

EtcdCluster::~EtcdCluster() {
  for (auto& m : members_) m->kill();
  members_.clear();
  if (!opts_.keep_data && std::getenv("FLEET_KEEP_TEST_DATA") == nullptr) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::vector<std::string> EtcdCluster::endpoints() const {
  std::vector<std::string> out;
  for (const auto& m : members_) out.push_back(m->client_url());
  return out;
}

void EtcdCluster::restart(std::size_t i, std::chrono::milliseconds timeout) {
  auto& m = *members_.at(i);
  m.kill();
  m.start();
  m.wait_healthy(timeout);
}

std::optional<std::size_t> EtcdCluster::leader(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    std::map<std::string, std::size_t> index_of;  // member_id -> member index
    std::string leader_id;
    for (std::size_t i = 0; i < members_.size(); ++i) {
      if (!members_[i]->running()) continue;
      auto r =
          http_request(members_[i]->client_url(), "POST", "/v3/maintenance/status", "{}", 1000ms);
      if (r.status != 200) continue;
      auto j = nlohmann::json::parse(r.body, nullptr, false);
      if (!j.is_object()) continue;
      index_of[j["header"].value("member_id", "")] = i;
      if (auto l = j.value("leader", ""); !l.empty() && l != "0") leader_id = l;
    }
    if (auto it = index_of.find(leader_id); !leader_id.empty() && it != index_of.end()) {
      return it->second;
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(50ms);
  }
}

}  // namespace fleet::testing
