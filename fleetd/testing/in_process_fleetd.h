#pragma once
// InProcessFleetd: the pieces `fleetd --dev` wires (MemoryKv registry, the v1 API server over a
// unix socket and optionally TCP, an engine and an agent) running on their own io_context in a
// background thread, so synchronous code — fleetctl's run_fleetctl with HttpApiClient, or a
// benchmark — can talk to a real server over HTTP in the same process. Units are "run" by a
// FakeUnitManager and status/journal answered by a FakeUnitInspector, so no systemd is needed.
//
// Thread affinity: everything inside runs on the server thread. Tests reach into it only via
// on_loop()/run_task(), which post to that thread and wait for the result.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "api/page_token.h"
#include "common/result.h"

namespace fleet::registry {
class Registry;
class MemoryKv;
class KvStore;
}  // namespace fleet::registry
namespace fleet::agent {
class FakeUnitManager;
}
namespace fleet::api::server {
class FakeUnitInspector;
struct ApiContext;
}  // namespace fleet::api::server

namespace fleet::fleetd::testing {

struct InProcessOptions {
  std::string dir;   // required: holds fleet.sock and the agent's lease file
  bool tcp = false;  // also listen on tcp://127.0.0.1:<free port>
  std::string machine_id = "2c9d0e4b6a8f4c1e9b7a5d3f1e0c2a4b";
  std::string public_ip = "127.0.0.1";
  std::map<std::string, std::string> metadata;
  bool agent = true;   // false: units get scheduled nowhere (no machine announced)
  bool engine = true;  // false: units stay unscheduled
  std::string key_prefix = "/_coreos.com/fleet/";
  int token_limit = api::kPageTokenLimit;  // the API's page size (fleetd's token_limit)
  // Non-empty: the registry lives in this etcd (client URLs) instead of a MemoryKv, as a
  // fleetd's does (benchmarks of the path a user meets).
  std::vector<std::string> etcd_endpoints = {};
};

class InProcessFleetd {
 public:
  explicit InProcessFleetd(InProcessOptions opts);
  ~InProcessFleetd();  // stop()
  InProcessFleetd(const InProcessFleetd&) = delete;
  InProcessFleetd& operator=(const InProcessFleetd&) = delete;

  // Builds everything, binds the API and starts the thread. Fails when the API cannot listen.
  Status start();
  // Stops agent, engine and server and joins the thread. Idempotent.
  void stop();

  // fleetctl --endpoint values: "unix:///<dir>/fleet.sock", "http://127.0.0.1:<port>" (or "").
  std::string unix_endpoint() const;
  std::string tcp_endpoint() const;
  const std::string& machine_id() const { return opts_.machine_id; }

  // Runs `f()` on the server thread and returns its result.
  template <class F>
  auto on_loop(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto fut = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return fut.get();
  }
  // Runs a coroutine on the server thread and returns its result.
  template <class T>
  T run_task(boost::asio::awaitable<T> a) {
    if constexpr (std::is_void_v<T>) {
      boost::asio::co_spawn(io_, std::move(a), boost::asio::use_future).get();
    } else {
      // Wrapped in optional: asio's future path wants a default-constructible value (Result
      // is not).
      auto wrap = [](boost::asio::awaitable<T> in) -> boost::asio::awaitable<std::optional<T>> {
        co_return co_await std::move(in);
      };
      return *boost::asio::co_spawn(io_, wrap(std::move(a)), boost::asio::use_future).get();
    }
  }

  // Only on the server thread (inside on_loop / run_task).
  registry::Registry& registry();
  registry::MemoryKv& kv();  // only without etcd_endpoints
  registry::KvStore& store();
  api::server::ApiContext& api();
  agent::FakeUnitManager& units();
  api::server::FakeUnitInspector& inspector();
  // From any other thread: this fleetd leads the engine / its agent holds its machine lease.
  bool engine_leader();
  bool machine_announced();

  struct Impl;

 private:
  InProcessOptions opts_;
  boost::asio::io_context io_;  // outlives impl_: its objects hold timers and sockets of io_
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace fleet::fleetd::testing
