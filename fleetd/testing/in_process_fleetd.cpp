#include "fleetd/testing/in_process_fleetd.h"

#include <boost/asio/detached.hpp>
#include <filesystem>
#include <stdexcept>

#include "agent/agent.h"
#include "agent/fake_unit_manager.h"
#include "api/server/api_context.h"
#include "api/server/http_server.h"
#include "api/server/unit_inspector.h"
#include "common/version.h"
#include "engine/engine.h"
#include "fleetd/node.h"
#include "registry/etcd/etcd_kv.h"
#include "registry/memory_kv.h"
#include "registry/registry.h"

namespace fleet::fleetd::testing {

namespace net = boost::asio;

// The same builder as the daemon's (fleetd/node.h), with MemoryKv and fakes injected.
struct InProcessFleetd::Impl {
  Impl(net::io_context& io, const InProcessOptions& o)
      : node(io, make_store(io, o, kv), o.key_prefix,
             api::server::ApiOptions{static_cast<std::uint16_t>(o.token_limit), fleet::version()}) {
  }

  static std::unique_ptr<registry::KvStore> make_store(net::io_context& io,
                                                       const InProcessOptions& o,
                                                       registry::MemoryKv*& kv) {
    if (!o.etcd_endpoints.empty()) {
      registry::EtcdConfig config;
      config.endpoints = o.etcd_endpoints;
      auto etcd = registry::EtcdKv::create(io, config);
      if (!etcd) throw std::runtime_error("etcd: " + etcd.error().message);
      return std::move(etcd).value();
    }
    auto store =
        std::make_unique<registry::MemoryKv>(io.get_executor(), registry::MemoryKvOptions{});
    kv = store.get();
    return store;
  }

  static api::server::HttpServerOptions http_options(const InProcessOptions& o) {
    api::server::HttpServerOptions h;
    h.listen.push_back("unix://" + o.dir + "/fleet.sock");
    if (o.tcp) h.listen.push_back("tcp://127.0.0.1:0");
    return h;
  }

  registry::MemoryKv* kv = nullptr;  // owned by node
  api::server::FakeUnitInspector inspector;
  agent::FakeUnitManager units;
  Node node;             // after what it borrows: destroyed first
  bool running = false;  // node.run() not yet finished
  bool stopping = false;
};

InProcessFleetd::InProcessFleetd(InProcessOptions opts) : opts_(std::move(opts)) {}

InProcessFleetd::~InProcessFleetd() { stop(); }

Status InProcessFleetd::start() {
  std::filesystem::create_directories(opts_.dir);
  impl_ = std::make_unique<Impl>(io_, opts_);
  // Nothing runs io_ yet, so building and binding here is still "on the loop".
  if (auto st =
          impl_->node.start_api(Impl::http_options(opts_), &impl_->inspector, opts_.machine_id);
      !st) {
    impl_.reset();
    return st;
  }
  if (opts_.agent) {
    agent::AgentOptions ao;
    ao.machine.id = opts_.machine_id;
    ao.machine.public_ip = opts_.public_ip;
    ao.machine.metadata = opts_.metadata;
    ao.machine.version = fleet::version();
    ao.machine.api_url = impl_->node.api_url();
    ao.units_dir = opts_.dir + "/units";
    ao.lease_file = opts_.dir + "/machine.lease";
    ao.publish_delay = std::chrono::milliseconds(10);
    impl_->node.make_agent(impl_->units, ao);
  }
  if (opts_.engine) {
    engine::EngineOptions eo;
    eo.machine_id = opts_.machine_id;
    eo.batch_window = std::chrono::milliseconds(5);
    impl_->node.make_engine(eo);
  }
  // Once agent and engine have wound down nothing is left to serve: the loop is stopped rather
  // than left to wait out the agent's machine lease timer in MemoryKv (its TTL).
  impl_->running = true;
  net::co_spawn(io_, impl_->node.run(), [this](std::exception_ptr) {
    impl_->running = false;
    if (impl_->stopping) io_.stop();
  });
  thread_ = std::thread([this] { io_.run(); });
  return ok();
}

void InProcessFleetd::stop() {
  if (!thread_.joinable()) return;
  net::post(io_, [this] {
    impl_->stopping = true;
    if (!impl_->running) io_.stop();
    impl_->node.stop();
  });
  thread_.join();
  impl_.reset();
}

std::string InProcessFleetd::unix_endpoint() const { return "unix://" + opts_.dir + "/fleet.sock"; }

std::string InProcessFleetd::tcp_endpoint() const {
  if (!impl_) return {};
  return impl_->node.api_url();
}

registry::Registry& InProcessFleetd::registry() { return impl_->node.registry(); }
registry::MemoryKv& InProcessFleetd::kv() { return *impl_->kv; }
registry::KvStore& InProcessFleetd::store() { return impl_->node.kv(); }
api::server::ApiContext& InProcessFleetd::api() { return impl_->node.api(); }
agent::FakeUnitManager& InProcessFleetd::units() { return impl_->units; }
api::server::FakeUnitInspector& InProcessFleetd::inspector() { return impl_->inspector; }

bool InProcessFleetd::engine_leader() {
  return on_loop([this] { return impl_->node.engine() && impl_->node.engine()->leader(); });
}

bool InProcessFleetd::machine_announced() {
  return on_loop([this] { return impl_->node.agent() && impl_->node.agent()->stats().lease_held; });
}

}  // namespace fleet::fleetd::testing
