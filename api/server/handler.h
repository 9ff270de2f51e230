#pragma once
// fleet's HTTP API v1 as one pure coroutine: routes a Request, reads and writes
// the Registry through `ctx`, and returns the Response. No sockets: the Beast listener
// (http_server.h) and the tests call it the same way.
//
// Routes (under /fleet/v1 and the legacy /v1-alpha, identical):
//   GET                /discovery
//   GET, PATCH         /machines
//   GET                /state[?machineID=&unitName=], /state/<name>
//   GET                /units, GET PUT DELETE /units/<name>
//   GET                /units/<name>/status[?machineID=], /units/<name>/journal?lines=N&follow=B
//   GET                /metrics (top level, Prometheus text)
//   GET                /ui/ (top level: the web dashboard, Documentation/dashboard.md)
// Errors are `{"error":{"code":N,"message":"..."}}`; see Documentation/api.md.
//
// Loop affinity: runs on the io_context thread and suspends on registry calls. Never throws:
// an unexpected exception becomes a 500.

#include "api/server/api_context.h"
#include "api/server/http_message.h"

namespace fleet::api::server {

Task<Response> handle(const Request& req, ApiContext& ctx);

}  // namespace fleet::api::server
