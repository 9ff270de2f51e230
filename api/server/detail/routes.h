#pragma once
// Folder-private: the per-resource handlers handler.cpp routes to, and their shared helpers.

#include <cstddef>
#include <string>

#include "api/page_token.h"
#include "api/server/api_context.h"
#include "api/server/http_message.h"
#include "common/result.h"

namespace fleet::api::server::detail {

// units.cpp
Task<Response> units_collection(const Request& req, ApiContext& ctx);
Task<Response> unit_item(const Request& req, ApiContext& ctx, const std::string& name);
Task<Response> units_batch_update(const Request& req, ApiContext& ctx);
Task<Response> units_batch_delete(const Request& req, ApiContext& ctx);
Task<Response> units_batch_create(const Request& req, ApiContext& ctx);
// A unit's canonical text and hash built from its options, and fleet's ValidateOptions of it
// (PUT /units and POST /rollouts store content the same way).
struct NewContent {
  std::string text;
  std::string hash;
  Status valid;
};
NewContent build_content(const Unit& unit);
bool is_template(const std::string& name);  // name@.type
// rollout_routes.cpp: GET/POST /rollouts, GET/DELETE /rollouts/<name>.
Task<Response> rollouts(const Request& req, ApiContext& ctx, const std::string& name);
// inspect.cpp
Task<Response> unit_status(const Request& req, ApiContext& ctx, const std::string& name);
Task<Response> unit_journal(const Request& req, ApiContext& ctx, const std::string& name);
// cluster_routes.cpp
Task<Response> state_collection(const Request& req, ApiContext& ctx);
Task<Response> state_item(const Request& req, ApiContext& ctx, const std::string& name);
Task<Response> machines(const Request& req, ApiContext& ctx);
// POST /machines/<id>:cordon, :drain (body {"force": bool}, optional), :uncordon.
Task<Response> machine_action(const Request& req, ApiContext& ctx, const std::string& target);
Response discovery(const Request& req);
// reboot_routes.cpp: /reboot (action ""), /reboot:lock, :unlock, :setMax.
Task<Response> reboot(const Request& req, ApiContext& ctx, const std::string& action);
Task<Response> metrics(const Request& req, ApiContext& ctx);
// event_routes.cpp: GET /events[?unit=&machine=&since=&after=&limit=&follow=true].
Task<Response> events(const Request& req, ApiContext& ctx);
// ui_routes.cpp: GET /ui and /ui/<file>, the dashboard's compiled-in files.
Response ui(const Request& req);
// GET /healthz: 200 while the process serves requests. GET /readyz: 200 when the registry
// answers, this machine is registered and every check of ApiContext::readiness passes, else
// 503; the body lists each check as `[+]name ok` or `[-]name: why` (probes.cpp).
Response healthz();
Task<Response> readyz(ApiContext& ctx);

// A failed registry call: 503 when the backend is unreachable (retrying helps), else 500.
ApiError registry_failure(const Error& e);
Response registry_error(const Error& e);

// The page a request asks for (`?nextPageToken=`); the error is the 400 text.
Result<PageToken> requested_page(const Request& req, const ApiContext& ctx);

// Items [begin, end) of a list of `total` items for `page`, and the next page's token ("" when
// the page was not full).
struct PageSlice {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string next_token;
};
PageSlice slice_page(const PageToken& page, std::size_t total);

}  // namespace fleet::api::server::detail
