// GET /healthz, GET /readyz, and /metrics as Prometheus' own linter sees it.

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "api/server/api_test_fixture.h"
#include "common/testing/temp_dir.h"

using namespace fleet::api::server;
using namespace fleet::api::server::testing;

TEST_CASE("healthz answers while the registry is down and fleetd is not registered") {
  ApiFixture f;
  f.ctx.available = [] { return false; };
  f.kv.set_available(false);
  auto r = f.get("/healthz");
  CHECK(r.status == 200);
  CHECK(r.body == "ok\n");
  CHECK(f.call("POST", "/healthz").status == 405);
  // Everything else is refused while not registered.
  CHECK(f.get("/fleet/v1/units").status == 503);
}

TEST_CASE("readyz: registry reachable, machine registered, local checks pass") {
  ApiFixture f;
  f.ctx.machine_id = "m1";
  bool agent_ok = false;
  f.ctx.readiness = [&] {
    std::vector<ReadinessCheck> c;
    if (agent_ok) {
      c.push_back({"agent", true});
    } else {
      c.push_back({"agent", false, "first reconcile pass not done"});
    }
    return c;
  };
  auto r = f.get("/readyz");
  CHECK(r.status == 503);
  CHECK(r.body ==
        "[+]registry ok\n[-]machine: machine m1 is not registered\n"
        "[-]agent: first reconcile pass not done\nnot ready\n");
  f.machine("m1", "10.0.0.1");
  agent_ok = true;
  r = f.get("/readyz");
  CHECK(r.status == 200);
  CHECK(r.body == "[+]registry ok\n[+]machine ok\n[+]agent ok\nready\n");
  f.kv.set_available(false);
  r = f.get("/readyz");
  CHECK(r.status == 503);
  CHECK(r.body.rfind("[-]registry: ", 0) == 0);
  CHECK(f.get("/healthz").status == 200);
}

TEST_CASE("metrics pass promtool check metrics") {
  ApiFixture f;
  f.create("a.service", "launched");
  f.machine("m1", "10.0.0.1");
  f.report("a.service", "m1");
  f.get("/fleet/v1/units");
  f.get("/fleet/v1/units/a.service");
  f.get("/nope");
  auto r = f.get("/metrics");
  REQUIRE(r.status == 200);
  CHECK(r.body.find("fleet_unit_states{active_state=\"active\"} 1\n") != std::string::npos);
  CHECK(r.body.find("fleet_build_info{version=\"test\"} 1\n") != std::string::npos);
  CHECK(r.body.find("process_resident_memory_bytes ") != std::string::npos);
  fleet::testing::TempDir dir;
  const auto file = dir.path / "metrics.txt";
  std::ofstream(file) << r.body;
  const std::string cmd = "promtool check metrics < '" + file.string() + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::string out;
  char buf[512];
  while (auto n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int rc = pclose(p);
  INFO("promtool said: " << out);
  CHECK(rc == 0);
  CHECK(out.empty());
}
