#pragma once
// Real etcd members for integration tests and benchmarks: /usr/bin/etcd on free loopback ports,
// data dirs under the build tree (test-data/etcd/...). Every process is ended by pid (kill -9) in
// the destructor, which also runs when an assertion throws; members also get PR_SET_PDEATHSIG so
// a crashed test leaves no etcd behind. Blocking, plain POSIX: call from the test's thread.

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fleet::testing {

struct HttpResult {
  int status = 0;  // 0 = no answer (refused, timeout, garbage)
  std::string body;
};

// One blocking HTTP/1.0 request to `endpoint` ("http://127.0.0.1:port").
// `headers` are complete header lines without CRLF ("Authorization: <token>"). `http11` sends
// it as HTTP/1.1 with `Connection: close`, for servers that refuse 1.0 (chromedriver); the body
// is read to the close, so the server must not answer chunked.
HttpResult http_request(const std::string& endpoint, const std::string& method,
                        const std::string& path, const std::string& body = {},
                        std::chrono::milliseconds timeout = std::chrono::milliseconds(2000),
                        const std::vector<std::string>& headers = {}, bool http11 = false);

// The build tree's directory for test data (data dirs, certificates).
std::string test_data_dir();

// A throw-away CA plus a server certificate for IP 127.0.0.1 and a client certificate, both
// signed by it (openssl CLI, EC P-256), written to `dir`. Throws std::runtime_error.
struct TestCerts {
  std::string ca_file, server_cert, server_key, client_cert, client_key;
};
TestCerts make_test_certs(const std::string& dir);

// Free TCP ports on 127.0.0.1 (bound to port 0, then released).
std::vector<int> free_ports(std::size_t n);

// One member: its command line is fixed at construction so that restart() reuses the data dir.
class EtcdProcess {
 public:
  // `health_url` is a plain-HTTP listener serving /health (etcd's --listen-metrics-urls), so
  // health checks work even when clients must use TLS.
  EtcdProcess(std::string name, std::string data_dir, std::string log_file,
              std::vector<std::string> args, std::string client_url, std::string health_url);
  ~EtcdProcess();  // kill -9 if running
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  void start();    // fork/exec; does not wait for health
  void kill();     // SIGKILL and reap; no-op when not running
  bool running();  // reaps a member that exited by itself
  // Polls GET /health until {"health":"true"}; throws std::runtime_error with the log tail when
  // the process exits or the deadline passes.
  void wait_healthy(std::chrono::milliseconds timeout);
  bool healthy() const;

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  const std::string& client_url() const { return client_url_; }
  const std::string& data_dir() const { return data_dir_; }
  std::string log_tail(std::size_t bytes = 3000) const;

 private:
  std::string name_, data_dir_, log_file_;
  std::vector<std::string> args_;
  std::string client_url_, health_url_;
  pid_t pid_ = 0;
};

struct EtcdOptions {
  std::size_t members = 1;
  std::vector<std::string> extra_args;  // appended to every member's command line
  std::string label = "etcd";           // part of the data dir name
  // Where the data dirs go; empty = test_data_dir()/etcd. A benchmark may point it at a tmpfs
  // (no fsync cost: figures then show etcd without its disk).
  std::string data_root = {};
  std::chrono::milliseconds start_timeout{20000};
  bool keep_data =
      false;  // keep data dirs after the cluster is destroyed (also FLEET_KEEP_TEST_DATA)
  // TLS for clients: https:// client URLs served with cert/key; with a CA, client certificates
  // signed by it are required (--client-cert-auth).
  std::string cert_file, key_file, client_ca_file;
};

class EtcdCluster {
 public:
  // Starts every member and waits until each one is healthy; throws std::runtime_error.
  explicit EtcdCluster(EtcdOptions opts = {});
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  std::size_t size() const { return members_.size(); }
  EtcdProcess& member(std::size_t i) { return *members_.at(i); }
  std::vector<std::string> endpoints() const;  // client URLs of all members, in member order
  const std::string& endpoint(std::size_t i) const { return members_.at(i)->client_url(); }

  void kill(std::size_t i) { members_.at(i)->kill(); }
  // Starts a killed member again from its data dir and waits until it is healthy.
  void restart(std::size_t i, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Index of the member the running members agree is leader; nullopt if none within `timeout`.
  // Plain-HTTP clusters only (it asks each member's /v3/maintenance/status).
  std::optional<std::size_t> leader(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  const std::string& dir() const { return dir_; }  // this cluster's directory in the build tree

 private:
  EtcdOptions opts_;
  std::string dir_;
  std::vector<std::unique_ptr<EtcdProcess>> members_;
};

}  // namespace fleet::testing
