// /fleet/v1/units: create/replace/desired-state rules, views and current state.

#include <doctest/doctest.h>

#include <cstdio>

#include "api/server/api_test_fixture.h"

using namespace fleet::api::server;
using namespace fleet::api::server::testing;

namespace {
const std::string kHello =
    R"([{"section":"Unit","name":"Description","value":"Hello"},)"
    R"({"section":"Service","name":"ExecStart","value":"/bin/sh -c 'echo hi'"}])";
}

TEST_CASE("create then get a unit, byte for byte") {
  ApiFixture f;
  auto r = f.put_json("/fleet/v1/units/hello.service",
                      R"({"name":"hello.service","options":)" + kHello + "}");
  CHECK(r.status == 201);
  CHECK(r.body.empty());
  auto g = f.get("/fleet/v1/units/hello.service");
  CHECK(g.status == 200);
  CHECK(*g.header("Content-Type") == "application/json");
  CHECK(g.body == R"({"currentState":"inactive","desiredState":"inactive","name":"hello.service",)"
                  R"("options":[{"name":"Description","section":"Unit","value":"Hello"},)"
                  R"({"name":"ExecStart","section":"Service","value":"/bin/sh -c 'echo hi'"}]})");
  // Served again from the content cache: same answer.
  CHECK(f.get("/fleet/v1/units/hello.service").body == g.body);
  CHECK(f.ctx.contents.size() == 1);
}

TEST_CASE("the stored content is the canonical unit text") {
  ApiFixture f;
  f.create("hello.service", "", kHello);
  auto u = run_sync(f.io, f.reg.get_unit("hello.service"));
  REQUIRE(u);
  REQUIRE(u.value());
  auto content = run_sync(f.io, f.reg.get_content(u.value()->hash));
  REQUIRE(content);
  CHECK(content.value() ==
        "[Unit]\nDescription=Hello\n\n[Service]\nExecStart=/bin/sh -c 'echo hi'\n");
}

TEST_CASE("create takes the desired state from the body, inactive by default") {
  ApiFixture f;
  f.create("a.service");
  f.create("b.service", "launched");
  CHECK(body_json(f.get("/fleet/v1/units/a.service"))["desiredState"] == "inactive");
  CHECK(body_json(f.get("/fleet/v1/units/b.service"))["desiredState"] == "launched");
}

TEST_CASE("PUT errors carry fleet's status codes and messages") {
  ApiFixture f;
  auto check = [&](const std::string& name, const std::string& body, int code,
                   const std::string& msg) {
    auto r = f.put_json("/fleet/v1/units/" + name, body);
    CAPTURE(body);
    CHECK(r.status == code);
    CHECK(r.body == error_body(code, msg));
  };
  check("a.service", R"({"desiredState":"launched"})", 409,
        "unit does not exist and options field empty");
  check("a.service", R"({"name":"b.service","options":)" + kHello + "}", 400,
        R"(name in URL "a.service" differs from unit name in request body "b.service")");
  check("foo", R"({"options":)" + kHello + "}", 400, R"(unit name must contain ".")");
  check("foo.servICE", R"({"options":)" + kHello + "}", 400, R"(invalid unit type: "servICE")");
  check("a.service", R"({"desiredState":"running","options":)" + kHello + "}", 400,
        R"(invalid value "running" for JobState)");
  check("a.service",
        R"({"options":[{"section":"X-Fleet","name":"MachineID","value":"m1"},)"
        R"({"section":"X-Fleet","name":"Global","value":"true"}]})",
        400, "MachineID cannot be used with Global");
  CHECK(f.get("/fleet/v1/units").body == "{}");

  f.create("a.service");
  check("a.service", "{}", 409, "must provide DesiredState to update existing unit");
  check("a.service", R"({"options":)" + kHello + R"(,"desiredState":"bogus"})", 400,
        R"(invalid value "bogus" for JobState)");
  check("a.service", R"({"desiredState":"bogus"})", 400, R"(invalid value "bogus" for JobState)");
  // The bad requests changed nothing.
  CHECK(body_json(f.get("/fleet/v1/units/a.service"))["desiredState"] == "inactive");
}

TEST_CASE("options that would change meaning as unit-file text are refused, nothing stored") {
  ApiFixture f;
  const std::string tail =
      ") would change meaning as unit-file text: line breaks, \"]\" in section names, \"=\" in "
      "option names and a trailing \"\\\" are not allowed";
  struct Row {
    const char* why;
    std::string options;
    std::string message;
  };
  const std::vector<Row> rows = {
      {"a newline in a value injects Global and MachineID (refused when given directly)",
       R"([{"section":"X-Fleet","name":"MachineID","value":"m1\nGlobal=true"}])",
       "option 1 (section \"X-Fleet\", name \"MachineID\"" + tail},
      {"a ']' in a section name opens another section",
       R"([{"section":"Service]\n[X-Fleet","name":"Global","value":"true"}])",
       "option 1 (section \"Service]\\n[X-Fleet\", name \"Global\"" + tail},
      {"a trailing backslash swallows the next option",
       R"([{"section":"Service","name":"ExecStart","value":"/bin/true \\"},)"
       R"({"section":"Service","name":"User","value":"nobody"}])",
       "option 1 (section \"Service\", name \"ExecStart\"" + tail},
      {"a '=' in an option name splits it",
       R"([{"section":"X-Fleet","name":"Global=true\nMachineID","value":"m1"}])",
       "option 1 (section \"X-Fleet\", name \"Global=true\\nMachineID\"" + tail},
  };
  for (const auto& r : rows) {
    CAPTURE(r.why);
    auto res = f.put_json("/fleet/v1/units/a.service", R"({"options":)" + r.options + "}");
    CHECK(res.status == 400);
    CHECK(res.body == error_body(400, r.message));
  }
  CHECK(f.get("/fleet/v1/units").body == "{}");
  // White space the parser trims at a value's ends is not a change of meaning.
  auto ok =
      f.put_json("/fleet/v1/units/a.service",
                 R"({"options":[{"section":"Service","name":"ExecStart","value":" /bin/true "}]})");
  CHECK(ok.status == 201);
}

TEST_CASE("PUT with only a desired state updates an existing unit (204)") {
  ApiFixture f;
  f.create("a.service");
  for (auto s : {"launched", "loaded", "inactive", "launched"}) {
    auto r =
        f.put_json("/fleet/v1/units/a.service", std::string(R"({"desiredState":")") + s + "\"}");
    CHECK(r.status == 204);
    CHECK(r.body.empty());
    CHECK(body_json(f.get("/fleet/v1/units/a.service"))["desiredState"] == s);
  }
  // Same options as stored + desired state: an update, not a replace.
  auto same = f.put_json(
      "/fleet/v1/units/a.service",
      R"({"desiredState":"loaded","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"}]})");
  CHECK(same.status == 204);
  // Same options without a desired state is still "nothing to do" for fleet: 409.
  auto none =
      f.put_json("/fleet/v1/units/a.service",
                 R"({"options":[{"section":"Service","name":"ExecStart","value":"/bin/true"}]})");
  CHECK(none.status == 409);
}

TEST_CASE("PUT with different options replaces the unit (201) and validates them") {
  ApiFixture f;
  f.create("a.service", "launched");
  auto r = f.put_json("/fleet/v1/units/a.service", R"({"options":)" + kHello + "}");
  CHECK(r.status == 201);
  auto u = body_json(f.get("/fleet/v1/units/a.service"));
  CHECK(u["options"].size() == 2);
  CHECK(u["desiredState"] == "inactive");  // reset to the body's value or inactive
  auto r2 = f.put_json(
      "/fleet/v1/units/a.service",
      R"({"desiredState":"loaded","options":[{"section":"Service","name":"ExecStart","value":"/bin/false"}]})");
  CHECK(r2.status == 201);
  CHECK(body_json(f.get("/fleet/v1/units/a.service"))["desiredState"] == "loaded");
  // fleet skipped validation here; we do not.
  auto bad =
      f.put_json("/fleet/v1/units/a.service",
                 R"({"options":[{"section":"X-Fleet","name":"MachineOf","value":"b.service"},)"
                 R"({"section":"X-Fleet","name":"Conflicts","value":"b.*"}]})");
  CHECK(bad.status == 400);
  CHECK(bad.body ==
        error_body(400, R"(unresolvable requirements: peer "b.service" matches conflict "b.*")"));
}

TEST_CASE("templates can be submitted but never activated") {
  ApiFixture f;
  auto r = f.put_json("/fleet/v1/units/hello@.service", R"({"options":)" + kHello + "}");
  CHECK(r.status == 201);
  for (auto s : {"loaded", "launched"}) {
    auto a = f.put_json("/fleet/v1/units/hello@.service",
                        std::string(R"({"desiredState":")") + s + "\"}");
    CHECK(a.status == 400);
    CHECK(a.body == error_body(400, R"(cannot activate template "hello@.service")"));
  }
  CHECK(f.put_json("/fleet/v1/units/hello@.service", R"({"desiredState":"inactive"})").status ==
        204);
  auto create = f.put_json("/fleet/v1/units/other@.service",
                           R"({"desiredState":"launched","options":)" + kHello + "}");
  CHECK(create.status == 400);
  // Instances are ordinary units.
  CHECK(f.put_json("/fleet/v1/units/hello@1.service",
                   R"({"desiredState":"launched","options":)" + kHello + "}")
            .status == 201);
}

TEST_CASE("DELETE destroys a unit once") {
  ApiFixture f;
  f.create("a.service");
  auto d = f.call("DELETE", "/fleet/v1/units/a.service");
  CHECK(d.status == 204);
  CHECK(d.body.empty());
  auto again = f.call("DELETE", "/fleet/v1/units/a.service");
  CHECK(again.status == 404);
  CHECK(again.body == error_body(404, "unit does not exist"));
  CHECK(f.get("/fleet/v1/units/a.service").body == error_body(404, "unit does not exist"));
}

TEST_CASE("batchUpdate sets many desired states and judges each unit as its PUT would") {
  ApiFixture f;
  for (auto n : {"a.service", "b.service", "c.service", "d.service", "e.service"}) f.create(n);
  f.create("t@.service");
  auto r = f.call("POST", "/fleet/v1/units:batchUpdate",
                  R"({"units":[{"name":"a.service","desiredState":"launched"},)"
                  R"({"name":"b.service","desiredState":"loaded"},)"
                  R"({"name":"c.service","desiredState":"inactive"},)"
                  R"({"name":"nope.service","desiredState":"launched"},)"
                  R"({"name":"d.service","desiredState":"running"},)"
                  R"({"name":"e.service"},)"
                  R"({"name":"t@.service","desiredState":"launched"},)"
                  R"({"name":"bad name","desiredState":"launched"}]})",
                  kJson);
  REQUIRE(r.status == 200);
  auto results = fleet::api::decode_batch_results(r.body);
  REQUIRE(results);
  const auto& rs = results.value().results;
  REQUIRE(rs.size() == 8);
  CHECK(rs[0] == fleet::api::BatchResult{"a.service", 204, ""});
  CHECK(rs[1] == fleet::api::BatchResult{"b.service", 204, ""});
  CHECK(rs[2] == fleet::api::BatchResult{"c.service", 204, ""});
  CHECK(rs[3] == fleet::api::BatchResult{"nope.service", 404, "unit does not exist"});
  CHECK(rs[4] ==
        fleet::api::BatchResult{"d.service", 400, R"(invalid value "running" for JobState)"});
  CHECK(rs[5] == fleet::api::BatchResult{"e.service", 409,
                                         "must provide DesiredState to update existing unit"});
  CHECK(rs[6] ==
        fleet::api::BatchResult{"t@.service", 400, R"(cannot activate template "t@.service")"});
  CHECK(rs[7].code == 400);
  CHECK(body_json(f.get("/fleet/v1/units/a.service"))["desiredState"] == "launched");
  CHECK(body_json(f.get("/fleet/v1/units/b.service"))["desiredState"] == "loaded");
  CHECK(body_json(f.get("/fleet/v1/units/c.service"))["desiredState"] == "inactive");
  CHECK(body_json(f.get("/fleet/v1/units/t@.service"))["desiredState"] == "inactive");
}

TEST_CASE("batchCreate creates many units with their desired states, judged as their PUTs") {
  ApiFixture f;
  f.create("taken.service");
  const std::string opts = R"("options":)" + kHello;
  auto r = f.call("POST", "/fleet/v1/units:batchCreate",
                  R"({"units":[{"name":"a.service","desiredState":"launched",)" + opts + "}," +
                      R"({"name":"b.service",)" + opts + "}," + R"({"name":"taken.service",)" +
                      opts + "}," + R"({"name":"c.service","desiredState":"running",)" + opts +
                      "}," + R"({"name":"t@.service","desiredState":"launched",)" + opts + "}," +
                      R"({"name":"d.service","desiredState":"loaded"},)" +
                      R"({"name":"bad name",)" + opts + "}]}",
                  kJson);
  REQUIRE(r.status == 200);
  auto results = fleet::api::decode_batch_results(r.body);
  REQUIRE(results);
  const auto& rs = results.value().results;
  REQUIRE(rs.size() == 7);
  CHECK(rs[0] == fleet::api::BatchResult{"a.service", 201, ""});
  CHECK(rs[1] == fleet::api::BatchResult{"b.service", 201, ""});
  CHECK(rs[2] ==
        fleet::api::BatchResult{"taken.service", 409, "unit taken.service already exists"});
  CHECK(rs[3] ==
        fleet::api::BatchResult{"c.service", 400, R"(invalid value "running" for JobState)"});
  CHECK(rs[4] ==
        fleet::api::BatchResult{"t@.service", 400, R"(cannot activate template "t@.service")"});
  CHECK(rs[5] ==
        fleet::api::BatchResult{"d.service", 409, "unit does not exist and options field empty"});
  CHECK(rs[6].code == 400);
  auto a = f.get("/fleet/v1/units/a.service");
  CHECK(body_json(a)["desiredState"] == "launched");
  CHECK(a.body.find(R"("value":"Hello")") != std::string::npos);
  CHECK(body_json(f.get("/fleet/v1/units/b.service"))["desiredState"] == "inactive");
  for (auto n : {"c.service", "t@.service", "d.service"})
    CHECK(f.get(std::string("/fleet/v1/units/") + n).status == 404);
}

TEST_CASE("batchDelete destroys many units and reports the unknown ones") {
  ApiFixture f;
  for (auto n : {"a.service", "b.service"}) f.create(n, "launched");
  auto r = f.call(
      "POST", "/fleet/v1/units:batchDelete",
      R"({"units":[{"name":"a.service"},{"name":"nope.service"},{"name":"b.service"}]})", kJson);
  REQUIRE(r.status == 200);
  auto results = fleet::api::decode_batch_results(r.body);
  REQUIRE(results);
  const auto& rs = results.value().results;
  REQUIRE(rs.size() == 3);
  CHECK(rs[0] == fleet::api::BatchResult{"a.service", 204, ""});
  CHECK(rs[1] == fleet::api::BatchResult{"nope.service", 404, "unit does not exist"});
  CHECK(rs[2] == fleet::api::BatchResult{"b.service", 204, ""});
  CHECK(f.get("/fleet/v1/units/a.service").status == 404);
  CHECK(f.get("/fleet/v1/units/b.service").status == 404);
}

TEST_CASE("a batch naming a unit twice is refused whole, naming the unit") {
  ApiFixture f;
  f.create("a.service", "loaded");
  f.create("b.service", "loaded");
  auto update = f.call("POST", "/fleet/v1/units:batchUpdate",
                       R"({"units":[{"name":"b.service","desiredState":"launched"},)"
                       R"({"name":"a.service","desiredState":"launched"},)"
                       R"({"name":"a.service","desiredState":"inactive"}]})",
                       kJson);
  CHECK(update.status == 400);
  CHECK(update.body ==
        error_body(400, R"(unit "a.service" appears more than once in the request)"));
  auto del = f.call("POST", "/fleet/v1/units:batchDelete",
                    R"({"units":[{"name":"b.service"},{"name":"a.service"},{"name":"b.service"}]})",
                    kJson);
  CHECK(del.status == 400);
  CHECK(del.body == error_body(400, R"(unit "b.service" appears more than once in the request)"));
  // Nothing was applied.
  CHECK(body_json(f.get("/fleet/v1/units/a.service"))["desiredState"] == "loaded");
  CHECK(body_json(f.get("/fleet/v1/units/b.service"))["desiredState"] == "loaded");
}

TEST_CASE("batch requests: POST with a JSON body only, and bounded") {
  ApiFixture f;
  f.create("a.service");
  for (auto path : {"/fleet/v1/units:batchUpdate", "/fleet/v1/units:batchDelete",
                    "/fleet/v1/units:batchCreate"}) {
    CAPTURE(path);
    auto get = f.call("GET", path);
    CHECK(get.status == 405);
    CHECK(get.body == error_body(405, "only POST supported against this resource"));
    CHECK(f.call("POST", path, R"({"units":[]})").status == 415);
    auto garbage = f.call("POST", path, "{units", kJson);
    CHECK(garbage.status == 400);
    CHECK(f.call("POST", path, R"({"units":{"name":"a.service"}})", kJson).status == 400);
    std::string many = R"({"units":[)";
    for (int i = 0; i <= 10000; ++i) many += std::string(i ? "," : "") + R"({"name":"a.service"})";
    auto big = f.call("POST", path, many + "]}", kJson);
    CHECK(big.status == 400);
    CHECK(big.body == error_body(400, "at most 10000 units in one request"));
    auto empty = f.call("POST", path, R"({})", kJson);
    CHECK(empty.status == 200);
    CHECK(empty.body == R"({"results":[]})");
  }
  CHECK(f.get("/fleet/v1/units/a.service").status == 200);  // nothing was deleted on the way
}

TEST_CASE("current state and machine derive from the schedule and reported state") {
  ApiFixture f;
  f.create("a.service", "launched");
  SUBCASE("unscheduled: inactive, no machine, the engine's reason") {
    f.reason("a.service", "no machine satisfies MachineMetadata");
    auto u = body_json(f.get("/fleet/v1/units/a.service"));
    CHECK(u["currentState"] == "inactive");
    CHECK_FALSE(u.contains("machineID"));
    CHECK(u["reason"] == "no machine satisfies MachineMetadata");
  }
  SUBCASE("scheduled but not reported yet: inactive on that machine") {
    f.schedule("a.service", "m1");
    auto u = body_json(f.get("/fleet/v1/units/a.service"));
    CHECK(u["currentState"] == "inactive");
    CHECK(u["machineID"] == "m1");
  }
  SUBCASE("reported by the scheduled machine: launched") {
    f.schedule("a.service", "m1");
    f.report("a.service", "m1");
    CHECK(body_json(f.get("/fleet/v1/units/a.service"))["currentState"] == "launched");
    f.put_json("/fleet/v1/units/a.service", R"({"desiredState":"loaded"})");
    // Still running until its machine reports systemd stopped it (fleetctl stop/restart wait).
    CHECK(body_json(f.get("/fleet/v1/units/a.service"))["currentState"] == "launched");
    f.report("a.service", "m1", "deactivating", "stop-sigterm");
    CHECK(body_json(f.get("/fleet/v1/units/a.service"))["currentState"] == "launched");
    f.report("a.service", "m1", "inactive", "dead");
    CHECK(body_json(f.get("/fleet/v1/units/a.service"))["currentState"] == "loaded");
    f.report("a.service", "m1", "failed", "failed");
    CHECK(body_json(f.get("/fleet/v1/units/a.service"))["currentState"] == "loaded");
  }
  SUBCASE("loaded and never started: loaded") {
    f.put_json("/fleet/v1/units/a.service", R"({"desiredState":"loaded"})");
    f.schedule("a.service", "m1");
    f.report("a.service", "m1", "inactive", "dead");
    CHECK(body_json(f.get("/fleet/v1/units/a.service"))["currentState"] == "loaded");
  }
  SUBCASE("reported only by another machine: inactive") {
    f.schedule("a.service", "m1");
    f.report("a.service", "m2");
    CHECK(body_json(f.get("/fleet/v1/units/a.service"))["currentState"] == "inactive");
  }
  SUBCASE("the list agrees with GET") {
    f.schedule("a.service", "m1");
    f.report("a.service", "m1");
    auto list = body_json(f.get("/fleet/v1/units"));
    CHECK(list["units"][0] == body_json(f.get("/fleet/v1/units/a.service")));
  }
}

TEST_CASE("global units have no current state or machine, in lists and GET alike") {
  ApiFixture f;
  f.create("g.service", "launched",
           R"([{"section":"Service","name":"ExecStart","value":"/bin/true"},)"
           R"({"section":"X-Fleet","name":"Global","value":"true"}])");
  f.report("g.service", "m1");
  auto one = body_json(f.get("/fleet/v1/units/g.service"));
  CHECK_FALSE(one.contains("currentState"));
  CHECK_FALSE(one.contains("machineID"));
  auto list = body_json(f.get("/fleet/v1/units"));
  CHECK(list["units"][0] == one);
}

TEST_CASE("the unit list is sorted by name with an empty page as {}") {
  ApiFixture f;
  CHECK(f.get("/fleet/v1/units").body == "{}");
  for (auto n : {"c.service", "a.service", "b.socket"}) f.create(n);
  auto list = body_json(f.get("/fleet/v1/units"));
  REQUIRE(list["units"].size() == 3);
  CHECK(list["units"][0]["name"] == "a.service");
  CHECK(list["units"][1]["name"] == "b.socket");
  CHECK(list["units"][2]["name"] == "c.service");
  CHECK_FALSE(list.contains("nextPageToken"));
}

TEST_CASE("the basic view lists units without options, with hash, Global flag and description") {
  ApiFixture f;
  f.create("hello.service", "launched",
           R"([{"section":"Unit","name":"Description","value":"Hello \"you\""},)"
           R"({"section":"Service","name":"ExecStart","value":"/bin/true"}])");
  f.create("every.service", "launched",
           R"([{"section":"Service","name":"ExecStart","value":"/bin/true"},)"
           R"({"section":"X-Fleet","name":"Global","value":"true"}])");
  f.create("idle.service");
  f.schedule("hello.service", "m1");
  f.report("hello.service", "m1");
  f.reason("idle.service", "no machines");
  auto snap = run_sync(f.io, f.reg.units_snapshot(std::nullopt));
  REQUIRE(snap);
  std::map<std::string, std::string> hashes;
  for (const auto& u : snap.value().units) hashes[u.name] = u.hash;

  auto basic = f.get("/fleet/v1/units?view=basic");
  REQUIRE(basic.status == 200);
  CHECK(basic.body ==
        R"({"units":[{"desiredState":"launched","global":true,"hash":")" + hashes["every.service"] +
            R"(","name":"every.service"},{"currentState":"launched","description":"Hello \"you\"",)"
            R"("desiredState":"launched","global":false,"hash":")" +
            hashes["hello.service"] +
            R"(","machineID":"m1","name":"hello.service"},{"currentState":"inactive",)"
            R"("desiredState":"inactive","global":false,"hash":")" +
            hashes["idle.service"] + R"(","name":"idle.service","reason":"no machines"}]})");
  // Everything else as in fleet's view, which stays the default and is also asked by name.
  auto full = body_json(f.get("/fleet/v1/units"));
  CHECK(body_json(f.get("/fleet/v1/units?view=full")) == full);
  auto b = body_json(basic);
  REQUIRE(b["units"].size() == full["units"].size());
  for (std::size_t i = 0; i < full["units"].size(); ++i) {
    auto u = full["units"][i];
    CHECK(u.contains("options"));
    u.erase("options");
    auto v = b["units"][i];
    for (const char* k : {"hash", "global", "description"}) v.erase(k);
    CHECK(v == u);
  }
  // A unit whose content cannot be read: its hash, not global, no description.
  fleet::registry::UnitRecord ghost{"ghost.service", std::string(40, '0'),
                                    fleet::registry::TargetState::inactive};
  f.put(f.reg.keys().unit(ghost.name), fleet::registry::encode(ghost));
  auto g = body_json(f.get("/fleet/v1/units?view=basic"))["units"][1];
  CHECK(g["name"] == "ghost.service");
  CHECK(g["hash"] == ghost.hash);
  CHECK(g["global"] == false);
  CHECK_FALSE(g.contains("description"));
  CHECK_FALSE(g.contains("options"));
  // Every page of a listing in the view asked for.
  f.ctx.options.token_limit = 2;
  auto p1 = body_json(f.get("/fleet/v1/units?view=basic"));
  REQUIRE(p1["units"].size() == 2);
  const std::string token = p1["nextPageToken"];
  auto p2 = body_json(f.get("/fleet/v1/units?view=basic&nextPageToken=" + token));
  REQUIRE(p2["units"].size() == 2);
  CHECK(p2["units"][0]["name"] == "hello.service");
  CHECK(p2["units"][0]["hash"] == hashes["hello.service"]);
  CHECK_FALSE(p2["units"][0].contains("options"));
  CHECK(body_json(f.get("/fleet/v1/units?nextPageToken=" + token))["units"][0].contains("options"));
  // A view fleetd does not know is refused, as is a second one.
  auto bad = f.get("/fleet/v1/units?view=compact");
  CHECK(bad.status == 400);
  CHECK(bad.body ==
        R"({"error":{"code":400,"message":"view must be basic or full, not \"compact\""}})");
  CHECK(f.get("/fleet/v1/units?view=").status == 400);
  CHECK(f.get("/fleet/v1/units?view=basic&view=full").status == 400);
}

TEST_CASE("a listing of more contents than fleetd caches shows every unit's options") {
  ApiFixture f;
  f.ctx.contents = ContentCache(4);  // cleared whenever full, while a page loads its contents
  for (int i = 0; i < 10; ++i)
    f.create("u" + std::to_string(i) + ".service", "",
             R"([{"section":"Service","name":"ExecStart","value":"/bin/sleep )" +
                 std::to_string(100 + i) + R"("}])");
  for (int round = 0; round < 2; ++round) {  // cold cache, then one holding the last few
    auto list = body_json(f.get("/fleet/v1/units"));
    REQUIRE(list["units"].size() == 10);
    for (int i = 0; i < 10; ++i) {
      CAPTURE(i);
      CHECK(list["units"][i]["options"][0]["value"] == "/bin/sleep " + std::to_string(100 + i));
    }
    auto basic = body_json(f.get("/fleet/v1/units?view=basic"));
    for (const auto& u : basic["units"]) CHECK(u["global"] == false);
  }
}

TEST_CASE("percent-encoded unit names are decoded") {
  ApiFixture f;
  CHECK(f.put_json("/fleet/v1/units/hello%401.service", R"({"options":)" + kHello + "}").status ==
        201);
  CHECK(body_json(f.get("/fleet/v1/units/hello@1.service"))["name"] == "hello@1.service");
}

TEST_CASE("later pages of a listing come from the snapshot its first page read") {
  ApiFixture f;
  f.ctx.options.token_limit = 100;  // fleet's page size: several pages of 150 units
  char name[32];
  for (int i = 0; i < 150; ++i) {
    std::snprintf(name, sizeof name, "u%03d.service", i);
    f.create(name);
  }
  auto first = body_json(f.get("/fleet/v1/units"));
  REQUIRE(first["units"].size() == 100);
  const std::string token = first["nextPageToken"];
  f.create("zzz.service");  // after page 1: not part of this listing
  auto second = body_json(f.get("/fleet/v1/units?nextPageToken=" + token));
  CHECK(second["units"].size() == 50);
  // A new listing starts with a fresh read.
  REQUIRE(body_json(f.get("/fleet/v1/units"))["units"].size() == 100);
  CHECK(body_json(f.get("/fleet/v1/units?nextPageToken=" + token))["units"].size() == 51);
  // An old snapshot is not reused.
  f.ctx.listing_reuse = std::chrono::milliseconds(0);
  f.create("zzzz.service");
  CHECK(body_json(f.get("/fleet/v1/units?nextPageToken=" + token))["units"].size() == 52);
  // The state listing behaves the same.
  f.ctx.listing_reuse = std::chrono::seconds(5);
  for (int i = 0; i < 120; ++i) {
    std::snprintf(name, sizeof name, "u%03d.service", i);
    f.report(name, "m1");
  }
  auto states = body_json(f.get("/fleet/v1/state"));
  REQUIRE(states["states"].size() == 100);
  f.report("zzz.service", "m1");
  CHECK(body_json(f.get("/fleet/v1/state?nextPageToken=" +
                        std::string(states["nextPageToken"])))["states"]
            .size() == 20);
}
