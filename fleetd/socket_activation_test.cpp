#include "fleetd/socket_activation.h"

#include <doctest/doctest.h>

#include <filesystem>

#include "common/testing/temp_dir.h"

using fleet::fleetd::InheritedSocket;
using fleet::fleetd::listen_specs;

TEST_CASE("without socket activation the configured addresses are used as they are") {
  CHECK(listen_specs({"unix:///var/run/fleet.sock", "tcp://0.0.0.0:8080"}, {}) ==
        std::vector<std::string>{"unix:///var/run/fleet.sock", "tcp://0.0.0.0:8080"});
}

TEST_CASE("an inherited socket is served and its address not bound again") {
  std::vector<InheritedSocket> in{{3, "unix:///run/x/fleet.sock"}, {4, "tcp://127.0.0.1:8080"}};
  CHECK(listen_specs({"unix:///run/x/fleet.sock", "tcp://127.0.0.1:8080", "tcp://127.0.0.1:9"},
                     in) == std::vector<std::string>{"fd://3", "fd://4", "tcp://127.0.0.1:9"});
  CHECK(listen_specs({}, in) == std::vector<std::string>{"fd://3", "fd://4"});
}

TEST_CASE("unix paths are compared through symlinks, as /var/run is /run") {
  fleet::testing::TempDir dir;
  std::filesystem::create_directory(dir.path / "run");
  std::filesystem::create_directory_symlink(dir.path / "run", dir.path / "varrun");
  const std::string real = "unix://" + (dir.path / "run" / "fleet.sock").string();
  const std::string via_link = "unix://" + (dir.path / "varrun" / "fleet.sock").string();
  CHECK(listen_specs({via_link}, {{3, real}}) == std::vector<std::string>{"fd://3"});
  // An inherited socket whose address is unknown is served, and nothing is skipped for it.
  CHECK(listen_specs({via_link}, {{3, ""}}) == std::vector<std::string>{"fd://3", via_link});
}
