// GET /ui/: the dashboard's compiled-in files, their types, security and cache headers.

#include <doctest/doctest.h>

#include "api/server/api_test_fixture.h"

using namespace fleet::api::server;
using namespace fleet::api::server::testing;

namespace {

std::string header(const Response& r, std::string_view name) {
  const std::string* v = r.header(name);
  return v ? *v : std::string();
}

}  // namespace

TEST_CASE("the dashboard's files are served with their type, a strict CSP and an ETag") {
  ApiFixture f;
  auto page = f.get("/ui/");
  REQUIRE(page.status == 200);
  CHECK(header(page, "Content-Type") == "text/html; charset=utf-8");
  CHECK(page.body.find("<script src=\"app.js\"") != std::string::npos);
  const std::string csp = header(page, "Content-Security-Policy");
  CHECK(csp.find("default-src 'none'") != std::string::npos);
  CHECK(csp.find("script-src 'self'") != std::string::npos);
  CHECK(csp.find("unsafe-inline") == std::string::npos);
  CHECK(header(page, "X-Content-Type-Options") == "nosniff");
  CHECK(header(page, "Cache-Control") == "no-cache");
  CHECK(f.get("/ui/app.js").body.find("/fleet/v1/events") != std::string::npos);
  CHECK(header(f.get("/ui/app.js"), "Content-Type") == "text/javascript; charset=utf-8");
  CHECK(header(f.get("/ui/style.css"), "Content-Type") == "text/css; charset=utf-8");
  CHECK(header(f.get("/ui/favicon.svg"), "Content-Type") == "image/svg+xml");

  // A browser that has the file revalidates it for the price of a 304.
  const std::string etag = header(page, "ETag");
  REQUIRE(!etag.empty());
  auto again = f.call("GET", "/ui/", {}, {{"If-None-Match", etag}});
  CHECK(again.status == 304);
  CHECK(again.body.empty());
  CHECK(header(again, "ETag") == etag);
  CHECK(f.call("GET", "/ui/", {}, {{"If-None-Match", "\"other\""}}).status == 200);
  CHECK(header(f.get("/ui/app.js"), "ETag") != etag);
}

TEST_CASE("the dashboard: /ui redirects to /ui/, unknown files are 404, only GET") {
  ApiFixture f;
  auto r = f.get("/ui");
  CHECK(r.status == 308);
  CHECK(header(r, "Location") == "/ui/");
  CHECK(f.get("/ui/missing.js").status == 404);
  CHECK(f.get("/ui/../fleet/v1/units").status == 404);
  CHECK(f.call("POST", "/ui/").status == 405);
  CHECK(f.get("/uix").status == 404);
}

TEST_CASE("the dashboard is served while fleetd cannot reach the registry") {
  ApiFixture f;
  f.ctx.available = [] { return false; };
  CHECK(f.get("/ui/").status == 200);
  CHECK(f.get("/fleet/v1/units").status == 503);
}
