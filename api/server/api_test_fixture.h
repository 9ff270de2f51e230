#pragma once
// Test-only: the API handler over a Registry on MemoryKv, driven synchronously.

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/server/handler.h"
#include "api/server/unit_inspector.h"
#include "common/metrics.h"
#include "common/testing/run.h"
#include "registry/memory_kv.h"
#include "registry/registry.h"
#include "registry/testing/raw_keys.h"

namespace fleet::api::server::testing {

using fleet::testing::run_sync;

inline const std::vector<Header> kJson = {{"Content-Type", "application/json"}};

struct ApiFixture {
  boost::asio::io_context io;
  registry::MemoryKv kv{io.get_executor()};
  registry::Registry reg{kv, "/fleet/"};
  FakeUnitInspector inspector;
  metrics::Metrics metrics{"test"};
  ApiContext ctx{reg, ApiOptions{kPageTokenLimit, "test"}};

  ApiFixture() {
    ctx.inspector = &inspector;
    ctx.metrics = &metrics;
  }

  Response call(std::string method, std::string target, std::string body = {},
                std::vector<Header> headers = {}) {
    Request req =
        Request::make(std::move(method), std::move(target), std::move(body), std::move(headers));
    return run_sync(io, handle(req, ctx));
  }
  Response get(std::string target) { return call("GET", std::move(target)); }
  Response put_json(std::string target, std::string body) {
    return call("PUT", std::move(target), std::move(body), kJson);
  }

  // --- seeding the registry as other components would ---
  void create(const std::string& name, const std::string& desired = "",
              const std::string& options =
                  R"([{"section":"Service","name":"ExecStart","value":"/bin/true"}])") {
    std::string body = R"({"options":)" + options;
    if (!desired.empty()) body += R"(,"desiredState":")" + desired + "\"";
    body += "}";
    auto r = put_json("/fleet/v1/units/" + name, body);
    if (r.status != 201) throw std::runtime_error("seed create failed: " + r.body);
  }
  void put(const std::string& key, const std::string& value) {
    auto r = run_sync(io, kv.put(key, value));
    if (!r) throw std::runtime_error("put failed");
  }
  void schedule(const std::string& unit, const std::string& machine) {
    put(reg.keys().schedule(unit), machine);
  }
  void reason(const std::string& unit, const std::string& why) {
    put(reg.keys().reason(unit), why);
  }
  void report(const std::string& unit, const std::string& machine,
              const std::string& active = "active", const std::string& sub = "running") {
    registry::UnitStateRecord s{unit, machine, "abc123", "loaded", active, sub};
    put(reg.keys().state(unit, machine), registry::encode(s));
  }
  void machine(const std::string& id, const std::string& ip,
               std::map<std::string, std::string> meta = {}) {
    registry::MachineRecord m;
    m.id = id;
    m.public_ip = ip;
    m.metadata = std::move(meta);
    m.version = "1.2.3";
    auto r = run_sync(io, reg.put_machine(m, 0));
    if (!r) throw std::runtime_error("put_machine failed");
  }
};

inline nlohmann::json body_json(const Response& r) { return nlohmann::json::parse(r.body); }

inline std::string error_body(int code, const std::string& message) {
  return nlohmann::json{{"error", {{"code", code}, {"message", message}}}}.dump();
}

}  // namespace fleet::api::server::testing
