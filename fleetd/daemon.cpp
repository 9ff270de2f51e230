#include "fleetd/daemon.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "agent/agent.h"
#include "agent/boot_id.h"
#include "agent/fake_unit_manager.h"
#include "agent/systemd/systemd_unit_manager.h"
#include "api/server/api_context.h"
#include "api/server/http_server.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/strings.h"
#include "common/version.h"
#include "engine/engine.h"
#include "fleetd/config/command_line.h"
#include "fleetd/config/reload.h"
#include "fleetd/inspector/inspector.h"
#include "fleetd/node.h"
#include "fleetd/socket_activation.h"
#include "registry/etcd/etcd_kv.h"
#include "registry/memory_kv.h"
#include "registry/registry.h"

namespace fleet::fleetd {

namespace net = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

std::string read_machine_id(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return std::string(trim(ss.str()));
}

// fleet used the default route's interface; the first non-loopback IPv4 address is close enough
// and needs no netlink.
std::string detect_public_ip() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return "127.0.0.1";
  std::string found;
  for (auto* a = list; a && found.empty(); a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET) continue;
    auto* sin = reinterpret_cast<sockaddr_in*>(a->ifa_addr);
    char buf[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
    if (std::string_view(buf).substr(0, 4) != "127.") found = buf;
  }
  freeifaddrs(list);
  return found.empty() ? "127.0.0.1" : found;
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (const auto& e : v) out += (out.empty() ? "" : std::string(sep)) + e;
  return out;
}

std::string trim_slash(std::string s) {
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

// Engine and agent keep running totals; the scrape-side registry follows them.
void feed_metrics(metrics::Metrics& m, const engine::Engine* eng, const agent::Agent& ag) {
  namespace fam = metrics::families;
  if (eng) {
    const auto& s = eng->stats();
    m.set(fam::engine_leader, s.leader ? 1 : 0);
    m.advance_to(fam::engine_passes, static_cast<double>(s.passes));
    m.set(fam::engine_last_pass_duration, s.last_pass_seconds);
    m.set(fam::engine_unschedulable, static_cast<double>(s.unschedulable));
    m.set(fam::engine_leader_start_time, static_cast<double>(s.leader_since_unix));
  }
  m.set(fam::agent_units, static_cast<double>(ag.stats().units));
  m.advance_to(fam::agent_states_published, static_cast<double>(ag.stats().states_published));
  m.advance_to(fam::agent_passes, static_cast<double>(ag.stats().passes));
  m.advance_to(fam::agent_task_failures, static_cast<double>(ag.stats().task_failures));
}

// GET /readyz's local part: the agent holds its machine lease and has reconciled at least once
// since start (its units match the registry as of then).
std::vector<api::server::ReadinessCheck> agent_readiness(const agent::Agent* ag) {
  if (!ag) return {{"agent", false, "not started"}};
  const auto& s = ag->stats();
  if (!s.lease_held) return {{"agent", false, "machine lease not held"}};
  if (s.passes == 0) return {{"agent", false, "first reconcile pass not done"}};
  return {{"agent", true}};
}

// Make store: etcd, or the in-memory store for --dev. Null (reported) when etcd is misconfigured.
std::unique_ptr<registry::KvStore> make_store(const Config& cfg, net::io_context& io,
                                              metrics::Metrics& m) {
  if (cfg.dev) {
    log::info("fleetd", "dev mode: in-memory registry, single host");
    // History bounded by what watchers need, not by the number of writes (memory_kv.h).
    return std::make_unique<registry::MemoryKv>(io.get_executor(),
                                                registry::long_running_options());
  }
  registry::EtcdConfig ec;
  ec.endpoints = cfg.etcd_servers;
  ec.request_timeout = std::max(cfg.etcd_request_timeout, std::chrono::milliseconds(2500));
  ec.username = cfg.etcd_username;
  ec.password = cfg.etcd_password;
  ec.ca_file = cfg.etcd_cafile;
  ec.cert_file = cfg.etcd_certfile;
  ec.key_file = cfg.etcd_keyfile;
  ec.on_request = [&m](std::string_view op, double seconds, bool ok) {
    namespace fam = metrics::families;
    const std::string o(op);
    m.add(fam::registry_requests, 1, {{"op", o}, {"result", ok ? "ok" : "error"}});
    m.observe(fam::registry_request_duration, seconds, {{"op", o}});
  };
  auto created = registry::EtcdKv::create(io, ec);
  if (!created) {
    std::cerr << "fleetd: etcd: " << created.error().message << "\n";
    return nullptr;
  }
  return std::move(created).value();
}

api::server::HttpServerOptions http_options(const Config& cfg) {
  api::server::HttpServerOptions http;
  http.listen = listen_specs(cfg.api_listen, take_inherited_sockets());
  if (!cfg.api_tls_cert.empty())
    http.tls =
        api::server::TlsOptions{cfg.api_tls_cert, cfg.api_tls_key, cfg.api_tls_client_ca, true};
  return http;
}

agent::AgentOptions agent_options(const Config& cfg, const std::string& machine_id,
                                  std::string api_url) {
  agent::AgentOptions ao;
  ao.machine.id = machine_id;
  ao.machine.public_ip = cfg.public_ip.empty() ? detect_public_ip() : cfg.public_ip;
  ao.machine.metadata = cfg.metadata;
  ao.machine.version = fleet::version();
  ao.machine.disable_engine = cfg.disable_engine;
  ao.machine.api_url = std::move(api_url);
  ao.machine.boot_id = agent::current_boot_id();
  ao.ttl = std::chrono::duration_cast<std::chrono::seconds>(cfg.agent_ttl);
  if (ao.ttl < std::chrono::seconds(1)) ao.ttl = std::chrono::seconds(1);
  ao.units_dir = trim_slash(cfg.units_directory);
  // The in-memory registry dies with the process, so a lease saved by another --dev fleetd is
  // useless; keeping the file next to the units directory lets a dev instance run without
  // touching the host's /run/fleet (tests point units_directory into their own tree).
  if (cfg.dev) ao.lease_file = std::filesystem::path(ao.units_dir).parent_path() / "machine.lease";
  return ao;
}

engine::EngineOptions engine_options(const Config& cfg, const std::string& machine_id) {
  engine::EngineOptions eo;
  eo.machine_id = machine_id;
  eo.lease_ttl = std::max(std::chrono::seconds(2),
                          std::chrono::duration_cast<std::chrono::seconds>(cfg.engine_lease_ttl));
  return eo;
}

// systemd over D-Bus; in --dev without systemd, units simulated in memory. Null (logged) when
// systemd is unreachable otherwise.
net::awaitable<std::unique_ptr<agent::UnitManager>> connect_units(const Config& cfg,
                                                                  std::string units_dir) {
  agent::SystemdOptions so;
  so.units_dir = std::move(units_dir);
  auto connected = co_await agent::SystemdUnitManager::connect(so);
  if (connected) co_return std::move(connected).value();
  if (cfg.dev) {
    log::warn("fleetd", "systemd unreachable: dev mode simulates units in memory",
              {{"error", connected.error().describe()}});
    co_return std::make_unique<agent::FakeUnitManager>();
  }
  log::error("fleetd", "cannot reach systemd over D-Bus",
             {{"error", connected.error().describe()}});
  co_return nullptr;
}

// The running process: one node, its unit manager, signals and metrics.
class Daemon {
 public:
  Daemon(const LoadedConfig& loaded, int argc, const char* const* argv, std::string machine_id)
      : cfg_(loaded.config),
        running_(loaded.config),
        argc_(argc),
        argv_(argv),
        machine_id_(std::move(machine_id)) {}

  int run() {
    auto kv = make_store(cfg_, io_, metrics_);
    if (!kv) return 1;
    api::server::ApiOptions api_opts;
    api_opts.token_limit = static_cast<std::uint16_t>(cfg_.token_limit);
    node_ = std::make_unique<Node>(io_, std::move(kv), cfg_.etcd_key_prefix, api_opts);
    node_->api().metrics = &metrics_;
    node_->api().readiness = [this] { return agent_readiness(node_ ? node_->agent() : nullptr); };
    inspector_ =
        std::make_unique<LocalInspector>(io_.get_executor(), node_->registry(), machine_id_);
    if (auto st = node_->start_api(http_options(cfg_), inspector_.get(), machine_id_); !st) {
      std::cerr << "fleetd: API: " << st.error().message << "\n";
      return 1;
    }
    if (!cfg_.disable_engine) {
      auto eo = engine_options(cfg_, machine_id_);
      eo.metrics = &metrics_;
      node_->make_engine(eo);
    } else {
      log::info("fleetd", "not starting engine; disable_engine is set");
    }
    wait_signal();
    net::co_spawn(io_, main_task(), [this](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log::error("fleetd", "internal error", {{"error", ex.what()}});
      }
      exit_code_ = 1;
      stop_all();
    });
    io_.run();
    return exit_code_;
  }

 private:
  // Make agent once systemd answers, then run agent and engine until stopped.
  net::awaitable<void> main_task() {
    auto ao = agent_options(cfg_, machine_id_, node_->api_url(!cfg_.api_tls_cert.empty()));
    units_ = co_await connect_units(cfg_, ao.units_dir);
    if (!units_) {
      exit_code_ = 1;
      stop_all();
      co_return;
    }
    node_->make_agent(*units_, ao);
    if (stopping_) co_return;
    net::co_spawn(io_, metrics_loop(), net::detached);
    co_await node_->run();
    stop_all();
    // The D-Bus pump always waits on the bus socket: release it so that io.run() can return.
    node_->release_agent();
    units_.reset();
    // Agent, engine and server are done; what may still wait on the loop is not ours to await
    // (the in-memory registry's lease timers would otherwise hold --dev for the agent's TTL).
    io_.stop();
  }

  net::awaitable<void> metrics_loop() {
    net::steady_timer t(io_);
    while (!stopping_) {
      feed_metrics(metrics_, node_->engine(), *node_->agent());
      t.expires_after(std::chrono::seconds(2));
      co_await t.async_wait(net::as_tuple(net::use_awaitable));
    }
  }

  void stop_all() {
    if (stopping_) return;
    stopping_ = true;
    if (node_) node_->stop();
    signals_.cancel();
  }

  void wait_signal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        reload();
        wait_signal();
        return;
      }
      log::info("fleetd", "shutting down", {{"signal", std::to_string(sig)}});
      if (!node_ || !node_->agent()) {
        stop_all();
        return;
      }
      // A host shutting down hands its units over before fleetd goes; a restart keeps them.
      net::co_spawn(
          io_,
          [this]() -> net::awaitable<void> {
            (void)co_await node_->agent()->stop_for_signal();
            stop_all();
          },
          net::detached);
    });
  }

  // SIGHUP: re-read every source; apply what is safe, name what needs a restart (reload.h).
  void reload() {
    log::info("fleetd", "Reloading configuration");
    LoadedConfig fresh;
    std::ostringstream out, err;
    if (startup(argc_, argv_, process_env(), real_file_reader(), out, err, fresh)) {
      log::warn("fleetd", "configuration reload refused",
                {{"error", std::string(trim(err.str()))}});
      return;
    }
    ReloadPlan plan = plan_reload(running_, fresh.config);
    running_ = plan.next;
    log::set_level(running_.verbosity > 0 ? log::Level::debug : log::Level::info);
    node_->api().options.token_limit = static_cast<std::uint16_t>(running_.token_limit);
    if (!plan.need_restart.empty())
      log::warn("fleetd", "configuration changes need a restart to take effect",
                {{"keys", join(plan.need_restart, ",")}});
    log::info("fleetd", "configuration reloaded",
              {{"applied", plan.applied.empty() ? "-" : join(plan.applied, ",")}});
  }

  const Config& cfg_;
  Config running_;  // as last reloaded
  const int argc_;
  const char* const* argv_;
  const std::string machine_id_;
  net::io_context io_;
  net::signal_set signals_{io_, SIGINT, SIGTERM, SIGHUP};
  metrics::Metrics metrics_{fleet::version()};
  std::unique_ptr<LocalInspector> inspector_;
  std::unique_ptr<agent::UnitManager> units_;  // outlives node_'s agent: reset after it
  std::unique_ptr<Node> node_;
  bool stopping_ = false;
  int exit_code_ = 0;
};

}  // namespace

int run_daemon(const LoadedConfig& loaded, int argc, const char* const* argv) {
  const Config& cfg = loaded.config;
  log::set_level(cfg.verbosity > 0 ? log::Level::debug : log::Level::info);
  log::info("fleetd", "starting", {{"version", fleet::version()}});
  for (const auto& w : loaded.warnings) log::warn("fleetd", w);
  std::string machine_id = read_machine_id(cfg.machine_id_file);
  if (machine_id.empty()) {
    std::cerr << "fleetd: unable to determine local machine ID from " << cfg.machine_id_file
              << "\n";
    return 1;
  }
  int code = Daemon(loaded, argc, argv, std::move(machine_id)).run();
  log::info("fleetd", "stopped");
  return code;
}

}  // namespace fleet::fleetd
