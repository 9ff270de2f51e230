// The cut proxy against a plain TCP server on loopback, with blocking sockets on the test thread.

#include "tests/harness/proxy/cut_proxy.h"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <string>

#include "tests/harness/wait.h"

using fleet::testing::CutProxy;
namespace net = boost::asio;
using net::ip::tcp;

namespace {

struct Server {
  net::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)};
  int port() const { return acceptor.local_endpoint().port(); }
};

tcp::socket connect(net::io_context& io, int port) {
  tcp::socket s(io);
  s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  return s;
}

std::string read_n(tcp::socket& s, std::size_t n) {
  std::string buf(n, '\0');
  net::read(s, net::buffer(buf));
  return buf;
}

// Everything the peer still sends before the connection ends ("" when it ends at once).
std::string read_to_end(tcp::socket& s) {
  std::string out;
  char buf[256];
  boost::system::error_code ec;
  while (true) {
    std::size_t n = s.read_some(net::buffer(buf), ec);
    if (ec) return out;
    out.append(buf, n);
  }
}

}  // namespace

TEST_CASE("a cut proxy relays, drops everything while cut, and resets old connections on heal") {
  Server srv;
  CutProxy proxy(srv.port());
  net::io_context io;

  auto client = connect(io, proxy.port());
  auto upstream = srv.acceptor.accept();
  net::write(client, net::buffer(std::string("ping")));
  CHECK(read_n(upstream, 4) == "ping");
  net::write(upstream, net::buffer(std::string("pong")));
  CHECK(read_n(client, 4) == "pong");

  proxy.cut();
  CHECK(proxy.is_cut());
  net::write(client, net::buffer(std::string("lost")));
  auto during = connect(io, proxy.port());  // accepted by the proxy, never relayed
  net::write(during, net::buffer(std::string("held")));
  {
    auto gone = connect(io, proxy.port());  // a client that gives up while the link is down
    gone.close();
  }
  CHECK(proxy.connections() <= 3);
  // All three reached the proxy while cut: one still in its listen queue at heal would be
  // relayed then, and the server would see it.
  REQUIRE(
      fleet::testing::wait_until([&] { return proxy.accepted() == 3; }, std::chrono::seconds(5)));

  proxy.heal();
  // The old connection ends without "lost" ever arriving, and the held one ends too.
  CHECK(read_to_end(upstream).empty());
  CHECK(read_to_end(client).empty());
  CHECK(read_to_end(during).empty());
  srv.acceptor.non_blocking(true);
  boost::system::error_code ec;
  srv.acceptor.accept(ec);
  CHECK(ec == net::error::would_block);  // the held connection never reached the server
  srv.acceptor.non_blocking(false);

  auto after = connect(io, proxy.port());
  auto upstream2 = srv.acceptor.accept();
  net::write(after, net::buffer(std::string("again")));
  CHECK(read_n(upstream2, 5) == "again");
}
