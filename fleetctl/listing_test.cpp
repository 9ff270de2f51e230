#include <doctest/doctest.h>

#include "fleetctl/test_support.h"

using namespace fleet;
using namespace fleet::fleetctl;
using fleet::fleetctl::testing::Fleetctl;

namespace {

const std::string kM1 = "113f16a7e7c04e0ba8ee3f0ab0a7ab31";
const std::string kM2 = "c31e44e1f6f244d79bd69f8d8a0ab2f1";
const Options kSleep = {{"Service", "ExecStart", "/bin/sleep 100"}};

struct Cluster : Fleetctl {
  Cluster() {
    api.set_converge(api::FakeApiClient::Converge::manual);
    api.add_machine({kM1, "172.17.8.103", {{"region", "us-west"}, {"disk", "ssd"}}, ""});
    api.add_machine({kM2, "", {}, ""});
  }
};

}  // namespace

TEST_CASE("list-machines prints fleet's table") {
  Cluster c;
  auto r = c.run({"list-machines"});
  CHECK(r.code == 0);
  CHECK(r.err == "");
  CHECK(r.out ==
        "MACHINE\t\tIP\t\tMETADATA\n"
        "113f16a7...\t172.17.8.103\tdisk=ssd,region=us-west\n"
        "c31e44e1...\t-\t\t-\n");
}

TEST_CASE("list-machines --full, -l and --l show whole IDs") {
  Cluster c;
  std::string expected =
      "MACHINE\t\t\t\t\tIP\t\tMETADATA\n"
      "113f16a7e7c04e0ba8ee3f0ab0a7ab31\t172.17.8.103\tdisk=ssd,region=us-west\n"
      "c31e44e1f6f244d79bd69f8d8a0ab2f1\t-\t\t-\n";
  CHECK(c.run({"list-machines", "--full"}).out == expected);
  CHECK(c.run({"list-machines", "-l"}).out == expected);
  CHECK(c.run({"list-machines", "--l"}).out == expected);
}

TEST_CASE("list-machines --fields and --no-legend") {
  Cluster c;
  auto r = c.run({"list-machines", "--no-legend", "--fields=ip,machine"});
  CHECK(r.out == "172.17.8.103\t113f16a7...\n-\t\tc31e44e1...\n");
}

TEST_CASE("list-machines --format json prints API machines") {
  Cluster c;
  auto r = c.run({"list-machines", "--format=json"});
  CHECK(r.code == 0);
  CHECK(r.out == "[{\"id\":\"" + kM1 +
                     "\",\"metadata\":{\"disk\":\"ssd\",\"region\":\"us-west\"},\"primaryIP\":"
                     "\"172.17.8.103\"},{\"id\":\"" +
                     kM2 + "\"}]\n");
}

TEST_CASE("list-machines reports an API failure like fleet") {
  Cluster c;
  c.api.set_failure("list_machines", Error{Errc::unavailable, "connection refused"});
  auto r = c.run({"list-machines"});
  CHECK(r.code == 1);
  CHECK(r.out == "");
  // fleetctl never talks to etcd: a connection failure is not blamed on it.
  CHECK(r.err == "Error retrieving list of active machines from fleet API (connection refused)\n");
  c.api.set_failure("list_machines",
                    Error{Errc::unavailable, "googleapi: Error 503: registry unavailable"});
  auto etcd = c.run({"list-machines"});
  CHECK(etcd.err ==
        "Error retrieving list of active machines from fleet API (googleapi: Error 503: "
        "registry unavailable)\n"
        "Possible issues:\n  etcd is unhealthy and/or lost quorum\n"
        "  connection cannot be established to any etcd servers\n");
}

TEST_CASE("bad --fields and --format values are rejected before calling the API") {
  Cluster c;
  auto empty = c.run({"list-units", "--fields="});
  CHECK(empty.code == 1);
  CHECK(empty.err == "Must define output format\n");
  auto bad = c.run({"list-unit-files", "--fields=unit,bogus"});
  CHECK(bad.code == 1);
  CHECK(bad.err == "Invalid key in output format: \"bogus\"\n");
  auto fmt = c.run({"list-machines", "--format=yaml"});
  CHECK(fmt.code == 1);
  CHECK(fmt.err == "Invalid output format \"yaml\": use table or json\n");
}

TEST_CASE("list-units prints one row per unit state") {
  Cluster c;
  c.api.put_unit_state({"hello.service", "1c6fb6f3684bafb0c173d8b8b957ceff031180c1", kM1, "loaded",
                        "active", "running"});
  c.api.put_unit_state({"world.service", "", "deadbeefcafe0000", "loaded", "inactive", "dead"});
  auto r = c.run({"list-units"});
  CHECK(r.code == 0);
  CHECK(r.out ==
        "UNIT\t\tMACHINE\t\t\t\tACTIVE\t\tSUB\n"
        "hello.service\t113f16a7.../172.17.8.103\tactive\t\trunning\n"
        "world.service\tdeadbeef...\t\t\tinactive\tdead\n");
  auto hashes = c.run({"list-units", "--fields=unit,hash,load"});
  CHECK(hashes.out ==
        "UNIT\t\tHASH\tLOAD\nhello.service\t1c6fb6f\tloaded\nworld.service\t-\tloaded\n");
  auto full = c.run({"list-units", "--fields=unit,hash,load", "--full"});
  CHECK(full.out ==
        "UNIT\t\tHASH\t\t\t\t\t\tLOAD\n"
        "hello.service\t1c6fb6f3684bafb0c173d8b8b957ceff031180c1\tloaded\n"
        "world.service\t-\t\t\t\t\t\tloaded\n");
  auto json = c.run({"list-units", "--format", "json"});
  CHECK(json.out.rfind("[{\"hash\":\"1c6fb6f3684bafb0c173d8b8b957ceff031180c1\",\"machineID\":\"" +
                           kM1 + "\",\"name\":\"hello.service\"",
                       0) == 0);
}

TEST_CASE("list-unit-files prints one row per unit") {
  Cluster c;
  c.api.put_unit({"hello.service", kSleep, "launched", "launched", kM1, ""});
  c.api.put_unit({"idle.service", kSleep, "inactive", "inactive", "", ""});
  auto r = c.run({"list-unit-files"});
  CHECK(r.code == 0);
  CHECK(r.out ==
        "UNIT\t\tHASH\tDSTATE\t\tSTATE\t\tTARGET\n"
        "hello.service\t1c6fb6f\tlaunched\tlaunched\t113f16a7.../172.17.8.103\n"
        "idle.service\t1c6fb6f\tinactive\tinactive\t-\n");
  auto names = c.run({"list-unit-files", "--no-legend", "--fields", "unit"});
  CHECK(names.out == "hello.service\nidle.service\n");
}

TEST_CASE("list-unit-files shows global units as global") {
  Cluster c;
  c.api.put_unit({"hello.service", kSleep, "launched", "launched", kM1, ""});
  c.api.put_unit({"global.service",
                  {{"Unit", "Description", "Everywhere"}, {"X-Fleet", "Global", "true"}},
                  "launched",
                  "",
                  "",
                  ""});
  auto r = c.run({"list-unit-files", "--fields=unit,dstate,state,target,global,desc"});
  CHECK(r.out ==
        "UNIT\t\tDSTATE\t\tSTATE\t\tTARGET\t\t\t\tGLOBAL\tDESC\n"
        "global.service\tlaunched\t-\t\tglobal\t\t\t\ttrue\tEverywhere\n"
        "hello.service\tlaunched\tlaunched\t113f16a7.../172.17.8.103\tfalse\t-\n");
}

TEST_CASE("the deprecated tmachine field still works with a warning") {
  Cluster c;
  c.api.put_unit({"hello.service", kSleep, "launched", "launched", kM1, ""});
  auto r = c.run({"list-unit-files", "--fields=unit,tmachine", "--no-legend"});
  CHECK(r.code == 0);
  CHECK(r.err == "WARNING: The \"tmachine\" field is deprecated. Use \"target\" instead\n");
  CHECK(r.out == "hello.service\t113f16a7.../172.17.8.103\n");
}
