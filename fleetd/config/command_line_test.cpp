#include "fleetd/config/command_line.h"

#include <doctest/doctest.h>

#include <sstream>

using namespace fleet;
using namespace fleet::fleetd;

namespace {

struct Run {
  std::optional<int> code;
  std::string out;
  std::string err;
  LoadedConfig loaded;
};

Run run(std::vector<std::string> args, std::map<std::string, std::string> files = {}) {
  std::vector<const char*> argv{"fleetd"};
  for (const auto& a : args) argv.push_back(a.c_str());
  FileReader reader = [files](const std::string& p) -> Result<std::optional<std::string>> {
    auto it = files.find(p);
    if (it == files.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  };
  Run r;
  std::ostringstream out, err;
  r.code = startup(static_cast<int>(argv.size()), argv.data(), env_from_map({}), reader, out, err,
                   r.loaded);
  r.out = out.str();
  r.err = err.str();
  return r;
}

}  // namespace

TEST_CASE("flags use Go syntax with one or two dashes") {
  auto cl = parse_command_line({"-agent_ttl=5s", "--verbosity", "2", "--disable-engine",
                                "-dev=false", "--config", "/x.conf"})
                .value();
  CHECK(cl.action == Action::run);
  REQUIRE(cl.flags.size() == 5);
  CHECK(cl.flags[0].key == "agent_ttl");
  CHECK(cl.flags[0].value == "5s");
  CHECK(cl.flags[1].key == "verbosity");
  CHECK(cl.flags[1].value == "2");
  CHECK(cl.flags[2].key == "disable_engine");
  CHECK(cl.flags[2].value == "true");
  CHECK(cl.flags[2].spelled == "--disable-engine");
  CHECK(cl.flags[3].value == "false");
  CHECK(cl.flags[4].key == "config");
  CHECK(cl.flags[4].value == "/x.conf");
}

TEST_CASE("bad command lines are refused with Go flag's messages") {
  CHECK(parse_command_line({"--nope"}).error().message == "flag provided but not defined: --nope");
  CHECK(parse_command_line({"--agent_ttl"}).error().message ==
        "flag needs an argument: --agent_ttl");
  CHECK(parse_command_line({"---x"}).error().message == "bad flag syntax: ---x");
  CHECK(parse_command_line({"--version=maybe"}).has_error());
}

TEST_CASE("a positional argument other than version is refused, as fleet does") {
  CHECK(parse_command_line({"start"}, "/usr/bin/fleetd").error().message ==
        "/usr/bin/fleetd takes no arguments. Did you mean to invoke fleetctl instead?");
  CHECK(parse_command_line({"--dev", "--", "x"}).has_error());
  CHECK(parse_command_line({"version", "x"}).has_error());
  CHECK(parse_command_line({"version"}).value().action == Action::version);
  CHECK(parse_command_line({"--dev", "version"}).value().action == Action::version);
}

TEST_CASE("--help prints the usage with every key and exits 0 without reading config") {
  auto r = run({"--help"}, {{std::string(kDefaultConfFile), "broken line\n"}});
  REQUIRE(r.code);
  CHECK(*r.code == 0);
  CHECK(r.out.find("fleetd is the server component of fleet") == 0);
  for (const auto& k : config_keys())
    CHECK(r.out.find("  " + std::string(k.name) + " (") != std::string::npos);
  CHECK(run({"-h"}).code == 0);
}

TEST_CASE("--version and the version positional print the version and exit 0") {
  for (const auto& args :
       {std::vector<std::string>{"--version"}, std::vector<std::string>{"version"}}) {
    auto r = run(args);
    CHECK(r.code == 0);
    CHECK(r.out == version_text() + "\n");
    CHECK(r.out.find("fleetd version ") == 0);
  }
}

TEST_CASE("startup errors go to stderr with exit 1") {
  auto bad_flag = run({"--nope"});
  CHECK(bad_flag.code == 1);
  CHECK(bad_flag.out.empty());
  CHECK(bad_flag.err.find("flag provided but not defined: --nope\n") == 0);
  CHECK(bad_flag.err.find("Usage:") != std::string::npos);
  auto positional = run({"list-units"});
  CHECK(positional.code == 1);
  CHECK(positional.err.find("takes no arguments") != std::string::npos);
  auto bad_value = run({"--agent_ttl=abc"});
  CHECK(bad_value.code == 1);
  CHECK(bad_value.err.find("invalid value \"abc\" for agent_ttl in flag --agent_ttl") == 0);
  CHECK(bad_value.err.find("Usage:") == std::string::npos);
}

TEST_CASE("a good start-up fills the config and keeps fleetd running") {
  auto r = run({"--dev", "--public_ip=10.0.0.7"},
               {{std::string(kDefaultConfFile), "verify_units=true\n"}});
  CHECK_FALSE(r.code);
  CHECK(r.loaded.config.dev);
  CHECK(r.loaded.config.public_ip == "10.0.0.7");
  CHECK(r.loaded.warnings.size() == 1);
  CHECK(r.out.empty());
  CHECK(r.err.empty());
}
