#include "fleetctl/tunnel.h"

#include <doctest/doctest.h>

using namespace fleet;
using namespace fleet::fleetctl;

TEST_CASE("the tunnel forwards a local socket to the endpoint seen from the tunnel host") {
  GlobalOptions g;
  g.tunnel = "10.0.0.5:2222";
  g.known_hosts_file = "/k";
  auto unix_ep = api::parse_endpoint("unix:///var/run/fleet.sock").value();
  auto argv = tunnel_ssh_argv(g, unix_ep, "/tmp/t/fleet.sock");
  CHECK(argv == std::vector<std::string>{"ssh", "-N", "-o", "ExitOnForwardFailure=yes", "-o",
                                         "ConnectTimeout=10", "-l", "core", "-p", "2222", "-o",
                                         "StrictHostKeyChecking=ask", "-o", "UserKnownHostsFile=/k",
                                         "-L", "/tmp/t/fleet.sock:/var/run/fleet.sock",
                                         "10.0.0.5"});
  g.strict_host_key_checking = false;
  auto tcp = tunnel_ssh_argv(g, api::parse_endpoint("http://127.0.0.1:49153").value(), "/s");
  CHECK(tcp[tcp.size() - 2] == "/s:127.0.0.1:49153");
  CHECK(std::find(tcp.begin(), tcp.end(), "StrictHostKeyChecking=no") != tcp.end());
}

TEST_CASE("https endpoints cannot be tunnelled") {
  GlobalOptions g;
  g.tunnel = "h:22";
  api::HttpClientOptions opts;
  opts.endpoint = api::parse_endpoint("https://fleet:443").value();
  auto r = open_tunnel_client(g, opts);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "--tunnel cannot be used with an https endpoint");
}
