#include "fleetd/testing/in_process_fleetd.h"

#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <filesystem>

#include "agent/agent.h"
#include "agent/fake_unit_manager.h"
#include "api/server/api_context.h"
#include "api/server/http_server.h"
#include "api/server/unit_inspector.h"
#include "common/version.h"
#include "engine/engine.h"
#include "registry/memory_kv.h"
#include "registry/registry.h"

namespace fleet::fleetd::testing {

namespace net = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

// Declaration order is construction order; the daemon's composition root builds the same chain.
struct InProcessFleetd::Impl {
  Impl(net::io_context& io, const InProcessOptions& o)
      : kv(io.get_executor(), registry::MemoryKvOptions{}),
        reg(kv, o.key_prefix),
        ctx(reg,
            api::server::ApiOptions{static_cast<std::uint16_t>(o.token_limit), fleet::version()}),
        server(io, ctx, http_options(o)) {
    ctx.inspector = &inspector;
    ctx.machine_id = o.machine_id;
  }

  static api::server::HttpServerOptions http_options(const InProcessOptions& o) {
    api::server::HttpServerOptions h;
    h.listen.push_back("unix://" + o.dir + "/fleet.sock");
    if (o.tcp) h.listen.push_back("tcp://127.0.0.1:0");
    return h;
  }

  registry::MemoryKv kv;
  registry::Registry reg;
  api::server::FakeUnitInspector inspector;
  api::server::ApiContext ctx;
  api::server::HttpServer server;
  agent::FakeUnitManager units;
  std::unique_ptr<agent::Agent> agent;
  std::unique_ptr<engine::Engine> engine;
  int running = 0;  // agent and engine runs not yet finished
  bool stopping = false;
};

// Once agent and engine have wound down nothing is left to serve: the loop is stopped rather
// than left to wait out the agent's machine lease timer in MemoryKv (its TTL).
void InProcessFleetd::component_done() {
  if (--impl_->running == 0 && impl_->stopping) io_.stop();
}

InProcessFleetd::InProcessFleetd(InProcessOptions opts) : opts_(std::move(opts)) {}

InProcessFleetd::~InProcessFleetd() { stop(); }

Status InProcessFleetd::start() {
  std::filesystem::create_directories(opts_.dir);
  impl_ = std::make_unique<Impl>(io_, opts_);
  // Nothing runs io_ yet, so building and binding here is still "on the loop".
  if (auto st = impl_->server.start(); !st) {
    impl_.reset();
    return st;
  }
  std::string api_url;
  for (const auto& e : impl_->server.endpoints())
    if (e.rfind("tcp://", 0) == 0) api_url = "http://" + e.substr(6);
  if (opts_.agent) {
    agent::AgentOptions ao;
    ao.machine.id = opts_.machine_id;
    ao.machine.public_ip = opts_.public_ip;
    ao.machine.metadata = opts_.metadata;
    ao.machine.version = fleet::version();
    ao.machine.api_url = api_url;
    ao.units_dir = opts_.dir + "/units";
    ao.lease_file = opts_.dir + "/machine.lease";
    ao.publish_delay = std::chrono::milliseconds(10);
    impl_->agent = std::make_unique<agent::Agent>(impl_->reg, impl_->units, ao);
    net::co_spawn(io_, impl_->agent->run(), [this](std::exception_ptr) { component_done(); });
    ++impl_->running;
  }
  if (opts_.engine) {
    engine::EngineOptions eo;
    eo.machine_id = opts_.machine_id;
    eo.batch_window = std::chrono::milliseconds(5);
    impl_->engine = std::make_unique<engine::Engine>(impl_->reg, eo);
    net::co_spawn(io_, impl_->engine->run(), [this](std::exception_ptr) { component_done(); });
    ++impl_->running;
  }
  thread_ = std::thread([this] { io_.run(); });
  return ok();
}

void InProcessFleetd::stop() {
  if (!thread_.joinable()) return;
  net::post(io_, [this] {
    impl_->stopping = true;
    if (impl_->running == 0) io_.stop();
    if (impl_->agent) impl_->agent->stop();
    if (impl_->engine) impl_->engine->stop();
    impl_->server.stop();
  });
  thread_.join();
  impl_.reset();
}

std::string InProcessFleetd::unix_endpoint() const { return "unix://" + opts_.dir + "/fleet.sock"; }

std::string InProcessFleetd::tcp_endpoint() const {
  if (!impl_) return {};
  for (const auto& e : impl_->server.endpoints())
    if (e.rfind("tcp://", 0) == 0) return "http://" + e.substr(6);
  return {};
}

registry::Registry& InProcessFleetd::registry() { return impl_->reg; }
registry::MemoryKv& InProcessFleetd::kv() { return impl_->kv; }
agent::FakeUnitManager& InProcessFleetd::units() { return impl_->units; }
api::server::FakeUnitInspector& InProcessFleetd::inspector() { return impl_->inspector; }

bool InProcessFleetd::engine_leader() {
  return on_loop([this] { return impl_->engine && impl_->engine->leader(); });
}

bool InProcessFleetd::machine_announced() {
  return on_loop([this] { return impl_->agent && impl_->agent->stats().lease_held; });
}

}  // namespace fleet::fleetd::testing
