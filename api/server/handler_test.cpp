// Routing, errors, availability, pagination and garbage input of the API handler.

#include <doctest/doctest.h>

#include "api/server/api_test_fixture.h"

using namespace fleet::api::server;
using namespace fleet::api::server::testing;

TEST_CASE("routing follows fleet: 405 at the roots, 404 elsewhere, identical legacy prefix") {
  ApiFixture f;
  CHECK(f.get("/").status == 405);
  CHECK(f.get("/fleet/v1").status == 405);
  CHECK(f.get("/v1-alpha").status == 405);
  CHECK(f.get("/fleet/v1/").status == 405);
  auto nf = f.get("/nope");
  CHECK(nf.status == 404);
  CHECK(nf.body == R"({"error":{"code":404,"message":"page not found"}})");
  CHECK(*nf.header("content-type") == "application/json");
  CHECK(f.get("/fleet/v1/units/").status == 404);
  CHECK(f.get("/fleet/v1/units/a.service/b").status == 404);
  CHECK(f.get("/fleet/v1/machines/m1").status == 404);
  CHECK(f.get("/fleet/v1/nothing").status == 404);
  CHECK(f.get("/fleet/v1x/units").status == 404);
  CHECK(f.get("relative").status == 404);
  auto legacy = f.get("/v1-alpha/units");
  CHECK(legacy.status == 200);
  CHECK(legacy.body == "{}");
}

TEST_CASE("every response names the server, errors included") {
  ApiFixture f;
  CHECK(*f.get("/fleet/v1/units").header("Server") == "fleetd/test");
  CHECK(*f.get("/nope").header("Server") == "fleetd/test");
  CHECK(*f.call("POST", "/fleet/v1/units").header("Server") == "fleetd/test");
}

TEST_CASE("while fleetd is unavailable every path answers 503") {
  ApiFixture f;
  bool up = false;
  f.ctx.available = [&] { return up; };
  for (auto path : {"/fleet/v1/units", "/fleet/v1/machines", "/nope", "/"}) {
    auto r = f.get(path);
    CHECK(r.status == 503);
    CHECK(r.body ==
          R"({"error":{"code":503,"message":"fleet server unable to communicate with etcd"}})");
  }
  up = true;
  CHECK(f.get("/fleet/v1/units").status == 200);
}

TEST_CASE("a registry outage is a 503, not a crash") {
  ApiFixture f;
  f.kv.set_available(false);
  auto r = f.get("/fleet/v1/units");
  CHECK(r.status == 503);
  CHECK(body_json(r)["error"]["code"] == 503);
  CHECK(f.get("/fleet/v1/units/a.service").status == 503);
  CHECK(f.get("/fleet/v1/machines").status == 503);
  CHECK(f.get("/fleet/v1/state").status == 503);
  f.kv.set_available(true);
  CHECK(f.get("/fleet/v1/units").status == 200);
}

TEST_CASE("method errors carry fleet's messages") {
  ApiFixture f;
  auto check = [&](const char* method, const char* path, int code, const char* msg) {
    auto r = f.call(method, path);
    CHECK(r.status == code);
    CHECK(r.body == error_body(code, msg));
  };
  check("POST", "/fleet/v1/units", 405, "only GET supported against this resource");
  check("POST", "/fleet/v1/units/a.service", 405,
        "only GET, PUT and DELETE supported against this resource");
  check("DELETE", "/fleet/v1/state", 405, "only GET supported against this resource");
  check("PUT", "/fleet/v1/state/a.service", 405, "only GET supported against this resource");
  check("PUT", "/fleet/v1/machines", 405, "only GET and PATCH supported against this resource");
  check("POST", "/fleet/v1/discovery", 400, "only HTTP GET supported against this resource");
}

TEST_CASE("discovery returns fleet's v1 discovery document") {
  ApiFixture f;
  auto r = f.get("/fleet/v1/discovery");
  CHECK(r.status == 200);
  CHECK(*r.header("Content-Type") == "application/json");
  auto j = body_json(r);
  CHECK(j["id"] == "fleet:v1");
  CHECK(j["rootUrl"] == "$ENDPOINT/");
  CHECK(j["servicePath"] == "fleet/v1/");
  CHECK(j["schemas"].contains("UnitStatePage"));
  CHECK(j["resources"]["Units"]["methods"]["Set"]["httpMethod"] == "PUT");
}

TEST_CASE("pagination uses fleet's tokens and page rule") {
  ApiFixture f;
  f.ctx.options.token_limit = 2;
  SUBCASE("an exact multiple yields one extra empty page") {
    for (auto n : {"a.service", "b.service", "c.service", "d.service"}) f.create(n);
    auto p1 = body_json(f.get("/fleet/v1/units"));
    CHECK(p1["units"].size() == 2);
    CHECK(p1["units"][0]["name"] == "a.service");
    CHECK(p1["nextPageToken"] == "AgACAA==");
    auto p2 = body_json(f.get("/fleet/v1/units?nextPageToken=AgACAA%3D%3D"));
    CHECK(p2["units"][0]["name"] == "c.service");
    CHECK(p2["nextPageToken"] == "AgADAA==");
    auto p3 = f.get("/fleet/v1/units?nextPageToken=AgADAA==");
    CHECK(p3.status == 200);
    CHECK(p3.body == "{}");
  }
  SUBCASE("a partial page has no token; a page beyond the end is empty") {
    for (auto n : {"a.service", "b.service", "c.service"}) f.create(n);
    auto p2 = body_json(f.get("/fleet/v1/units?nextPageToken=AgACAA=="));
    CHECK(p2["units"].size() == 1);
    CHECK_FALSE(p2.contains("nextPageToken"));
    CHECK(f.get("/fleet/v1/units?nextPageToken=AgAJAA==").body == "{}");
  }
  SUBCASE("bad tokens are 400 with fleet's messages") {
    auto check = [&](const std::string& query, const std::string& msg) {
      auto r = f.get("/fleet/v1/units?" + query);
      CHECK(r.status == 400);
      CHECK(r.body == error_body(400, msg));
    };
    check("nextPageToken=AgACAA==&nextPageToken=AgACAA==", "too many values for page token");
    check("nextPageToken=ZAACAA==", "token limit must be 2");
    check("nextPageToken=AgAAAA==", "token page must be greater than zero");
    check("nextPageToken=", "EOF");
    check("nextPageToken=AgA=", "unexpected EOF");
    check("nextPageToken=!!!!", "illegal base64 data at input byte 0");
    CHECK(f.get("/fleet/v1/machines?nextPageToken=x").status == 400);
    CHECK(f.get("/fleet/v1/state?nextPageToken=x").status == 400);
  }
}

TEST_CASE("PUT demands exactly one JSON Content-Type (415)") {
  ApiFixture f;
  const std::string body = R"({"desiredState":"launched"})";
  auto none = f.call("PUT", "/fleet/v1/units/a.service", body);
  CHECK(none.status == 415);
  CHECK(none.body == error_body(415, "expected 1 Content-Type, got 0"));
  auto two = f.call("PUT", "/fleet/v1/units/a.service", body,
                    {{"Content-Type", "application/json"}, {"content-type", "application/json"}});
  CHECK(two.body == error_body(415, "expected 1 Content-Type, got 2"));
  auto text = f.call("PUT", "/fleet/v1/units/a.service", body, {{"Content-Type", "text/plain"}});
  CHECK(text.status == 415);
  CHECK(text.body == error_body(415, "only acceptable Content-Type is application/json"));
  auto params =
      f.call("PUT", "/fleet/v1/units/a.service",
             R"({"options":[{"section":"Service","name":"ExecStart","value":"/bin/true"}]})",
             {{"Content-Type", " Application/JSON ; charset=utf-8"}});
  CHECK(params.status == 201);
}

TEST_CASE("garbage bodies are 400 and change nothing") {
  ApiFixture f;
  for (std::string bad :
       {"", "{", "[]", "null", "42", R"({"options":"nope"})", R"({"options":[42]})",
        R"({"desiredState":7})", "\xff\xfe", R"({"name":["a"]})"}) {
    auto r = f.put_json("/fleet/v1/units/a.service", bad);
    CAPTURE(bad);
    CHECK(r.status == 400);
    CHECK(body_json(r)["error"]["message"].get<std::string>().rfind("unable to decode body: ", 0) ==
          0);
  }
  CHECK(f.get("/fleet/v1/units").body == "{}");
}

TEST_CASE("error messages echoing invalid UTF-8 stay valid JSON") {
  ApiFixture f;
  auto r = f.put_json("/fleet/v1/units/a%FF.service", R"({"desiredState":"launched"})");
  CHECK(r.status == 400);
  CHECK_NOTHROW(body_json(r));
}

TEST_CASE("request metrics are recorded per route pattern, method and code") {
  ApiFixture f;
  f.get("/fleet/v1/units");
  f.get("/nope");
  f.call("BREW", "/fleet/v1/units");
  f.get("/fleet/v1/units/a%20b.service");
  f.get("/v1-alpha/units/c.service");
  namespace fam = fleet::metrics::families;
  using L = fleet::metrics::Labels;
  CHECK(f.metrics.value(fam::api_requests,
                        L{{"route", "/fleet/v1/units"}, {"code", "200"}, {"method", "GET"}}) == 1);
  CHECK(f.metrics.value(fam::api_requests,
                        L{{"route", "other"}, {"code", "404"}, {"method", "GET"}}) == 1);
  CHECK(f.metrics.value(fam::api_requests,
                        L{{"route", "/fleet/v1/units"}, {"code", "405"}, {"method", "other"}}) ==
        1);
  // Unit names never become label values: both lookups count under the pattern.
  CHECK(f.metrics.value(
            fam::api_requests,
            L{{"route", "/fleet/v1/units/{name}"}, {"code", "404"}, {"method", "GET"}}) == 2);
  CHECK(f.metrics.value(fam::api_request_duration,
                        L{{"route", "/fleet/v1/units"}, {"code", "200"}}) == 1);
}
