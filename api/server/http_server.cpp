#include "api/server/http_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <functional>
#include <map>

#include "api/server/handler.h"
#include "common/backoff.h"
#include "common/log.h"
#include "common/sleep.h"

namespace fleet::api::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using net::ip::tcp;
using local = net::local::stream_protocol;
using tcp_stream = beast::tcp_stream;
using unix_stream = beast::basic_stream<local>;
using tls_stream = ssl::stream<beast::tcp_stream>;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
using namespace boost::asio::experimental::awaitable_operators;

struct Listener {
  std::string endpoint;  // as bound (real port)
  std::string unix_path;
  bool tls = false;
  // Shared with the accept loop, which may resume after the server dropped the listener.
  std::shared_ptr<tcp::acceptor> tcp_acceptor;
  std::shared_ptr<local::acceptor> unix_acceptor;
};

// What a connection is doing, which decides whether it may be closed to make room.
enum class ConnState { idle, reading, busy };  // waiting for a request, reading one, answering

enum PoolKind : std::size_t { kUnixPool = 0, kTcpPool = 1 };

// The connections of one kind (unix or TCP), counted apart so neither can starve the other.
struct Pool {
  explicit Pool(net::io_context& io) : capacity(io, net::steady_timer::time_point::max()) {}
  std::size_t active = 0;
  bool evicting = false;  // a connection was told to close and has not finished yet
  // The accept loops wait on it while the pool is full; it never expires, cancel() wakes them all
  // (setting its expiry would cancel the other loops' waits, and they would wake each other).
  net::steady_timer capacity;
};

struct Connection {
  std::function<void()> close;
  PoolKind pool;
  ConnState state = ConnState::idle;
  bool evicted = false;
};

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(net::io_context& i, ApiContext& c, HttpServerOptions o)
      : io(i), ctx(c), opts(std::move(o)), pools{Pool(i), Pool(i)} {}

  net::io_context& io;
  ApiContext& ctx;
  HttpServerOptions opts;
  std::optional<ssl::context> tls_ctx;
  std::vector<Listener> listeners;
  std::map<std::uint64_t, Connection> connections;  // open connections, oldest first
  std::uint64_t next_id = 0;
  std::array<Pool, 2> pools;
  bool stopped = false;

  // Closes the oldest idle connection of `kind`, else the oldest still reading its request;
  // false when every one is answering a request.
  bool evict_one(PoolKind kind);

  Status bind_tcp(const std::string& spec);
  Status bind_unix(const std::string& path);
  Status adopt_fd(const std::string& spec);
  Status setup_tls();
  void close_all();
};

namespace {

Request to_request(const http::request<http::string_body>& r) {
  Request req;
  req.method = std::string(r.method_string());
  req.target = std::string(r.target());
  for (const auto& f : r)
    req.headers.push_back({std::string(f.name_string()), std::string(f.value())});
  req.body = r.body();
  return req;
}

template <class Message>
void copy_headers(const Response& res, Message& m) {
  for (const auto& h : res.headers) m.insert(h.name, h.value);
}

// Deadline on the TCP/unix layer whatever the stream type.
template <class Stream>
auto& lowest(Stream& s) {
  return beast::get_lowest_layer(s);
}

template <class Stream>
net::awaitable<void> peer_readable(Stream& stream) {
  co_await lowest(stream).socket().async_wait(net::socket_base::wait_read, use_tuple);
}

template <class Stream>
net::awaitable<bool> write_response(HttpServer::Impl& s, Stream& stream, Response res,
                                    unsigned version, bool keep_alive) {
  if (!res.stream) {
    http::response<http::string_body> out{static_cast<http::status>(res.status), version};
    copy_headers(res, out);
    out.keep_alive(keep_alive);
    out.body() = std::move(res.body);
    out.prepare_payload();
    lowest(stream).expires_after(s.opts.write_timeout);
    auto [ec, n] = co_await http::async_write(stream, out, use_tuple);
    co_return !ec;
  }
  http::response<http::empty_body> head{static_cast<http::status>(res.status), version};
  copy_headers(res, head);
  head.keep_alive(keep_alive);
  head.chunked(true);
  http::response_serializer<http::empty_body> sr{head};
  lowest(stream).expires_after(s.opts.write_timeout);
  if (auto [ec, n] = co_await http::async_write_header(stream, sr, use_tuple); ec) co_return false;
  std::optional<std::string> piece;
  if (!res.body.empty()) piece = std::move(res.body);
  while (true) {
    if (!piece) {
      lowest(stream).expires_never();  // a follow may wait long for the next piece
      // Also watch the client: when it goes away the stream (and its journalctl) is dropped now,
      // not when the unit next logs. A client sends nothing during a response, so any
      // readability (EOF, reset, stray bytes) ends it.
      auto got = co_await (res.stream->next() || peer_readable(stream));
      if (got.index() == 1) co_return false;
      auto next = std::get<0>(std::move(got));
      if (!next) {
        log::warn("api", "response stream failed", {{"error", next.error().describe()}});
        co_return false;  // no last chunk: the client sees a truncated body
      }
      if (!next.value()) break;
      piece = std::move(next).value();
    }
    if (!piece->empty()) {
      lowest(stream).expires_after(s.opts.write_timeout);
      auto [ec, n] =
          co_await net::async_write(stream, http::make_chunk(net::buffer(*piece)), use_tuple);
      if (ec) co_return false;
    }
    piece.reset();
  }
  lowest(stream).expires_after(s.opts.write_timeout);
  auto [ec, n] = co_await net::async_write(stream, http::make_chunk_last(), use_tuple);
  co_return !ec;
}

// Keeps the server's count of connections and its close hook for one connection's lifetime.
class ConnectionGuard {
 public:
  ConnectionGuard(std::shared_ptr<HttpServer::Impl> srv, PoolKind pool,
                  std::function<void()> closer)
      : s_(std::move(srv)), id_(s_->next_id++) {
    s_->connections.emplace(id_, Connection{std::move(closer), pool});
    ++s_->pools[pool].active;
  }
  ~ConnectionGuard() {
    auto it = s_->connections.find(id_);
    Pool& pool = s_->pools[it->second.pool];
    if (it->second.evicted) pool.evicting = false;
    s_->connections.erase(it);
    --pool.active;
    pool.capacity.cancel();
  }
  ConnectionGuard(const ConnectionGuard&) = delete;
  ConnectionGuard& operator=(const ConnectionGuard&) = delete;

  void set(ConnState state) {
    Connection& c = s_->connections.at(id_);
    c.state = state;
    // A connection done answering may now be closed for a client waiting for room.
    if (state != ConnState::busy) s_->pools[c.pool].capacity.cancel();
  }

 private:
  std::shared_ptr<HttpServer::Impl> s_;
  std::uint64_t id_;
};

// Why a request whose header parsed must still be refused before its body is read, or nullopt.
// RFC 9112 §6.3: when Transfer-Encoding does not end in chunked the body's length is unknowable
// (Beast would quietly fall back to Content-Length or no body, which lets a request be smuggled
// past a proxy that reads it otherwise). §3.2: an HTTP/1.1 request carries exactly one Host.
std::optional<std::string> framing_problem(const http::request_parser<http::string_body>& parser) {
  const auto& h = parser.get();
  if (h.count(http::field::transfer_encoding) > 0 && !parser.chunked()) {
    std::string codings;
    auto [it, end] = h.equal_range(http::field::transfer_encoding);
    for (; it != end; ++it) codings += (codings.empty() ? "" : ", ") + std::string(it->value());
    return "unsupported Transfer-Encoding \"" + codings + "\": the final coding must be chunked";
  }
  const auto hosts = h.count(http::field::host);
  if (hosts == 0 && h.version() >= 11) return std::string("missing Host header");
  if (hosts > 1) return std::string("more than one Host header");
  return std::nullopt;
}

// Answers a request the server cannot read on from, then the caller closes the connection.
template <class Stream>
net::awaitable<void> answer_and_close(HttpServer::Impl& s, Stream& stream, Response reply) {
  reply.set_header("Server", "fleetd/" + s.ctx.options.version);
  // clang-tidy 14 takes co_await's own use of the awaitable for a use of `reply` after the move.
  // NOLINTNEXTLINE(bugprone-use-after-move)
  co_await write_response(s, stream, std::move(reply), 11, false);
}

constexpr std::size_t kFirstRead = 4096;

// Waits for the first byte of the next request (unless one is buffered already). False when the
// client closed, broke the connection or stayed silent for `wait`.
template <class Stream>
net::awaitable<bool> await_request(Stream& stream, beast::flat_buffer& buffer,
                                   std::chrono::milliseconds wait) {
  if (buffer.size() > 0) co_return true;
  lowest(stream).expires_after(wait);
  auto [ec, n] = co_await stream.async_read_some(buffer.prepare(kFirstRead), use_tuple);
  buffer.commit(n);
  co_return !ec || n > 0;
}

// Reads requests and answers them until the client or the server ends the connection.
template <class Stream>
net::awaitable<void> serve_requests(std::shared_ptr<HttpServer::Impl> s, Stream& stream,
                                    ConnectionGuard& guard) {
  beast::flat_buffer buffer;
  bool first = true;
  while (!s->stopped) {
    guard.set(ConnState::idle);
    if (!co_await await_request(stream, buffer,
                                first ? s->opts.header_timeout : s->opts.idle_timeout))
      co_return;
    first = false;
    guard.set(ConnState::reading);
    // One deadline for the whole request, from its first byte: a client dribbling its header
    // and then its body gets no more time than one sending it at once.
    const auto deadline = std::chrono::steady_clock::now() + s->opts.request_timeout;
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(s->opts.header_limit));
    parser.body_limit(s->opts.body_limit);
    lowest(stream).expires_after(std::min(s->opts.header_timeout, s->opts.request_timeout));
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
    if (!ec) {
      if (auto problem = framing_problem(parser)) {
        co_await answer_and_close(*s, stream, error_response(400, *problem));
        co_return;
      }
    }
    if (!ec && beast::iequals(parser.get()[http::field::expect], "100-continue")) {
      http::response<http::empty_body> cont{http::status::continue_, parser.get().version()};
      lowest(stream).expires_at(deadline);
      auto [wec, wn] = co_await http::async_write(stream, cont, use_tuple);
      ec = wec;
    }
    if (!ec) {
      lowest(stream).expires_at(deadline);
      std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, use_tuple);
    }
    if (ec == http::error::end_of_stream || ec == net::error::eof) co_return;
    if (ec) {
      std::optional<Response> reply;
      if (ec == http::error::body_limit) {
        reply = error_response(
            413, "request body too large (limit " + std::to_string(s->opts.body_limit) + " bytes)");
      } else if (ec == http::error::header_limit) {
        reply = error_response(431, "request header too large");
      } else if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
                 ec != http::error::partial_message) {
        reply = error_response(400, "malformed HTTP request: " + ec.message());
      }
      // The stream's framing is unknown after a parse error: answer, then close.
      if (reply) co_await answer_and_close(*s, stream, std::move(*reply));
      co_return;
    }
    guard.set(ConnState::busy);
    auto& breq = parser.get();
    const bool keep_alive = breq.keep_alive();
    Request req = to_request(breq);
    Response res = co_await handle(req, s->ctx);
    const bool again = keep_alive && !s->stopped;
    if (!co_await write_response(*s, stream, std::move(res), breq.version(), again)) co_return;
    if (!again) co_return;
  }
}

template <class Socket>
void shutdown_socket(Socket& sock) {
  beast::error_code ec;
  sock.shutdown(Socket::shutdown_send, ec);
  sock.close(ec);
}

net::awaitable<void> session_tcp(std::shared_ptr<HttpServer::Impl> s, tcp::socket sock) {
  tcp_stream stream(std::move(sock));
  ConnectionGuard guard(s, kTcpPool, [&stream] { shutdown_socket(stream.socket()); });
  beast::error_code ec;
  stream.socket().set_option(tcp::no_delay(true), ec);
  co_await serve_requests(s, stream, guard);
  shutdown_socket(stream.socket());
}

net::awaitable<void> session_unix(std::shared_ptr<HttpServer::Impl> s, local::socket sock) {
  unix_stream stream(std::move(sock));
  ConnectionGuard guard(s, kUnixPool, [&stream] { shutdown_socket(stream.socket()); });
  co_await serve_requests(s, stream, guard);
  shutdown_socket(stream.socket());
}

net::awaitable<void> session_tls(std::shared_ptr<HttpServer::Impl> s, tcp::socket sock) {
  tls_stream stream(tcp_stream(std::move(sock)), *s->tls_ctx);
  ConnectionGuard guard(s, kTcpPool, [&stream] { shutdown_socket(lowest(stream).socket()); });
  lowest(stream).expires_after(s->opts.header_timeout);
  auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
  if (ec) {
    log::debug("api", "tls handshake failed", {{"error", ec.message()}});
    co_return;
  }
  co_await serve_requests(s, stream, guard);
  lowest(stream).expires_after(std::chrono::seconds(2));
  co_await stream.async_shutdown(use_tuple);
  shutdown_socket(lowest(stream).socket());
}

// Returns once the pool has room for one more connection, closing a waiting one if need be. Woken
// when a connection ends or stops answering a request.
net::awaitable<void> make_room(std::shared_ptr<HttpServer::Impl> s, PoolKind kind) {
  Pool& pool = s->pools[kind];
  while (!s->stopped && pool.active >= s->opts.max_connections) {
    if (!pool.evicting) pool.evicting = s->evict_one(kind);
    co_await pool.capacity.async_wait(use_tuple);
  }
}

template <class Acceptor, class Session>
net::awaitable<void> accept_loop(std::shared_ptr<HttpServer::Impl> s, std::shared_ptr<Acceptor> acc,
                                 PoolKind kind, Session session) {
  // An accept that fails (EMFILE: out of file descriptors) leaves the client in the backlog, so
  // the next one fails at once too: without a pause this spun a core and flooded the journal.
  Backoff retry(std::chrono::milliseconds(5), std::chrono::milliseconds(1000));
  while (!s->stopped) {
    auto [ec, sock] = co_await acc->async_accept(use_tuple);
    if (s->stopped) co_return;
    if (ec) {
      if (ec == net::error::operation_aborted) co_return;
      log::warn("api", "accept failed", {{"error", ec.message()}});
      co_await sleep_for(retry.next());
      continue;
    }
    retry.reset();
    // Only a client that is actually there makes another one leave; while it waits for room,
    // no further connection is accepted.
    co_await make_room(s, kind);
    if (s->stopped) co_return;
    net::co_spawn(s->io, session(s, std::move(sock)), net::detached);
  }
}

}  // namespace

Status HttpServer::Impl::setup_tls() {
  if (tls_ctx || !opts.tls) return ok();
  try {
    ssl::context c(ssl::context::tls_server);
    c.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::single_dh_use);
    c.use_certificate_chain_file(opts.tls->cert_file);
    c.use_private_key_file(opts.tls->key_file, ssl::context::pem);
    if (!opts.tls->ca_file.empty()) {
      c.load_verify_file(opts.tls->ca_file);
      c.set_verify_mode(ssl::verify_peer |
                        (opts.tls->require_client_cert ? ssl::verify_fail_if_no_peer_cert : 0));
    }
    tls_ctx.emplace(std::move(c));
  } catch (const boost::system::system_error& e) {
    return fail(Errc::invalid_argument, std::string("TLS set-up failed: ") + e.what());
  }
  return ok();
}

Status HttpServer::Impl::bind_tcp(const std::string& spec) {
  // host:port, host may be [v6]
  auto colon = spec.rfind(':');
  if (colon == std::string::npos)
    return fail(Errc::invalid_argument, "tcp endpoint needs host:port: " + spec);
  std::string host = spec.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  unsigned port = 0;
  const std::string ps = spec.substr(colon + 1);
  auto [end, perr] = std::from_chars(ps.data(), ps.data() + ps.size(), port);
  if (perr != std::errc() || end != ps.data() + ps.size() || port > 65535)
    return fail(Errc::invalid_argument, "invalid port in endpoint: " + spec);
  beast::error_code ec;
  auto addr = net::ip::make_address(host, ec);
  if (ec) return fail(Errc::invalid_argument, "invalid address in endpoint: " + spec);
  tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  auto acc = std::make_shared<tcp::acceptor>(io);
  if (acc->open(ep.protocol(), ec); !ec) acc->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acc->bind(ep, ec);
  if (!ec) acc->listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail(Errc::unavailable, "cannot listen on tcp://" + spec + ": " + ec.message());
  auto bound = acc->local_endpoint(ec);
  Listener l;
  const std::string h = bound.address().is_v6() ? "[" + bound.address().to_string() + "]"
                                                : bound.address().to_string();
  l.endpoint = "tcp://" + h + ":" + std::to_string(bound.port());
  l.tls = opts.tls.has_value();
  l.tcp_acceptor = std::move(acc);
  listeners.push_back(std::move(l));
  return ok();
}

Status HttpServer::Impl::bind_unix(const std::string& path) {
  if (path.empty()) return fail(Errc::invalid_argument, "unix endpoint needs a path");
  // sockaddr_un holds the path and its NUL; a longer one cannot be bound (asio would throw).
  constexpr std::size_t kMaxPath = sizeof(sockaddr_un{}.sun_path) - 1;
  if (path.size() > kMaxPath)
    return fail(Errc::invalid_argument,
                "unix socket path " + path + " is " + std::to_string(path.size()) +
                    " bytes, longer than the limit of " + std::to_string(kMaxPath) + " bytes");
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return fail(Errc::invalid_argument, path + " exists and is not a socket");
    // A socket file nobody accepts on is left over from a dead server: replace it.
    local::socket probe(io);
    beast::error_code ec;
    probe.connect(local::endpoint(path), ec);
    if (!ec) return fail(Errc::already_exists, "a server is already listening on " + path);
    ::unlink(path.c_str());
  }
  auto acc = std::make_shared<local::acceptor>(io);
  beast::error_code ec;
  acc->open(local(), ec);
  // Nobody but us may connect between bind() and chmod().
  const mode_t old = ::umask(0177);
  if (!ec) acc->bind(local::endpoint(path), ec);
  ::umask(old);
  if (!ec) acc->listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail(Errc::unavailable, "cannot listen on unix://" + path + ": " + ec.message());
  if (::chmod(path.c_str(), static_cast<mode_t>(opts.unix_socket_mode)) != 0)
    return fail(Errc::unavailable, "cannot chmod " + path);
  Listener l;
  l.endpoint = "unix://" + path;
  l.unix_path = path;
  l.unix_acceptor = std::move(acc);
  listeners.push_back(std::move(l));
  return ok();
}

// A listening socket handed over by systemd (socket activation, LISTEN_FDS): fleet's own way of
// getting /var/run/fleet.sock. The socket file belongs to systemd, so it is never unlinked.
Status HttpServer::Impl::adopt_fd(const std::string& spec) {
  int fd = -1;
  auto [end, perr] = std::from_chars(spec.data(), spec.data() + spec.size(), fd);
  if (perr != std::errc() || end != spec.data() + spec.size() || fd < 0)
    return fail(Errc::invalid_argument, "invalid file descriptor endpoint: fd://" + spec);
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return fail(Errc::invalid_argument, "fd://" + spec + " is not a socket");
  beast::error_code ec;
  Listener l;
  if (addr.ss_family == AF_UNIX) {
    auto acc = std::make_shared<local::acceptor>(io);
    acc->assign(local(), fd, ec);
    if (ec) return fail(Errc::invalid_argument, "fd://" + spec + ": " + ec.message());
    l.endpoint = "unix://" + acc->local_endpoint(ec).path();
    l.unix_acceptor = std::move(acc);
  } else if (addr.ss_family == AF_INET || addr.ss_family == AF_INET6) {
    auto acc = std::make_shared<tcp::acceptor>(io);
    acc->assign(addr.ss_family == AF_INET ? tcp::v4() : tcp::v6(), fd, ec);
    if (ec) return fail(Errc::invalid_argument, "fd://" + spec + ": " + ec.message());
    auto bound = acc->local_endpoint(ec);
    l.endpoint = "tcp://" + bound.address().to_string() + ":" + std::to_string(bound.port());
    l.tls = opts.tls.has_value();
    l.tcp_acceptor = std::move(acc);
  } else {
    return fail(Errc::invalid_argument, "fd://" + spec + " is neither a unix nor a TCP socket");
  }
  listeners.push_back(std::move(l));
  return ok();
}

void HttpServer::Impl::close_all() {
  beast::error_code ec;
  for (auto& l : listeners) {
    if (l.tcp_acceptor) l.tcp_acceptor->close(ec);
    if (l.unix_acceptor) {
      l.unix_acceptor->close(ec);
      ::unlink(l.unix_path.c_str());
    }
  }
  listeners.clear();
  std::vector<std::function<void()>> closers;  // a closer may end a session, which erases itself
  for (auto& [id, c] : connections) closers.push_back(c.close);
  for (auto& close : closers) close();
  for (auto& pool : pools) pool.capacity.cancel();
}

bool HttpServer::Impl::evict_one(PoolKind kind) {
  for (ConnState state : {ConnState::idle, ConnState::reading}) {
    for (auto& [id, c] : connections) {
      if (c.pool != kind || c.state != state || c.evicted) continue;
      c.evicted = true;
      log::debug("api", "closing a waiting connection to make room",
                 {{"pool", kind == kUnixPool ? "unix" : "tcp"}});
      auto close = c.close;  // may not end the session at once; its guard clears `evicting`
      close();
      return true;
    }
  }
  return false;
}

HttpServer::HttpServer(net::io_context& io, ApiContext& ctx, HttpServerOptions opts)
    : impl_(std::make_shared<Impl>(io, ctx, std::move(opts))) {}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::start() {
  auto& s = *impl_;
  s.stopped = false;
  for (const auto& spec : s.opts.listen) {
    Status st = ok();
    if (spec.rfind("unix://", 0) == 0) {
      st = s.bind_unix(spec.substr(7));
    } else if (spec.rfind("tcp://", 0) == 0) {
      st = s.setup_tls();
      if (st) st = s.bind_tcp(spec.substr(6));
    } else if (spec.rfind("fd://", 0) == 0) {
      st = s.setup_tls();
      if (st) st = s.adopt_fd(spec.substr(5));
    } else {
      st = fail(Errc::invalid_argument,
                "unsupported endpoint (want unix://, tcp:// or fd://): " + spec);
    }
    if (!st) {
      s.close_all();
      return st;
    }
  }
  for (auto& l : s.listeners) {
    if (l.tcp_acceptor) {
      net::co_spawn(s.io,
                    accept_loop(impl_, l.tcp_acceptor, kTcpPool, l.tls ? session_tls : session_tcp),
                    net::detached);
    }
    if (l.unix_acceptor) {
      net::co_spawn(s.io, accept_loop(impl_, l.unix_acceptor, kUnixPool, session_unix),
                    net::detached);
    }
    log::info("api", "listening", {{"endpoint", l.endpoint}, {"tls", l.tls ? "true" : "false"}});
  }
  return ok();
}

void HttpServer::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->close_all();
}

std::vector<std::string> HttpServer::endpoints() const {
  std::vector<std::string> out;
  for (const auto& l : impl_->listeners) out.push_back(l.endpoint);
  return out;
}

std::size_t HttpServer::connection_count() const { return impl_->connections.size(); }

}  // namespace fleet::api::server
