// /fleet/v1/rollouts: what the API records for a rolling update (the engine carries it out) and
// the answers a client gets while one runs.

#include <doctest/doctest.h>

#include "api/server/api_test_fixture.h"

using namespace fleet::api::server::testing;
using nlohmann::json;

namespace {

std::string request(const std::string& name, const std::string& exec, int max = 1) {
  json j{
      {"name", name},
      {"options", json::array({{{"section", "Service"}, {"name", "ExecStart"}, {"value", exec}}})},
      {"maxUnavailable", max},
      {"minHealthyMs", 1000}};
  return j.dump();
}

}  // namespace

TEST_CASE("POST /rollouts records a template's instances, keeps the previous content, 409 twice") {
  ApiFixture f;
  f.create("web@.service");
  f.create("web@1.service", "launched");
  f.create("web@2.service", "loaded");
  f.create("other.service", "launched");

  auto r =
      f.call("POST", "/fleet/v1/rollouts", request("web@.service", "/bin/sleep 1000", 2), kJson);
  REQUIRE_MESSAGE(r.status == 201, r.body);
  auto body = json::parse(r.body);
  CHECK(body["state"] == "running");
  CHECK(body["maxUnavailable"] == 2);
  REQUIRE(body["instances"].size() == 2);  // the instances, not the template nor other units
  CHECK(body["instances"][0]["unit"] == "web@1.service");
  CHECK(body["instances"][0]["step"] == "pending");
  CHECK(body["instances"][0]["oldHash"] == body["oldHash"]);

  // The template has the new content at once; both contents are in the registry.
  auto t = fleet::testing::run_sync(f.io, f.reg.get_unit("web@.service"));
  REQUIRE(t);
  CHECK(t.value()->hash == body["hash"]);
  CHECK(fleet::testing::run_sync(f.io, f.reg.get_content(body["hash"].get<std::string>())));
  CHECK(fleet::testing::run_sync(f.io, f.reg.get_content(body["oldHash"].get<std::string>())));

  auto again =
      f.call("POST", "/fleet/v1/rollouts", request("web@.service", "/bin/sleep 2000"), kJson);
  CHECK(again.status == 409);

  auto one = f.get("/fleet/v1/rollouts/web@.service");
  CHECK(one.status == 200);
  auto all = f.get("/fleet/v1/rollouts");
  CHECK(json::parse(all.body)["rollouts"].size() == 1);

  CHECK(f.call("DELETE", "/fleet/v1/rollouts/web@.service").status == 204);
  CHECK(json::parse(f.get("/fleet/v1/rollouts/web@.service").body)["abort"] == true);
}

TEST_CASE("POST /rollouts refuses what it cannot roll out") {
  ApiFixture f;
  f.create("global.service", "launched",
           R"([{"section":"Service","name":"ExecStart","value":"/bin/true"},)"
           R"({"section":"X-Fleet","name":"Global","value":"true"}])");
  struct Row {
    std::string body;
    int status;
    std::string message;
  };
  const Row rows[] = {
      {request("missing.service", "/bin/true"), 404, "no unit missing.service to roll out"},
      {request("a.service", "/bin/true", 0), 400, "maxUnavailable must be"},
      // A step is one etcd txn of at most 128 operations.
      {request("a.service", "/bin/true", 101), 400,
       "maxUnavailable must be an integer from 1 to 100"},
      {R"({"name":"a.service"})", 400, "options must hold"},
      {R"({"name":"global.service","options":[{"section":"X-Fleet","name":"Global","value":"true"}]})",
       400, "a global unit cannot be rolled out"},
      {"[1]", 400, "unable to decode body"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.body);
    auto r = f.call("POST", "/fleet/v1/rollouts", row.body, kJson);
    CHECK(r.status == row.status);
    CHECK(r.body.find(row.message) != std::string::npos);
  }
  CHECK(f.get("/fleet/v1/rollouts/a.service").status == 404);
  CHECK(f.call("DELETE", "/fleet/v1/rollouts/a.service").status == 404);
}
