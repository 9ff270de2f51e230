#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "fleetctl/test_support.h"

using fleet::fleetctl::testing::Fleetctl;

namespace {

std::string source_file(const std::string& path) {
  std::ifstream in(FLEET_SOURCE_DIR "/" + path, std::ios::binary);
  REQUIRE(in);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("completion prints the scripts the package installs, byte for byte") {
  Fleetctl f;
  auto bash = f.run({"completion", "bash"});
  CHECK(bash.code == 0);
  CHECK(bash.err == "");
  CHECK(bash.out == source_file("packaging/completion/fleetctl.bash"));
  CHECK(bash.out.find("complete -o default -o bashdefault -F _fleetctl fleetctl") !=
        std::string::npos);
  auto zsh = f.run({"completion", "zsh"});
  CHECK(zsh.code == 0);
  CHECK(zsh.out == source_file("packaging/completion/_fleetctl"));
  CHECK(zsh.out.rfind("#compdef fleetctl\n", 0) == 0);
  // No API needed: it works on a workstation without an endpoint.
  CHECK(f.api.calls().empty());
}

TEST_CASE("completion without a known shell fails and says which shells exist") {
  Fleetctl f;
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"completion"}, {"completion", "fish"}, {"completion", "bash", "zsh"}}) {
    auto r = f.run(args);
    CHECK(r.code == 1);
    CHECK(r.out == "");
    CHECK(r.err == "One shell must be given: bash or zsh\n");
  }
  auto listed = f.run({"--help"});
  CHECK(listed.out.find("\tcompletion\t") != std::string::npos);
}
