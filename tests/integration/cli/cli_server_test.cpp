#include "tests/integration/cli/cli_fixture.h"

using namespace fleet;
using namespace fleet::cli_test;

TEST_CASE("smoke") {
  CliFixture f;
  f.wait_ready();
  f.file("hello.service", kHello);
  auto r = f.run({"start", "hello.service"});
  MESSAGE(r.out);
  MESSAGE(r.err);
  auto l = f.run({"list-units"});
  MESSAGE(l.out);
  auto m = f.run({"list-machines"});
  MESSAGE(m.out);
}
