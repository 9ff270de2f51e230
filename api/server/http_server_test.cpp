// The Beast listener over real sockets: a unix socket in a temp dir and a TCP loopback port.

#include "api/server/http_server.h"

#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "api/server/api_test_fixture.h"
#include "common/testing/temp_dir.h"

using namespace fleet::api::server;
using namespace fleet::api::server::testing;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using net::ip::tcp;
using local = net::local::stream_protocol;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

namespace {

struct Reply {
  beast::error_code ec;
  http::response<http::string_body> res;
};

// Sends raw bytes and reads one response (or the error that ended the connection).
template <class Socket>
net::awaitable<Reply> exchange(Socket& sock, beast::flat_buffer& buf, std::string raw) {
  Reply r;
  auto [wec, wn] = co_await net::async_write(sock, net::buffer(raw), use_tuple);
  if (wec) {
    r.ec = wec;
    co_return r;
  }
  http::response_parser<http::string_body> p;
  p.body_limit(boost::none);
  auto [ec, n] = co_await http::async_read(sock, buf, p, use_tuple);
  r.ec = ec;
  if (!ec) r.res = p.release();
  co_return r;
}

// True when the server closed the connection (a read returns EOF rather than data).
template <class Socket>
net::awaitable<bool> closed_by_peer(Socket& sock) {
  char c;
  auto [ec, n] = co_await sock.async_read_some(net::buffer(&c, 1), use_tuple);
  co_return ec == net::error::eof || ec == net::error::connection_reset;
}

std::string get(const std::string& target, bool close = false) {
  return "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + (close ? "Connection: close\r\n" : "") +
         "\r\n";
}

struct ServerFixture : ApiFixture {
  fleet::testing::TempDir dir{"api-server-test"};
  std::string sock_path = (dir.path / "fleet.sock").string();
  HttpServerOptions opts;
  std::unique_ptr<HttpServer> server;
  tcp::endpoint tcp_ep;

  ServerFixture() {
    opts.listen = {"unix://" + sock_path, "tcp://127.0.0.1:0"};
    opts.body_limit = 64 * 1024;
  }
  void start() {
    server = std::make_unique<HttpServer>(io, ctx, opts);
    auto st = server->start();
    REQUIRE_MESSAGE(st, (st ? "" : st.error().describe()));
    auto eps = server->endpoints();
    REQUIRE(eps.size() == 2);
    auto port = std::stoi(eps[1].substr(eps[1].rfind(':') + 1));
    tcp_ep = tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port));
  }
  tcp::socket connect_tcp() {
    tcp::socket s(io);
    s.connect(tcp_ep);  // loopback connect completes against the kernel backlog
    return s;
  }
  local::socket connect_unix() {
    local::socket s(io);
    s.connect(local::endpoint(sock_path));
    return s;
  }
};

}  // namespace

TEST_CASE("serves the API on a unix socket (mode 0660) and on TCP") {
  ServerFixture f;
  f.create("a.service", "launched");
  f.start();
  CHECK(f.server->endpoints()[0] == "unix://" + f.sock_path);
  struct stat st {};
  REQUIRE(::stat(f.sock_path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0660);

  auto us = f.connect_unix();
  beast::flat_buffer ubuf;
  auto r = run_sync(f.io, exchange(us, ubuf, get("/fleet/v1/units/a.service")));
  REQUIRE_FALSE(r.ec);
  CHECK(r.res.result_int() == 200);
  CHECK(r.res[http::field::server] == "fleetd/test");
  CHECK(r.res[http::field::content_type] == "application/json");
  CHECK(nlohmann::json::parse(r.res.body())["desiredState"] == "launched");

  auto ts = f.connect_tcp();
  beast::flat_buffer tbuf;
  auto t = run_sync(f.io, exchange(ts, tbuf, get("/fleet/v1/units")));
  REQUIRE_FALSE(t.ec);
  CHECK(t.res.result_int() == 200);
}

TEST_CASE("keep-alive: several requests on one connection, PUT with a body included") {
  ServerFixture f;
  f.start();
  auto s = f.connect_tcp();
  beast::flat_buffer buf;
  const std::string body =
      R"({"options":[{"section":"Service","name":"ExecStart","value":"/bin/true"}]})";
  auto put = run_sync(f.io, exchange(s, buf,
                                     "PUT /fleet/v1/units/k.service HTTP/1.1\r\nHost: x\r\n"
                                     "Content-Type: application/json\r\nContent-Length: " +
                                         std::to_string(body.size()) + "\r\n\r\n" + body));
  REQUIRE_FALSE(put.ec);
  CHECK(put.res.result_int() == 201);
  CHECK(put.res.keep_alive());
  auto g = run_sync(f.io, exchange(s, buf, get("/fleet/v1/units/k.service")));
  REQUIRE_FALSE(g.ec);
  CHECK(g.res.result_int() == 200);
  auto last = run_sync(f.io, exchange(s, buf, get("/fleet/v1/units", true)));
  REQUIRE_FALSE(last.ec);
  CHECK_FALSE(last.res.keep_alive());
  CHECK(run_sync(f.io, closed_by_peer(s)));
}

TEST_CASE("a malformed request gets a 400 JSON error and does not wedge the server") {
  ServerFixture f;
  f.start();
  for (std::string garbage :
       {"GARBAGE\r\n\r\n", "GET / HTTX/1.1\r\n\r\n",
        "GET /fleet/v1/units HTTP/1.1\r\nBad Header\r\n\r\n",
        "PUT /fleet/v1/units/a.service HTTP/1.1\r\nContent-Length: x\r\n\r\n"}) {
    CAPTURE(garbage);
    auto s = f.connect_tcp();
    beast::flat_buffer buf;
    auto r = run_sync(f.io, exchange(s, buf, garbage));
    REQUIRE_FALSE(r.ec);
    CHECK(r.res.result_int() == 400);
    CHECK(r.res[http::field::content_type] == "application/json");
    CHECK(nlohmann::json::parse(r.res.body())["error"]["code"] == 400);
    CHECK(run_sync(f.io, closed_by_peer(s)));
  }
  auto s = f.connect_unix();
  beast::flat_buffer buf;
  auto ok = run_sync(f.io, exchange(s, buf, get("/fleet/v1/units")));
  REQUIRE_FALSE(ok.ec);
  CHECK(ok.res.result_int() == 200);
}

TEST_CASE(
    "a Transfer-Encoding not ending in chunked is refused with 400 and the connection closed") {
  ServerFixture f;
  f.create("a.service");
  f.start();
  // Each would otherwise be read with a body length of Beast's choosing (RFC 9112 §6.3).
  for (std::string coding : {"gzip", "chunked, gzip", "identity"}) {
    CAPTURE(coding);
    auto s = f.connect_tcp();
    beast::flat_buffer buf;
    auto r = run_sync(f.io, exchange(s, buf,
                                     "DELETE /fleet/v1/units/a.service HTTP/1.1\r\nHost: x\r\n"
                                     "Transfer-Encoding: " +
                                         coding + "\r\nContent-Length: 0\r\n\r\n"));
    REQUIRE_FALSE(r.ec);
    CHECK(r.res.result_int() == 400);
    CHECK(r.res[http::field::content_type] == "application/json");
    CHECK(nlohmann::json::parse(r.res.body())["error"]["message"] ==
          "unsupported Transfer-Encoding \"" + coding + "\": the final coding must be chunked");
    CHECK_FALSE(r.res.keep_alive());
    CHECK(run_sync(f.io, closed_by_peer(s)));
  }
  // Nothing reached the handler.
  CHECK(f.get("/fleet/v1/units/a.service").status == 200);
  // A chunked body is still read.
  auto s = f.connect_unix();
  beast::flat_buffer buf;
  auto ok = run_sync(f.io, exchange(s, buf,
                                    "PUT /fleet/v1/units/a.service HTTP/1.1\r\nHost: x\r\n"
                                    "Content-Type: application/json\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n"
                                    "1b\r\n{\"desiredState\":\"launched\"}\r\n0\r\n\r\n"));
  REQUIRE_FALSE(ok.ec);
  CHECK(ok.res.result_int() == 204);
}

TEST_CASE("an HTTP/1.1 request without exactly one Host header is refused with 400") {
  ServerFixture f;
  f.start();
  for (std::string head : {"GET /fleet/v1/units HTTP/1.1\r\n",
                           "GET /fleet/v1/units HTTP/1.1\r\nHost: a\r\nHost: b\r\n"}) {
    CAPTURE(head);
    auto s = f.connect_unix();
    beast::flat_buffer buf;
    auto r = run_sync(f.io, exchange(s, buf, head + "\r\n"));
    REQUIRE_FALSE(r.ec);
    CHECK(r.res.result_int() == 400);
    CHECK(r.res[http::field::server] == "fleetd/test");
    CHECK(r.res.body() == error_body(400, head.find("Host") == std::string::npos
                                              ? "missing Host header"
                                              : "more than one Host header"));
    CHECK(run_sync(f.io, closed_by_peer(s)));
  }
  // HTTP/1.0 has no Host requirement.
  auto s = f.connect_unix();
  beast::flat_buffer buf;
  auto old = run_sync(f.io, exchange(s, buf, "GET /fleet/v1/units HTTP/1.0\r\n\r\n"));
  REQUIRE_FALSE(old.ec);
  CHECK(old.res.result_int() == 200);
}

TEST_CASE("a body over the limit is refused with 413 before it is read") {
  ServerFixture f;
  f.start();
  auto s = f.connect_tcp();
  beast::flat_buffer buf;
  auto r = run_sync(f.io,
                    exchange(s, buf,
                             "PUT /fleet/v1/units/a.service HTTP/1.1\r\nHost: x\r\n"
                             "Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"));
  REQUIRE_FALSE(r.ec);
  CHECK(r.res.result_int() == 413);
  CHECK(nlohmann::json::parse(r.res.body())["error"]["code"] == 413);
  auto big_header =
      get("/fleet/v1/units").insert(30, "X-Big: " + std::string(64 * 1024, 'a') + "\r\n");
  auto s2 = f.connect_tcp();
  beast::flat_buffer buf2;
  auto h = run_sync(f.io, exchange(s2, buf2, big_header));
  CHECK((h.ec || h.res.result_int() == 431));
}

TEST_CASE("a client that stops mid-request is disconnected at the deadline") {
  ServerFixture f;
  f.opts.request_timeout = std::chrono::milliseconds(200);
  f.start();
  auto s = f.connect_tcp();
  std::string half = "GET /fleet/v1/units HTTP/1.1\r\nHost:";
  net::write(s, net::buffer(half));
  CHECK(run_sync(f.io, closed_by_peer(s), std::chrono::seconds(5)));
  CHECK(fleet::testing::run_until(f.io, [&] { return f.server->connection_count() == 0; }));
}

TEST_CASE("journal responses are streamed chunked") {
  ServerFixture f;
  f.create("a.service", "launched");
  f.schedule("a.service", "m1");
  f.inspector.set_journal("a.service", "m1", {"one\n", "", "two\n"});
  f.start();
  auto s = f.connect_unix();
  beast::flat_buffer buf;
  auto r = run_sync(f.io, exchange(s, buf, get("/fleet/v1/units/a.service/journal?follow=1")));
  REQUIRE_FALSE(r.ec);
  CHECK(r.res.result_int() == 200);
  CHECK(r.res.chunked());
  CHECK(r.res.body() == "one\ntwo\n");
}

// Reads from `sock` until what arrived contains `text`; false on EOF or error first.
template <class Socket>
net::awaitable<bool> read_until_contains(Socket& sock, std::string text) {
  std::string got;
  char buf[4096];
  while (got.find(text) == std::string::npos) {
    auto [ec, n] = co_await sock.async_read_some(net::buffer(buf), use_tuple);
    if (ec) co_return false;
    got.append(buf, n);
  }
  co_return true;
}

net::awaitable<void> pause(std::chrono::milliseconds d) {
  net::steady_timer t(co_await net::this_coro::executor, d);
  co_await t.async_wait(use_tuple);
}

TEST_CASE("an abandoned journal follow is dropped as soon as its client goes away") {
  ServerFixture f;
  f.create("a.service", "launched");
  f.schedule("a.service", "m1");
  f.inspector.set_journal("a.service", "m1", {"one\n"});
  f.inspector.set_follow_endless(true);
  f.start();
  auto s = f.connect_unix();
  net::write(s, net::buffer(get("/fleet/v1/units/a.service/journal?follow=1")));
  REQUIRE(run_sync(f.io, read_until_contains(s, "one\n")));
  CHECK(f.inspector.open_journals() == 1);
  s.close();
  // The unit never logs again: only noticing the client's departure can end the stream.
  CHECK(fleet::testing::run_until(
      f.io, [&] { return f.inspector.open_journals() == 0 && f.server->connection_count() == 0; }));
}

TEST_CASE("when TCP is full, the oldest connection waiting for a request makes room") {
  ServerFixture f;
  f.opts.max_connections = 2;
  f.start();
  auto idle1 = f.connect_tcp();
  auto idle2 = f.connect_tcp();
  REQUIRE(fleet::testing::run_until(f.io, [&] { return f.server->connection_count() == 2; }));
  auto s = f.connect_tcp();
  beast::flat_buffer buf;
  auto r = run_sync(f.io, exchange(s, buf, get("/fleet/v1/units")), std::chrono::seconds(5));
  REQUIRE_FALSE(r.ec);
  CHECK(r.res.result_int() == 200);
  CHECK(run_sync(f.io, closed_by_peer(idle1), std::chrono::seconds(5)));
  // The younger idle one was left alone.
  beast::flat_buffer buf2;
  auto r2 = run_sync(f.io, exchange(idle2, buf2, get("/fleet/v1/units")), std::chrono::seconds(5));
  REQUIRE_FALSE(r2.ec);
  CHECK(r2.res.result_int() == 200);
}

TEST_CASE("TCP clients busy with requests never lock out the unix socket") {
  ServerFixture f;
  f.opts.max_connections = 1;
  f.create("a.service", "launched");
  f.schedule("a.service", "m1");
  f.inspector.set_journal("a.service", "m1", {"one\n"});
  f.inspector.set_follow_endless(true);
  f.start();
  auto busy = f.connect_tcp();
  net::write(busy, net::buffer(get("/fleet/v1/units/a.service/journal?follow=1")));
  REQUIRE(run_sync(f.io, read_until_contains(busy, "one\n")));

  auto u = f.connect_unix();
  beast::flat_buffer buf;
  auto r = run_sync(f.io, exchange(u, buf, get("/fleet/v1/units", true)), std::chrono::seconds(5));
  REQUIRE_FALSE(r.ec);
  CHECK(r.res.result_int() == 200);

  // A second TCP client is not served by closing the busy one; it is once that one leaves.
  auto waiting = f.connect_tcp();
  net::write(waiting, net::buffer(get("/fleet/v1/units")));
  busy.close();
  beast::flat_buffer buf2;
  http::response_parser<http::string_body> p;
  auto [ec, n] = run_sync(f.io, http::async_read(waiting, buf2, p, use_tuple));
  REQUIRE_FALSE(ec);
  CHECK(p.get().result_int() == 200);
}

TEST_CASE("a request dribbled byte by byte gets request_timeout in all, not per part") {
  ServerFixture f;
  f.opts.header_timeout = std::chrono::seconds(5);
  f.opts.request_timeout = std::chrono::milliseconds(1600);
  f.start();
  auto s = f.connect_tcp();
  // The header completes at ~1.0 s and the body at ~1.9 s: within 1.6 s of the header's end
  // (a per-part deadline would accept it), but not of the first byte.
  auto dribble = [&]() -> net::awaitable<bool> {
    std::string head = "PUT /fleet/v1/units/a.service HTTP/1.1\r\nHost: x\r\n";
    head += "Content-Type: application/json\r\nContent-Length: 2\r\n";
    co_await net::async_write(s, net::buffer(head), use_tuple);
    co_await pause(std::chrono::milliseconds(1000));
    co_await net::async_write(s, net::buffer(std::string("\r\n{")), use_tuple);
    co_await pause(std::chrono::milliseconds(900));
    co_await net::async_write(s, net::buffer(std::string("}")), use_tuple);
    co_return co_await closed_by_peer(s);
  };
  CHECK(run_sync(f.io, dribble()));
}

TEST_CASE("a stale socket file is replaced, a live one is not stolen") {
  ServerFixture f;
  {
    local::acceptor stale(f.io, local::endpoint(f.sock_path));  // leaves the file behind
  }
  REQUIRE(std::filesystem::exists(f.sock_path));
  f.start();
  auto s = f.connect_unix();
  beast::flat_buffer buf;
  CHECK(run_sync(f.io, exchange(s, buf, get("/fleet/v1/units"))).res.result_int() == 200);

  HttpServerOptions again;
  again.listen = {"unix://" + f.sock_path};
  HttpServer second(f.io, f.ctx, again);
  auto st = second.start();
  REQUIRE_FALSE(st);
  CHECK(st.error().code == fleet::Errc::already_exists);

  f.server->stop();
  CHECK_FALSE(std::filesystem::exists(f.sock_path));
}

TEST_CASE("an inherited listening socket (fd://N, socket activation) is served") {
  ApiFixture f;
  fleet::testing::TempDir dir{"api-server-test"};
  const std::string path = (dir.path / "activated.sock").string();
  local::acceptor given(f.io, local::endpoint(path));
  const int fd = given.release();
  HttpServerOptions o;
  o.listen = {"fd://" + std::to_string(fd)};
  HttpServer server(f.io, f.ctx, o);
  auto st = server.start();
  REQUIRE_MESSAGE(st, (st ? "" : st.error().describe()));
  CHECK(server.endpoints() == std::vector<std::string>{"unix://" + path});
  local::socket s(f.io);
  s.connect(local::endpoint(path));
  beast::flat_buffer buf;
  CHECK(run_sync(f.io, exchange(s, buf, get("/fleet/v1/units"))).res.result_int() == 200);
  server.stop();
  CHECK(std::filesystem::exists(path));  // systemd's file, not ours to remove
}

TEST_CASE("a unix socket path longer than sun_path holds is an invalid endpoint") {
  ApiFixture f;
  fleet::testing::TempDir dir{"api-server-test"};
  // 107 bytes is the most sockaddr_un holds (with its NUL); 108 used to throw out of start().
  const std::string base = dir.path.string() + "/";
  const std::string longest = base + std::string(107 - base.size(), 's');
  const std::string too_long = longest + "x";
  HttpServerOptions o;
  o.listen = {"unix://" + too_long};
  HttpServer s(f.io, f.ctx, o);
  auto st = s.start();
  REQUIRE_FALSE(st);
  CHECK(st.error().code == fleet::Errc::invalid_argument);
  CHECK(st.error().message ==
        "unix socket path " + too_long + " is 108 bytes, longer than the limit of 107 bytes");
  HttpServerOptions fits;
  fits.listen = {"unix://" + longest};
  HttpServer ok(f.io, f.ctx, fits);
  CHECK(ok.start());
}

TEST_CASE("bad endpoints are reported, not thrown") {
  ApiFixture f;
  for (std::string ep : {"http://x", "tcp://nohost", "tcp://300.1.1.1:80", "tcp://127.0.0.1:99999",
                         "unix://", "fd://x", "fd://987654"}) {
    HttpServerOptions o;
    o.listen = {ep};
    HttpServer s(f.io, f.ctx, o);
    auto st = s.start();
    CAPTURE(ep);
    CHECK_FALSE(st);
  }
  HttpServerOptions tls;
  tls.listen = {"tcp://127.0.0.1:0"};
  tls.tls = TlsOptions{"/nonexistent.pem", "/nonexistent.key", "", true};
  HttpServer s(f.io, f.ctx, tls);
  auto st = s.start();
  REQUIRE_FALSE(st);
  CHECK(st.error().code == fleet::Errc::invalid_argument);
}

namespace {

// A throw-away CA with a server and a client certificate, made with the openssl CLI.
bool make_certs(const std::filesystem::path& dir) {
  const std::string d = dir.string();
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
  const std::string q = " >/dev/null 2>&1";
  std::string script =
      "cd '" + d + "' && openssl req -x509" + ec + "-keyout ca.key -out ca.pem -days 1 " +
      "-subj /CN=test-ca" + q + " && openssl req" + ec +
      "-keyout server.key -out server.csr -subj /CN=127.0.0.1" + q +
      " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial " +
      "-out server.pem -days 1" + q + " && openssl req" + ec +
      "-keyout client.key -out client.csr -subj /CN=client" + q +
      " && openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial " +
      "-out client.pem -days 1" + q;
  return std::system(script.c_str()) == 0;
}

net::awaitable<Reply> tls_get(tcp::endpoint ep, net::ssl::context& ctx, std::string target) {
  Reply r;
  net::ssl::stream<tcp::socket> s(co_await net::this_coro::executor, ctx);
  auto [cec] = co_await s.next_layer().async_connect(ep, use_tuple);
  if (cec) {
    r.ec = cec;
    co_return r;
  }
  auto [hec] = co_await s.async_handshake(net::ssl::stream_base::client, use_tuple);
  if (hec) {
    r.ec = hec;
    co_return r;
  }
  beast::flat_buffer buf;
  co_return co_await exchange(s, buf, get(target, true));
}

}  // namespace

TEST_CASE("TLS on TCP verifies client certificates") {
  ServerFixture f;
  if (!make_certs(f.dir.path)) {
    MESSAGE("openssl CLI unavailable: TLS test skipped");
    return;
  }
  const auto p = [&](const char* n) { return (f.dir.path / n).string(); };
  f.opts.listen = {"unix://" + f.sock_path, "tcp://127.0.0.1:0"};
  f.opts.tls = TlsOptions{p("server.pem"), p("server.key"), p("ca.pem"), true};
  f.start();

  net::ssl::context good(net::ssl::context::tls_client);
  good.load_verify_file(p("ca.pem"));
  good.set_verify_mode(net::ssl::verify_peer);
  good.use_certificate_file(p("client.pem"), net::ssl::context::pem);
  good.use_private_key_file(p("client.key"), net::ssl::context::pem);
  auto ok = run_sync(f.io, tls_get(f.tcp_ep, good, "/fleet/v1/units"));
  REQUIRE_FALSE(ok.ec);
  CHECK(ok.res.result_int() == 200);
  CHECK(ok.res[http::field::server] == "fleetd/test");

  net::ssl::context anonymous(net::ssl::context::tls_client);
  anonymous.load_verify_file(p("ca.pem"));
  auto denied = run_sync(f.io, tls_get(f.tcp_ep, anonymous, "/fleet/v1/units"));
  CHECK(denied.ec);  // the handshake or the first read fails: no certificate, no API
  // The dashboard has the API's access rules: the certificate, or nothing.
  auto page = run_sync(f.io, tls_get(f.tcp_ep, good, "/ui/"));
  REQUIRE_FALSE(page.ec);
  CHECK(page.res.result_int() == 200);
  CHECK(run_sync(f.io, tls_get(f.tcp_ep, anonymous, "/ui/")).ec);

  // The unix socket stays plain HTTP, the dashboard too (for `ssh -L`).
  auto s = f.connect_unix();
  beast::flat_buffer buf;
  CHECK(run_sync(f.io, exchange(s, buf, get("/fleet/v1/units"))).res.result_int() == 200);
  auto ui = run_sync(f.io, exchange(s, buf, get("/ui/")));
  CHECK(ui.res.result_int() == 200);
  CHECK(ui.res[http::field::content_type] == "text/html; charset=utf-8");
}

// Out of file descriptors, accept fails and the client stays in the backlog, so every retry
// fails at once: the server pauses between retries (it used to spin a core and flood the log)
// and serves the client once descriptors are free again.
TEST_CASE("out of file descriptors, the server retries accepts with pauses and then serves") {
  ServerFixture f;
  f.start();
  tcp::socket client(f.io);
  client.open(tcp::v4());  // its descriptor is taken before they run out
  struct rlimit old {};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0);
  int highest = ::dup(0);
  REQUIRE(highest >= 0);
  ::close(highest);
  struct rlimit low = old;
  low.rlim_cur = static_cast<rlim_t>(highest + 8);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  std::vector<int> filler;
  for (int fd; (fd = ::dup(0)) >= 0;) filler.push_back(fd);
  struct Restore {
    std::vector<int>& fds;
    struct rlimit lim;
    ~Restore() {
      for (int fd : fds) ::close(fd);
      fds.clear();
      ::setrlimit(RLIMIT_NOFILE, &lim);
    }
  } restore{filler, old};

  client.connect(f.tcp_ep);  // completes against the backlog; the server cannot accept it
  // 300 ms of retries with pauses of 5, 10, 20, ... ms run a few dozen handlers; without pauses
  // they were hundreds of thousands.
  const auto handlers = f.io.run_for(std::chrono::milliseconds(300));
  CHECK(handlers < 1000);

  for (int fd : filler) ::close(fd);
  filler.clear();
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &old) == 0);
  beast::flat_buffer buf;
  auto r = run_sync(f.io, exchange(client, buf, get("/fleet/v1/units")), std::chrono::seconds(5));
  REQUIRE_FALSE(r.ec);
  CHECK(r.res.result_int() == 200);
}
