// /state, /machines (GET, PATCH), /metrics and our /units/<name>/status and /journal.

#include <doctest/doctest.h>

#include "api/server/api_test_fixture.h"

using namespace fleet::api::server;
using namespace fleet::api::server::testing;

TEST_CASE("unit states: sorted, filtered, byte for byte") {
  ApiFixture f;
  CHECK(f.get("/fleet/v1/state").body == "{}");
  f.report("b.service", "m2", "inactive", "dead");
  f.report("a.service", "m2");
  f.report("a.service", "m1");
  auto all = body_json(f.get("/fleet/v1/state"));
  REQUIRE(all["states"].size() == 3);
  CHECK(all["states"][0]["name"] == "a.service");
  CHECK(all["states"][0]["machineID"] == "m1");
  CHECK(all["states"][1]["machineID"] == "m2");
  CHECK(all["states"][2]["name"] == "b.service");
  CHECK(all["states"][2].dump() ==
        R"({"hash":"abc123","machineID":"m2","name":"b.service","systemdActiveState":"inactive",)"
        R"("systemdLoadState":"loaded","systemdSubState":"dead"})");
  auto m2 = body_json(f.get("/fleet/v1/state?machineID=m2"));
  CHECK(m2["states"].size() == 2);
  auto a = body_json(f.get("/fleet/v1/state?unitName=a.service&machineID=m2"));
  REQUIRE(a["states"].size() == 1);
  CHECK(a["states"][0]["machineID"] == "m2");
  // The first value of a repeated parameter is used.
  CHECK(
      body_json(f.get("/fleet/v1/state?unitName=b.service&unitName=a.service"))["states"].size() ==
      1);
  CHECK(f.get("/fleet/v1/state?machineID=nope").body == "{}");
}

TEST_CASE("unit states page like the other collections") {
  ApiFixture f;
  f.ctx.options.token_limit = 2;
  for (auto m : {"m1", "m2", "m3"}) f.report("a.service", m);
  auto p1 = body_json(f.get("/fleet/v1/state"));
  CHECK(p1["states"].size() == 2);
  auto p2 =
      body_json(f.get("/fleet/v1/state?nextPageToken=" + p1["nextPageToken"].get<std::string>()));
  REQUIRE(p2["states"].size() == 1);
  CHECK(p2["states"][0]["machineID"] == "m3");
}

TEST_CASE("GET /state/<name>: the first state, 404 when there is none (fleet panicked)") {
  ApiFixture f;
  f.report("a.service", "m2");
  f.report("a.service", "m1");
  auto r = f.get("/fleet/v1/state/a.service");
  CHECK(r.status == 200);
  CHECK(body_json(r)["machineID"] == "m1");
  auto missing = f.get("/fleet/v1/state/zzz.service");
  CHECK(missing.status == 404);
  CHECK(missing.body == error_body(404, "unit state does not exist"));
  // A unit whose name is a prefix of another's does not see the other's state.
  f.report("ab.service", "m1");
  CHECK(f.get("/fleet/v1/state/ab").status == 404);
}

TEST_CASE("machines: sorted by ID with merged metadata, empty page as {}") {
  ApiFixture f;
  CHECK(f.get("/fleet/v1/machines").body == "{}");
  f.machine("m2", "10.0.0.2", {{"region", "eu"}});
  f.machine("m1", "10.0.0.1");
  auto r = f.get("/fleet/v1/machines");
  CHECK(r.status == 200);
  CHECK(r.body ==
        R"({"machines":[{"id":"m1","primaryIP":"10.0.0.1","version":"1.2.3"},)"
        R"({"id":"m2","metadata":{"region":"eu"},"primaryIP":"10.0.0.2","version":"1.2.3"}]})");
}

TEST_CASE("PATCH machines sets and removes dynamic metadata (204)") {
  ApiFixture f;
  f.machine("m1", "10.0.0.1", {{"region", "eu"}, {"disk", "ssd"}});
  auto r = f.call("PATCH", "/fleet/v1/machines",
                  R"([{"op":"add","path":"/m1/metadata/role","value":{"value":"web"}},)"
                  R"({"op":"replace","path":"/m1/metadata/region","value":{"value":"us"}},)"
                  R"({"op":"remove","path":"/m1/metadata/disk"},)"
                  R"({"op":"add","path":"/m9/metadata/x.y-z_1","value":{"value":"later"}}])");
  CHECK(r.status == 204);
  CHECK(r.body.empty());
  CHECK(*r.header("Content-Type") == "application/json");
  auto m = body_json(f.get("/fleet/v1/machines"))["machines"][0];
  CHECK(m["metadata"] == nlohmann::json{{"region", "us"}, {"role", "web"}});
  // Metadata for a machine that has not joined yet applies when it does.
  f.machine("m9", "10.0.0.9");
  CHECK(body_json(f.get("/fleet/v1/machines"))["machines"][1]["metadata"]["x.y-z_1"] == "later");
}

TEST_CASE("POST machines/<id>:cordon, :drain and :uncordon keep a machine's maintenance state") {
  ApiFixture f;
  f.machine("m1", "10.0.0.1");
  f.machine("m2", "10.0.0.2");
  auto maintenance = [&](int i) {
    auto m = body_json(f.get("/fleet/v1/machines"))["machines"][i];
    return m.contains("maintenance") ? m["maintenance"].get<std::string>() : std::string("-");
  };
  auto r = f.call("POST", "/fleet/v1/machines/m1:cordon");
  CHECK(r.status == 204);
  CHECK(maintenance(0) == "cordoned");
  CHECK(maintenance(1) == "-");
  CHECK(f.call("POST", "/fleet/v1/machines/m2:drain", R"({"force":true})").status == 204);
  CHECK(maintenance(1) == "draining");
  CHECK(f.call("POST", "/fleet/v1/machines/m1:uncordon").status == 204);
  CHECK(maintenance(0) == "-");
  // Lifting is idempotent and works for a machine that is gone; setting needs a live one.
  CHECK(f.call("POST", "/fleet/v1/machines/m9:uncordon").status == 204);
  r = f.call("POST", "/fleet/v1/machines/m9:cordon");
  CHECK(r.status == 404);
  CHECK(r.body == error_body(404, "machine does not exist"));
  CHECK(f.call("POST", "/fleet/v1/machines/m1:reboot").status == 404);
  CHECK(f.call("GET", "/fleet/v1/machines/m1:cordon").status == 405);
  r = f.call("POST", "/fleet/v1/machines/m1:drain", R"({"force":"yes"})");
  CHECK(r.status == 400);
  CHECK(maintenance(0) == "-");  // nothing applied
}

TEST_CASE(
    "POST /reboot records a rollout once, /reboot:lock, :unlock, :setMax keep the semaphore") {
  ApiFixture f;
  f.machine("m1", "10.0.0.1");
  f.machine("m2", "10.0.0.2");
  CHECK(f.get("/fleet/v1/reboot").body == R"({"lock":{"holders":[],"max":1}})");
  auto r = f.call("POST", "/fleet/v1/reboot", R"({"machines":["m2","m1"],"maxUnavailable":2})");
  CHECK(r.status == 201);
  auto status = body_json(f.get("/fleet/v1/reboot"));
  CHECK(status["lock"]["max"] == 2);
  CHECK(status["rollout"]["state"] == "running");
  CHECK(status["rollout"]["hosts"][0]["machine"] == "m2");
  CHECK(status["rollout"]["hosts"][1]["step"] == "pending");
  r = f.call("POST", "/fleet/v1/reboot", R"({"machines":["m1"]})");
  CHECK(r.status == 409);
  CHECK(r.body == error_body(409, "a reboot rollout is in progress"));
  for (const char* bad :
       {R"({"machines":[]})", R"({"machines":["m9"]})", R"({"machines":["m1","m1"]})",
        R"({"machines":["m1"],"maxUnavailable":0})", R"({"machines":["m1"],"maxUnavailable":31})",
        R"([1])"})
    CHECK(f.call("POST", "/fleet/v1/reboot", bad).status == 400);

  CHECK(f.call("POST", "/fleet/v1/reboot:setMax", R"({"max":1})").status == 204);
  CHECK(f.call("POST", "/fleet/v1/reboot:lock", R"({"machine":"m1"})").status == 204);
  CHECK(f.call("POST", "/fleet/v1/reboot:lock", R"({"machine":"m1"})").status == 204);  // holds
  r = f.call("POST", "/fleet/v1/reboot:lock", R"({"machine":"m2"})");
  CHECK(r.status == 409);
  CHECK(r.body == error_body(409, "no reboot slot is free (max 1, 1 held)"));
  CHECK(body_json(f.get("/fleet/v1/reboot"))["lock"]["holders"] == nlohmann::json{"m1"});
  CHECK(f.call("POST", "/fleet/v1/reboot:unlock", R"({"machine":"m2"})").status == 404);
  CHECK(f.call("POST", "/fleet/v1/reboot:unlock", R"({"machine":"m1"})").status == 204);
  CHECK(f.call("POST", "/fleet/v1/reboot:setMax", R"({"max":-1})").status == 400);
  CHECK(f.call("GET", "/fleet/v1/reboot:lock").status == 405);
  CHECK(f.call("POST", "/fleet/v1/reboot:grab", "{}").status == 404);
  CHECK(f.call("DELETE", "/fleet/v1/reboot").status == 405);
}

TEST_CASE("PATCH machines validates every operation before applying any") {
  ApiFixture f;
  f.machine("m1", "10.0.0.1");
  auto check = [&](const std::string& body, const std::string& msg) {
    auto r = f.call("PATCH", "/fleet/v1/machines", body);
    CAPTURE(body);
    CHECK(r.status == 400);
    CHECK(r.body == error_body(400, msg));
  };
  const std::string good = R"({"op":"add","path":"/m1/metadata/a","value":{"value":"1"}},)";
  check("[" + good + R"({"op":"move","path":"/m1/metadata/a","value":{"value":"1"}}])",
        "invalid op: expect add, remove, or replace");
  check("[" + good + R"({"path":"/m1/metadata/a","value":{"value":"1"}}])",
        "invalid op: expect add, remove, or replace");
  for (auto path : {"/m1/metadata/", "m1/metadata/a", "//metadata/a", "/m1/meta/a",
                    "/m1/metadata/a/b", "/m1/metadata/a b", "/m1/metadata/ä"}) {
    check("[" + good + R"({"op":"add","path":")" + path + R"(","value":{"value":"1"}}])",
          "machine metadata path invalid");
  }
  check("[" + good + R"({"op":"add","path":"/m1/metadata/a"}])",
        "invalid value: add and replace require a value");
  check("[" + good + R"({"op":"replace","path":"/m1/metadata/a","value":{"value":""}}])",
        "invalid value: add and replace require a value");
  for (std::string bad : {R"([{"op":"add","path":"/m1/metadata/a","value":"bare"}])", "{}", "",
                          "[1]", R"([{"op":1}])", "not json"}) {
    auto r = f.call("PATCH", "/fleet/v1/machines", bad);
    CAPTURE(bad);
    CHECK(r.status == 400);
    CHECK(body_json(r)["error"]["message"].get<std::string>().rfind("unable to decode body", 0) ==
          0);
  }
  CHECK_FALSE(body_json(f.get("/fleet/v1/machines"))["machines"][0].contains("metadata"));
}

TEST_CASE("metrics: Prometheus text with units by desired state and machines") {
  ApiFixture f;
  f.create("a.service", "launched");
  f.create("b.service");
  f.machine("m1", "10.0.0.1");
  f.metrics.set(fleet::metrics::families::engine_leader, 1);
  auto r = f.get("/metrics");
  CHECK(r.status == 200);
  CHECK(r.header("Content-Type")->rfind("text/plain", 0) == 0);
  CHECK(r.body.find("fleet_units{desired_state=\"launched\"} 1\n") != std::string::npos);
  CHECK(r.body.find("fleet_units{desired_state=\"inactive\"} 1\n") != std::string::npos);
  CHECK(r.body.find("fleet_units{desired_state=\"loaded\"} 0\n") != std::string::npos);
  CHECK(r.body.find("fleet_machines 1\n") != std::string::npos);
  CHECK(r.body.find("fleet_engine_leader 1\n") != std::string::npos);
  CHECK(r.body.find("# TYPE fleet_api_requests_total counter\n") != std::string::npos);
  CHECK(f.call("POST", "/metrics").status == 405);
  f.kv.set_available(false);
  auto down = f.get("/metrics");
  CHECK(down.status == 200);
  CHECK(down.body.find("fleet_api_registry_up 0\n") != std::string::npos);
}

TEST_CASE("status and journal of a unit are asked of its machine") {
  ApiFixture f;
  f.create("a.service", "launched");
  SUBCASE("unknown unit") {
    CHECK(f.get("/fleet/v1/units/x.service/status").body == error_body(404, "unit does not exist"));
    CHECK(f.get("/fleet/v1/units/x.service/journal").status == 404);
  }
  SUBCASE("not scheduled anywhere") {
    CHECK(f.get("/fleet/v1/units/a.service/status").body ==
          error_body(404, "Unit a.service does not appear to be loaded."));
    CHECK(f.get("/fleet/v1/units/a.service/journal").body ==
          error_body(404, "Unit a.service does not appear to be running."));
    CHECK(f.inspector.calls().empty());
  }
  SUBCASE("scheduled: status with the remote exit code") {
    f.schedule("a.service", "m1");
    f.inspector.set_status("a.service", "m1", {"● a.service - dead\n", 3});
    auto r = f.get("/fleet/v1/units/a.service/status");
    CHECK(r.status == 200);
    CHECK(r.body == "● a.service - dead\n");
    CHECK(*r.header("Fleet-Exit-Code") == "3");
    CHECK(*r.header("Fleet-Machine-ID") == "m1");
    CHECK(f.inspector.calls() == std::vector<std::string>{"status a.service m1"});
  }
  SUBCASE("scheduled: journal streams with the requested options") {
    f.schedule("a.service", "m1");
    f.inspector.set_journal("a.service", "m1", {"line 1\n", "line 2\n"});
    auto r = f.get("/fleet/v1/units/a.service/journal?lines=50&follow=true&output=cat");
    CHECK(r.status == 200);
    REQUIRE(r.stream);
    std::string text;
    while (auto piece = run_sync(f.io, r.stream->next()).value()) text += *piece;
    CHECK(text == "line 1\nline 2\n");
    CHECK(f.inspector.calls() ==
          std::vector<std::string>{"journal a.service m1 lines=50 output=cat follow"});
  }
  SUBCASE("journal parameters are validated") {
    f.schedule("a.service", "m1");
    CHECK(f.get("/fleet/v1/units/a.service/journal?lines=-1").body ==
          error_body(400, R"(invalid value "-1" for lines)"));
    CHECK(f.get("/fleet/v1/units/a.service/journal?lines=ten").status == 400);
    CHECK(f.get("/fleet/v1/units/a.service/journal?follow=maybe").body ==
          error_body(400, R"(invalid value "maybe" for follow)"));
    CHECK(f.get("/fleet/v1/units/a.service/journal?output=;rm").status == 400);
    CHECK(f.inspector.calls().empty());
  }
  SUBCASE("inspector failures map to HTTP errors") {
    f.schedule("a.service", "m1");
    f.inspector.set_failure(fleet::Error{fleet::Errc::unavailable, "m1 unreachable"});
    auto r = f.get("/fleet/v1/units/a.service/status");
    CHECK(r.status == 503);
    CHECK(r.body == error_body(503, "m1 unreachable"));
    f.ctx.inspector = nullptr;
    CHECK(f.get("/fleet/v1/units/a.service/status").status == 501);
  }
  SUBCASE("global units need an explicit machine") {
    f.create("g.service", "launched",
             R"([{"section":"Service","name":"ExecStart","value":"/bin/true"},)"
             R"({"section":"X-Fleet","name":"Global","value":"true"}])");
    CHECK(f.get("/fleet/v1/units/g.service/journal").body ==
          error_body(400, "Unable to retrieve journal of global unit g.service."));
    f.machine("m2", "10.0.0.2");
    CHECK(f.get("/fleet/v1/units/g.service/status?machineID=m2").status == 200);
    CHECK(f.inspector.calls() == std::vector<std::string>{"status g.service m2"});
  }
  SUBCASE("an explicit machineID must name a live machine, and the unit must exist") {
    f.schedule("a.service", "m1");
    f.machine("m1", "10.0.0.1");
    f.machine("m2", "10.0.0.2");
    for (std::string route : {"status", "journal"}) {
      CAPTURE(route);
      CHECK(f.get("/fleet/v1/units/x.service/" + route + "?machineID=m1").body ==
            error_body(404, "unit does not exist"));
      CHECK(f.get("/fleet/v1/units/a.service/" + route + "?machineID=m9").body ==
            error_body(404, "machine m9 is not in the cluster"));
      CHECK(f.get("/fleet/v1/units/a.service/" + route + "?machineID=m1%2F..").status == 404);
    }
    CHECK(f.inspector.calls().empty());
    // The unit's machine and any other live one (e.g. where it ran before) are asked.
    CHECK(f.get("/fleet/v1/units/a.service/status?machineID=m1").status == 200);
    CHECK(f.get("/fleet/v1/units/a.service/journal?machineID=m2").status == 200);
    CHECK(f.inspector.calls() ==
          std::vector<std::string>{"status a.service m1",
                                   "journal a.service m2 lines=10 output=short"});
  }
  SUBCASE("only GET") { CHECK(f.call("POST", "/fleet/v1/units/a.service/status").status == 405); }
}
