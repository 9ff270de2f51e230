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
#include "fleetd/command_line.h"
#include "fleetd/inspector.h"
#include "fleetd/reload.h"
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

std::string api_url_of(const std::vector<std::string>& endpoints, bool tls) {
  for (const auto& e : endpoints)
    if (e.rfind("tcp://", 0) == 0) return (tls ? "https://" : "http://") + e.substr(6);
  return {};
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

}  // namespace

int run_daemon(const LoadedConfig& loaded, int argc, const char* const* argv) {
  const Config& cfg = loaded.config;
  log::set_level(cfg.verbosity > 0 ? log::Level::debug : log::Level::info);
  log::info("fleetd", "starting", {{"version", fleet::version()}});
  for (const auto& w : loaded.warnings) log::warn("fleetd", w);

  const std::string machine_id = read_machine_id(cfg.machine_id_file);
  if (machine_id.empty()) {
    std::cerr << "fleetd: unable to determine local machine ID from " << cfg.machine_id_file
              << "\n";
    return 1;
  }

  net::io_context io;
  std::unique_ptr<registry::KvStore> kv;
  if (cfg.dev) {
    // History bounded by what watchers need, not by the number of writes (memory_kv.h).
    kv = std::make_unique<registry::MemoryKv>(io.get_executor(), registry::long_running_options());
    log::info("fleetd", "dev mode: in-memory registry, single host");
  } else {
    registry::EtcdConfig ec;
    ec.endpoints = cfg.etcd_servers;
    ec.request_timeout = std::max(cfg.etcd_request_timeout, std::chrono::milliseconds(2500));
    ec.username = cfg.etcd_username;
    ec.password = cfg.etcd_password;
    ec.ca_file = cfg.etcd_cafile;
    ec.cert_file = cfg.etcd_certfile;
    ec.key_file = cfg.etcd_keyfile;
    auto created = registry::EtcdKv::create(io, ec);
    if (!created) {
      std::cerr << "fleetd: etcd: " << created.error().message << "\n";
      return 1;
    }
    kv = std::move(created).value();
  }
  registry::Registry reg(*kv, cfg.etcd_key_prefix);

  api::server::ApiOptions api_opts;
  api_opts.token_limit = static_cast<std::uint16_t>(cfg.token_limit);
  api::server::ApiContext ctx(reg, api_opts);
  metrics::Metrics metrics(fleet::version());
  ctx.metrics = &metrics;
  LocalInspector inspector(io.get_executor(), reg, machine_id);
  ctx.inspector = &inspector;
  ctx.machine_id = machine_id;  // proxied status/journal requests are answered here, not re-proxied

  api::server::HttpServerOptions http;
  http.listen = listen_specs(cfg.api_listen, take_inherited_sockets());
  bool tls = !cfg.api_tls_cert.empty();
  if (tls)
    http.tls =
        api::server::TlsOptions{cfg.api_tls_cert, cfg.api_tls_key, cfg.api_tls_client_ca, true};
  api::server::HttpServer server(io, ctx, http);
  if (auto st = server.start(); !st) {
    std::cerr << "fleetd: API: " << st.error().message << "\n";
    return 1;
  }

  agent::AgentOptions ao;
  ao.machine.id = machine_id;
  ao.machine.public_ip = cfg.public_ip.empty() ? detect_public_ip() : cfg.public_ip;
  ao.machine.metadata = cfg.metadata;
  ao.machine.version = fleet::version();
  ao.machine.disable_engine = cfg.disable_engine;
  ao.machine.api_url = api_url_of(server.endpoints(), tls);
  ao.machine.boot_id = agent::current_boot_id();
  ao.ttl = std::chrono::duration_cast<std::chrono::seconds>(cfg.agent_ttl);
  if (ao.ttl < std::chrono::seconds(1)) ao.ttl = std::chrono::seconds(1);
  ao.units_dir = trim_slash(cfg.units_directory);
  // The in-memory registry dies with the process, so a lease saved by another --dev fleetd is
  // useless; keeping the file next to the units directory lets a dev instance run without
  // touching the host's /run/fleet (tests point units_directory into their own tree).
  if (cfg.dev) ao.lease_file = std::filesystem::path(ao.units_dir).parent_path() / "machine.lease";

  engine::EngineOptions eo;
  eo.machine_id = machine_id;
  eo.lease_ttl = std::max(std::chrono::seconds(2),
                          std::chrono::duration_cast<std::chrono::seconds>(cfg.engine_lease_ttl));

  std::unique_ptr<agent::UnitManager> units;
  std::unique_ptr<agent::Agent> the_agent;
  std::unique_ptr<engine::Engine> the_engine;
  ctx.readiness = [&the_agent] { return agent_readiness(the_agent.get()); };
  if (!cfg.disable_engine)
    the_engine = std::make_unique<engine::Engine>(reg, eo);
  else
    log::info("fleetd", "not starting engine; disable_engine is set");
  int exit_code = 0;

  net::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  bool stopping = false;
  auto stop_all = [&] {
    if (stopping) return;
    stopping = true;
    if (the_agent) the_agent->stop();
    if (the_engine) the_engine->stop();
    server.stop();
    signals.cancel();
  };

  // SIGHUP: re-read every source; apply what is safe, name what needs a restart (reload.h).
  Config running = cfg;
  auto reload = [&] {
    log::info("fleetd", "Reloading configuration");
    LoadedConfig fresh;
    std::ostringstream out, err;
    if (startup(argc, argv, process_env(), real_file_reader(), out, err, fresh)) {
      log::warn("fleetd", "configuration reload refused",
                {{"error", std::string(trim(err.str()))}});
      return;
    }
    ReloadPlan plan = plan_reload(running, fresh.config);
    running = plan.next;
    log::set_level(running.verbosity > 0 ? log::Level::debug : log::Level::info);
    ctx.options.token_limit = static_cast<std::uint16_t>(running.token_limit);
    if (!plan.need_restart.empty())
      log::warn("fleetd", "configuration changes need a restart to take effect",
                {{"keys", join(plan.need_restart, ",")}});
    log::info("fleetd", "configuration reloaded",
              {{"applied", plan.applied.empty() ? "-" : join(plan.applied, ",")}});
  };

  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        reload();
        wait_signal();
        return;
      }
      log::info("fleetd", "shutting down", {{"signal", std::to_string(sig)}});
      if (!the_agent) {
        stop_all();
        return;
      }
      // A host shutting down hands its units over before fleetd goes; a restart keeps them.
      net::co_spawn(
          io,
          [&]() -> net::awaitable<void> {
            (void)co_await the_agent->stop_for_signal();
            stop_all();
          },
          net::detached);
    });
  };
  wait_signal();

  auto main_task = [&]() -> net::awaitable<void> {
    agent::SystemdOptions so;
    so.units_dir = ao.units_dir;
    auto connected = co_await agent::SystemdUnitManager::connect(so);
    if (connected) {
      units = std::move(connected).value();
    } else if (cfg.dev) {
      log::warn("fleetd", "systemd unreachable: dev mode simulates units in memory",
                {{"error", connected.error().describe()}});
      units = std::make_unique<agent::FakeUnitManager>();
    } else {
      log::error("fleetd", "cannot reach systemd over D-Bus",
                 {{"error", connected.error().describe()}});
      exit_code = 1;
      stop_all();
      co_return;
    }
    the_agent = std::make_unique<agent::Agent>(reg, *units, ao);
    if (stopping) co_return;

    auto metrics_loop = [&]() -> net::awaitable<void> {
      net::steady_timer t(io);
      while (!stopping) {
        feed_metrics(metrics, the_engine.get(), *the_agent);
        t.expires_after(std::chrono::seconds(2));
        co_await t.async_wait(net::as_tuple(net::use_awaitable));
      }
    };
    net::co_spawn(io, metrics_loop(), net::detached);
    if (the_engine)
      co_await (the_agent->run() && the_engine->run());
    else
      co_await the_agent->run();
    stop_all();
    // The D-Bus pump always waits on the bus socket: release it so that io.run() can return.
    the_agent.reset();
    units.reset();
    // Agent, engine and server are done; what may still wait on the loop is not ours to await
    // (the in-memory registry's lease timers would otherwise hold --dev for the agent's TTL).
    io.stop();
  };
  net::co_spawn(io, main_task(), [&](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log::error("fleetd", "internal error", {{"error", ex.what()}});
    }
    exit_code = 1;
    stop_all();
  });
  io.run();
  log::info("fleetd", "stopped");
  return exit_code;
}

}  // namespace fleet::fleetd
