// GET /healthz and GET /readyz, the probes of load balancers, systemd watchdog scripts and
// Kubernetes-style supervisors: liveness says the process serves, readiness says it is useful.
#include <algorithm>
#include <string>
#include <vector>

#include "api/server/api_context.h"
#include "api/server/detail/routes.h"
#include "registry/registry.h"

namespace fleet::api::server::detail {

namespace {
Response text(int status, std::string body) {
  return typed_response(status, "text/plain; charset=utf-8", std::move(body));
}
}  // namespace

Response healthz() { return text(200, "ok\n"); }

Task<Response> readyz(ApiContext& ctx) {
  std::vector<ReadinessCheck> checks;
  auto machines = co_await ctx.registry.list_machines();
  if (!machines) {
    checks.push_back({"registry", false, machines.error().message});
  } else {
    checks.push_back({"registry", true});
    if (!ctx.machine_id.empty()) {
      const auto& ms = machines.value();
      const bool found =
          std::any_of(ms.begin(), ms.end(), [&](const auto& m) { return m.id == ctx.machine_id; });
      if (found) {
        checks.push_back({"machine", true});
      } else {
        checks.push_back({"machine", false, "machine " + ctx.machine_id + " is not registered"});
      }
    }
  }
  if (ctx.readiness)
    for (auto& c : ctx.readiness()) checks.push_back(std::move(c));
  bool ready = true;
  std::string body;
  for (const auto& c : checks) {
    ready = ready && c.ok;
    if (c.ok) {
      body += "[+]" + c.name + " ok\n";
    } else {
      body += "[-]" + c.name + ": " + c.detail + "\n";
    }
  }
  body += ready ? "ready\n" : "not ready\n";
  Response r = text(ready ? 200 : 503, std::move(body));
  co_return r;
}

}  // namespace fleet::api::server::detail
