#include "fleetd/node.h"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>

namespace fleet::fleetd {

using namespace boost::asio::experimental::awaitable_operators;

Node::Node(boost::asio::io_context& io, std::unique_ptr<registry::KvStore> kv,
           std::string key_prefix, api::server::ApiOptions api)
    : io_(io),
      kv_(std::move(kv)),
      registry_(*kv_, std::move(key_prefix)),
      api_(registry_, api),
      view_(registry_.cluster_view()) {
  api_.view = view_.get();
}

Node::~Node() = default;

Status Node::start_api(api::server::HttpServerOptions http, api::server::UnitInspector* inspector,
                       std::string machine_id) {
  api_.inspector = inspector;
  // Proxied status/journal requests are answered here, not proxied again.
  api_.machine_id = std::move(machine_id);
  server_ = std::make_unique<api::server::HttpServer>(io_, api_, std::move(http));
  return server_->start();
}

std::vector<std::string> Node::endpoints() const {
  if (!server_) return {};
  return server_->endpoints();
}

std::string Node::api_url(bool tls) const {
  for (const auto& e : endpoints())
    if (e.rfind("tcp://", 0) == 0) return (tls ? "https://" : "http://") + e.substr(6);
  return {};
}

agent::Agent& Node::make_agent(agent::UnitManager& units, agent::AgentOptions opts) {
  agent_ = std::make_unique<agent::Agent>(registry_, units, std::move(opts));
  return *agent_;
}

engine::Engine& Node::make_engine(engine::EngineOptions opts) {
  engine_ = std::make_unique<engine::Engine>(registry_, std::move(opts));
  return *engine_;
}

boost::asio::awaitable<void> Node::run() {
  if (agent_ && engine_)
    co_await (agent_->run() && engine_->run());
  else if (agent_)
    co_await agent_->run();
  else if (engine_)
    co_await engine_->run();
}

void Node::stop() {
  if (agent_) agent_->stop();
  if (engine_) engine_->stop();
  if (server_) server_->stop();
  // Its watch would keep the io_context busy.
  view_->stop();
}

}  // namespace fleet::fleetd
