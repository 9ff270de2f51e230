// GET /fleet/v1/events: what the API records about units, filters, errors and the follow stream.

#include <doctest/doctest.h>

#include "api/server/api_test_fixture.h"

using namespace fleet::api::server;
using namespace fleet::api::server::testing;

namespace {
std::vector<std::string> kinds(const nlohmann::json& j) {
  std::vector<std::string> out;
  for (const auto& e : j["events"])
    out.push_back(e["kind"].get<std::string>() + ":" + e["unit"].get<std::string>());
  return out;
}
}  // namespace

TEST_CASE("unit changes through the API are events, listed with filters") {
  ApiFixture f;
  f.create("a.service");
  f.create("b.service", "launched");
  REQUIRE(f.put_json("/fleet/v1/units/a.service", R"({"desiredState":"loaded"})").status == 204);
  REQUIRE(f.call("DELETE", "/fleet/v1/units/b.service").status == 204);
  auto all = body_json(f.get("/fleet/v1/events"));
  CHECK(kinds(all) == std::vector<std::string>{"submitted:a.service", "submitted:b.service",
                                               "desired:a.service", "destroyed:b.service"});
  CHECK(all["events"][2]["reason"] == "loaded (was inactive)");
  CHECK(all["events"][1]["reason"] == "desired state launched");
  CHECK(kinds(body_json(f.get("/fleet/v1/events?unit=a.service"))) ==
        std::vector<std::string>{"submitted:a.service", "desired:a.service"});
  CHECK(kinds(body_json(f.get("/fleet/v1/events?limit=1"))) ==
        std::vector<std::string>{"destroyed:b.service"});
  const auto pos = all["events"][1]["position"].get<std::int64_t>();
  CHECK(kinds(body_json(f.get("/fleet/v1/events?after=" + std::to_string(pos)))) ==
        std::vector<std::string>{"desired:a.service", "destroyed:b.service"});
  CHECK(body_json(f.get("/fleet/v1/events?since=2999-01-01T00:00:00Z"))["events"].empty());
  CHECK(body_json(f.get("/fleet/v1/events?since=2000-01-01T00:00:00.5Z"))["events"].size() == 4);
}

TEST_CASE("bad event queries get a clear 400") {
  ApiFixture f;
  CHECK(f.get("/fleet/v1/events?since=yesterday").status == 400);
  CHECK(f.get("/fleet/v1/events?after=-1").status == 400);
  CHECK(f.get("/fleet/v1/events?limit=x").status == 400);
  CHECK(f.get("/fleet/v1/events?follow=maybe").status == 400);
  CHECK(f.call("POST", "/fleet/v1/events").status == 405);
}

TEST_CASE("follow streams the listing, then each new matching event as a JSON line") {
  ApiFixture f;
  f.create("a.service");
  auto r = f.get("/fleet/v1/events?follow=true&unit=a.service");
  REQUIRE(r.status == 200);
  CHECK(*r.header("Content-Type") == "application/x-ndjson");
  REQUIRE(r.stream);
  auto first = run_sync(f.io, r.stream->next());
  REQUIRE(first);
  REQUIRE(first.value());
  CHECK(first.value()->find("\"kind\":\"submitted\"") != std::string::npos);
  f.create("other.service");  // filtered out
  REQUIRE(f.put_json("/fleet/v1/units/a.service", R"({"desiredState":"launched"})").status == 204);
  auto next = run_sync(f.io, r.stream->next());
  REQUIRE(next);
  REQUIRE(next.value());
  CHECK(next.value()->find("\"kind\":\"desired\"") != std::string::npos);
  CHECK(next.value()->find("other.service") == std::string::npos);
  CHECK(next.value()->back() == '\n');
}
