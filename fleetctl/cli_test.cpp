#include <doctest/doctest.h>

#include "common/version.h"
#include "fleetctl/test_support.h"

using namespace fleet;
using namespace fleet::fleetctl;
using fleet::fleetctl::testing::Fleetctl;

TEST_CASE("version and help exit 0") {
  Fleetctl f;
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"version"}, {"--version"}, {"-v"}}) {
    auto r = f.run(args);
    CHECK(r.code == 0);
    CHECK(r.out == std::string("fleetctl version ") + fleet::version() + "\n");
  }
  for (const auto& args : std::vector<std::vector<std::string>>{{}, {"help"}, {"--help"}, {"-h"}}) {
    auto r = f.run(args);
    CHECK(r.code == 0);
    CHECK(r.out.find("VERSION:\n\t" + std::string(fleet::version())) != std::string::npos);
    CHECK(r.out.find("\tlist-machines\t") != std::string::npos);
    CHECK(r.out.find("verify") == std::string::npos);  // hidden
  }
  auto cmd = f.run({"help", "list-units"});
  CHECK(cmd.code == 0);
  CHECK(cmd.out.rfind("NAME:\n\tfleetctl list-units - List the current state", 0) == 0);
  CHECK(cmd.out.find("-l, --full=false") != std::string::npos);
  auto flag = f.run({"list-units", "--help"});
  CHECK(flag.out == cmd.out);
}

TEST_CASE("unknown commands fail with suggestions") {
  Fleetctl f;
  auto r = f.run({"lst-units"});
  CHECK(r.code == 1);
  CHECK(r.out == "");
  CHECK(r.err ==
        "Error: unknown command \"lst-units\" for \"fleetctl\"\n\nDid you mean this?\n"
        "\tlist-units\n\nRun 'fleetctl --help' for usage.\n");
  auto ambiguous = f.run({"list"});
  CHECK(ambiguous.code == 1);
  CHECK(ambiguous.err.find("\tlist-machines\n\tlist-unit-files\n\tlist-units\n") !=
        std::string::npos);
}

TEST_CASE("a unique command prefix selects the command") {
  Fleetctl f;
  f.api.add_machine({"abc", "", {}, ""});
  auto r = f.run({"list-m", "--no-legend"});
  CHECK(r.code == 0);
  CHECK(r.out == "abc...\t-\t-\n");
}

TEST_CASE("unknown and malformed flags fail naming the flag") {
  Fleetctl f;
  auto r = f.run({"status", "--no-block", "hello.service"});
  CHECK(r.code == 1);
  CHECK(r.err == "Error: unknown flag: --no-block\nRun 'fleetctl help status' for usage.\n");
  auto shorthand = f.run({"list-units", "-x"});
  CHECK(shorthand.code == 1);
  CHECK(shorthand.err ==
        "Error: unknown shorthand flag: 'x' in -x\nRun 'fleetctl help list-units' for usage.\n");
  auto value = f.run({"start", "--block-attempts=many", "a"});
  CHECK(value.code == 1);
  CHECK(value.err.rfind("Error: invalid argument \"many\" for \"--block-attempts\" flag", 0) == 0);
}

TEST_CASE("global flags come from the command line, then FLEETCTL_*, then defaults") {
  Fleetctl f;
  REQUIRE(f.run({"list-machines"}).code == 0);
  CHECK(f.last_global.endpoint == "unix:///var/run/fleet.sock");
  CHECK(f.last_global.request_timeout == 3.0);
  f.sys.env["FLEETCTL_ENDPOINT"] = "http://127.0.0.1:49153";
  f.sys.env["FLEETCTL_STRICT_HOST_KEY_CHECKING"] = "false";
  f.sys.env["FLEETCTL_SSH_USERNAME"] = "";  // empty values are ignored
  REQUIRE(f.run({"list-machines"}).code == 0);
  CHECK(f.last_global.endpoint == "http://127.0.0.1:49153");
  CHECK_FALSE(f.last_global.strict_host_key_checking);
  CHECK(f.last_global.ssh_username == "core");
  REQUIRE(f.run({"--endpoint", "http://10.0.0.1:1", "list-machines", "--tunnel=host"}).code == 0);
  CHECK(f.last_global.endpoint == "http://10.0.0.1:1");
  CHECK(f.last_global.tunnel == "host:22");
  f.sys.env["FLEETCTL_REQUEST_TIMEOUT"] = "soon";
  auto bad = f.run({"list-machines"});
  CHECK(bad.code == 1);
  CHECK(bad.err.rfind("Error: invalid value \"soon\" for FLEETCTL_REQUEST_TIMEOUT", 0) == 0);
}

TEST_CASE("client initialisation errors fail every API command") {
  Fleetctl f;
  BufferOutput buf;
  CliEnv env{buf.output(), f.sys, http_client_factory()};
  CHECK(run_fleetctl({"--endpoint=127.0.0.1:4001", "list-units"}, env) == 1);
  CHECK(buf.err() == "Unable to initialize client: URL scheme undefined\n");
  buf.clear();
  CHECK(run_fleetctl({"--driver=bogus", "list-units"}, env) == 1);
  CHECK(buf.err() == "Unable to initialize client: unrecognized driver \"bogus\"\n");
  buf.clear();
  CHECK(run_fleetctl({"--endpoint=http://h:99999", "list-units"}, env) == 1);
  CHECK(buf.err() ==
        "Unable to initialize client: invalid port \"99999\" in endpoint "
        "\"http://h:99999\": expected a number from 1 to 65535\n");
  buf.clear();
  CHECK(run_fleetctl({"--endpoint=http://user:pw@h:4001", "list-units"}, env) == 1);
  CHECK(buf.err().rfind("Unable to initialize client: user information (user:password@) in the "
                        "endpoint URL is not supported",
                        0) == 0);
  buf.clear();
  CHECK(run_fleetctl({"version"}, env) == 0);  // needs no API
}

TEST_CASE("the removed signing feature exits 2") {
  Fleetctl f;
  auto sign = f.run({"submit", "--sign", "hello.service"});
  CHECK(sign.code == 2);
  CHECK(sign.err == std::string(kSignDeprecated) + "\n");
  auto verify = f.run({"verify", "hello.service"});
  CHECK(verify.code == 2);
  CHECK(verify.err == "Command \"verify\" is deprecated, DEPRECATED - No longer works\n" +
                          std::string(kSignDeprecated) + "\n");
}
