#pragma once
// Node: one fleetd's components, assembled in the order they depend on each other — store ->
// registry -> API (context and HTTP server) -> agent -> engine — on one io_context. The one
// builder of a fleetd: run_daemon (daemon.cpp) builds it from the configuration with etcd (or
// MemoryKv for --dev), systemd and the local unit inspector; testing::InProcessFleetd builds the
// same chain with MemoryKv and fakes injected. Each step is optional after the registry: a node
// without make_agent() announces no machine, one without make_engine() never schedules.
//
// Loop affinity: everything on the io_context thread (building before the loop runs counts).

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "api/server/api_context.h"
#include "api/server/http_server.h"
#include "common/result.h"
#include "engine/engine.h"
#include "registry/kv.h"
#include "registry/registry.h"

namespace boost::asio {
class io_context;
}

namespace fleet::agent {
class UnitManager;
}

namespace fleet::fleetd {

class Node {
 public:
  // Make store: `kv` is the store the node owns (EtcdKv, or MemoryKv for --dev and tests).
  Node(boost::asio::io_context& io, std::unique_ptr<registry::KvStore> kv, std::string key_prefix,
       api::server::ApiOptions api);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Make API: binds every endpoint of `http` and serves the v1 API. `inspector` answers
  // status/journal (null: 501) and must outlive the node.
  Status start_api(api::server::HttpServerOptions http, api::server::UnitInspector* inspector,
                   std::string machine_id);
  // Where this node's API answers other fleetds ("" when it listens on no TCP endpoint).
  std::string api_url(bool tls = false) const;
  // The bound endpoints ("tcp://127.0.0.1:41234", ...); empty before start_api().
  std::vector<std::string> endpoints() const;

  // Make agent: drives `units` (which must outlive the node) for this machine.
  agent::Agent& make_agent(agent::UnitManager& units, agent::AgentOptions opts);
  // Destroys the agent once run() has ended, so its unit manager can be released before the node.
  void release_agent() { agent_.reset(); }
  // Make engine.
  engine::Engine& make_engine(engine::EngineOptions opts);

  // Runs the agent and the engine (those made) until both have ended (after stop()).
  boost::asio::awaitable<void> run();
  // Stops agent, engine and API server. Idempotent.
  void stop();

  registry::KvStore& kv() { return *kv_; }
  registry::Registry& registry() { return registry_; }
  api::server::ApiContext& api() { return api_; }
  agent::Agent* agent() { return agent_.get(); }
  engine::Engine* engine() { return engine_.get(); }

 private:
  boost::asio::io_context& io_;
  std::unique_ptr<registry::KvStore> kv_;
  registry::Registry registry_;
  api::server::ApiContext api_;
  // Serves the API's listings (api_.view); followed only while listings come.
  std::unique_ptr<registry::ClusterView> view_;
  std::unique_ptr<api::server::HttpServer> server_;
  std::unique_ptr<agent::Agent> agent_;
  std::unique_ptr<engine::Engine> engine_;
};

}  // namespace fleet::fleetd
