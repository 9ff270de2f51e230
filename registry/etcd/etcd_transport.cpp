#include "registry/etcd/etcd_transport.h"

#include <sys/socket.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <deque>
#include <optional>

#include "common/log.h"
#include "registry/etcd/etcd_codec.h"

namespace fleet::registry::etcd {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
constexpr std::uint64_t kMaxReplyBytes = 512u << 20;
constexpr milliseconds kFirstBackoff{25};
constexpr milliseconds kMaxBackoff{1000};

struct Endpoint {
  bool tls = false;
  std::string host, port, host_header, url;
};

Result<Endpoint> parse_endpoint(std::string_view url) {
  Endpoint ep;
  ep.url = std::string(url);
  if (url.starts_with("https://")) {
    ep.tls = true;
    url.remove_prefix(8);
  } else if (url.starts_with("http://")) {
    url.remove_prefix(7);
  } else if (url.find("://") != std::string_view::npos) {
    return fail(Errc::invalid_argument, "etcd: unsupported endpoint scheme: " + ep.url);
  }
  while (url.ends_with('/')) url.remove_suffix(1);
  ep.host_header = std::string(url);
  std::string_view host = url, port = "2379";
  if (url.starts_with('[')) {  // [v6]:port
    auto close = url.find(']');
    if (close == std::string_view::npos)
      return fail(Errc::invalid_argument, "etcd: bad endpoint " + ep.url);
    host = url.substr(1, close - 1);
    if (close + 1 < url.size() && url[close + 1] == ':') port = url.substr(close + 2);
  } else if (auto colon = url.rfind(':'); colon != std::string_view::npos) {
    host = url.substr(0, colon);
    port = url.substr(colon + 1);
  }
  if (host.empty() || port.empty() ||
      port.find_first_not_of("0123456789") != std::string_view::npos) {
    return fail(Errc::invalid_argument, "etcd: bad endpoint " + ep.url);
  }
  ep.host = std::string(host);
  ep.port = std::string(port);
  return ep;
}

// One HTTP/1.1 connection to one member, plain or TLS.
struct Conn {
  std::optional<beast::tcp_stream> tcp;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buf;

  beast::tcp_stream& lowest() { return tls ? tls->next_layer() : *tcp; }
  void close() {
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().socket().close(ec);
  }
  // A pooled connection whose member closed it (or died) reads EOF/error at once; sending on
  // it would make a write's outcome look unknown when it surely was never received.
  bool stale() {
    if (!lowest().socket().is_open()) return true;
    char c;
    auto n = ::recv(lowest().socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }
  template <class F>
  auto visit(F&& f) {
    return tls ? f(*tls) : f(*tcp);
  }
};

http::request<http::string_body> make_request(const Endpoint& ep, std::string path,
                                              std::string body, bool require_leader,
                                              const std::string& token) {
  http::request<http::string_body> req{http::verb::post, path, 11};
  req.set(http::field::host, ep.host_header);
  req.set(http::field::content_type, "application/json");
  if (require_leader) req.set("Grpc-Metadata-hasleader", "true");
  if (!token.empty()) req.set(http::field::authorization, token);
  req.keep_alive(true);
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

bool has(std::string_view body, std::string_view what) {
  return body.find(what) != std::string_view::npos;
}

}  // namespace

class TransportImpl final : public Transport, public std::enable_shared_from_this<TransportImpl> {
 public:
  TransportImpl(asio::io_context& ioc, EtcdConfig config, std::vector<Endpoint> eps,
                std::optional<ssl::context> tls)
      : ioc_(ioc),
        config_(std::move(config)),
        eps_(std::move(eps)),
        tls_(std::move(tls)),
        idle_(eps_.size()) {}

  Task<Result<HttpReply>> post(std::string path, std::string body, CallOptions opts) override {
    auto self = shared_from_this();  // config_ is read after the request
    const auto t0 = Clock::now();
    const std::string op = path.substr(path.rfind('/') + 1);
    Result<HttpReply> reply =
        fail(Errc::timeout, "etcd: " + path +
                                ": deadline passed waiting "
                                "for one of " +
                                std::to_string(config_.max_in_flight) + " request slots");
    if (opts.urgent) {
      reply = co_await post_authenticated(std::move(path), std::move(body), opts);
    } else if (co_await take_slot(t0 + config_.request_timeout)) {
      reply = co_await post_authenticated(std::move(path), std::move(body), opts);
      give_slot();
    }
    if (config_.on_request) {
      const bool ok = reply && reply.value().status / 100 == 2;
      config_.on_request(op, std::chrono::duration<double>(Clock::now() - t0).count(), ok);
    }
    co_return reply;
  }

  Task<Result<HttpReply>> post_authenticated(std::string path, std::string body, CallOptions opts) {
    auto self = shared_from_this();
    auto deadline = Clock::now() + config_.request_timeout;
    if (auto st = co_await ensure_token(deadline); !st) co_return st.error();
    auto reply = co_await post_raw(path, body, opts, deadline, true);
    if (reply && reply.value().status == 401 && auth_enabled() &&
        has(reply.value().body, "auth token")) {
      // The token expired (etcd's simple tokens time out) or the member restarted: the request
      // was rejected before it ran, so authenticating again and resending is safe.
      token_.clear();
      if (auto st = co_await ensure_token(deadline); !st) co_return st.error();
      reply = co_await post_raw(std::move(path), std::move(body), opts, deadline, true);
    }
    co_return reply;
  }

  std::shared_ptr<LineStream> open_stream() override;

  // One of EtcdConfig::max_in_flight slots, waited for until `deadline`; false when it passed first
  // (or the wait was cancelled).
  Task<bool> take_slot(Clock::time_point deadline) {
    if (in_flight_ < std::max<std::size_t>(1, config_.max_in_flight)) {
      ++in_flight_;
      co_return true;
    }
    auto waiter = std::make_shared<SlotWaiter>(ioc_, deadline);
    slot_waiters_.push_back(waiter);
    (void)co_await waiter->timer.async_wait(kUse);
    if (waiter->granted) co_return true;  // handed over by give_slot()
    std::erase(slot_waiters_, waiter);
    co_return false;
  }
  void give_slot() {
    if (!slot_waiters_.empty()) {
      auto next = std::move(slot_waiters_.front());
      slot_waiters_.pop_front();
      next->granted = true;
      next->timer.cancel();
      return;
    }
    --in_flight_;
  }

  bool auth_enabled() const { return !config_.username.empty(); }

  Task<Status> ensure_token(Clock::time_point deadline) {
    if (!auth_enabled() || !token_.empty()) co_return ok();
    auto reply = co_await post_raw("/v3/auth/authenticate",
                                   encode_authenticate(config_.username, config_.password),
                                   {.idempotent = true, .require_leader = false}, deadline, false);
    if (!reply) co_return reply.error();
    auto token = decode_authenticate(reply.value().status, reply.value().body);
    if (!token) co_return token.error();
    token_ = std::move(token).value();
    co_return ok();
  }

  // Moves calls and new streams off endpoint `i` (unless someone already did).
  void rotate(std::size_t i, std::string_view why) {
    if (current_ != i) return;
    current_ = (i + 1) % eps_.size();
    if (eps_.size() > 1) {
      log::warn("etcd", "switching endpoint",
                {{"from", eps_[i].url}, {"to", eps_[current_].url}, {"reason", why}});
    }
  }

  Task<Result<std::unique_ptr<Conn>>> connect(std::size_t i, Clock::time_point deadline) {
    const Endpoint& ep = eps_[i];
    auto conn = std::make_unique<Conn>();
    tcp::resolver resolver(ioc_);
    auto [rec, results] = co_await resolver.async_resolve(ep.host, ep.port, kUse);
    if (rec) co_return fail(Errc::unavailable, "etcd: resolve " + ep.url + ": " + rec.message());
    if (ep.tls) {
      conn->tls.emplace(ioc_, *tls_);
    } else {
      conn->tcp.emplace(ioc_);
    }
    conn->lowest().expires_at(deadline);
    auto [cec, peer] = co_await conn->lowest().async_connect(results, kUse);
    if (cec) {
      co_return fail(cec == beast::error::timeout ? Errc::timeout : Errc::unavailable,
                     "etcd: connect " + ep.url + ": " + cec.message());
    }
    beast::error_code ignored;
    conn->lowest().socket().set_option(tcp::no_delay(true), ignored);
    conn->lowest().socket().set_option(asio::socket_base::keep_alive(true), ignored);
    if (ep.tls) {
      boost::system::error_code addr_ec;
      asio::ip::make_address(ep.host, addr_ec);
      if (addr_ec) SSL_set_tlsext_host_name(conn->tls->native_handle(), ep.host.c_str());
      conn->tls->set_verify_callback(ssl::host_name_verification(ep.host));
      auto [hec] = co_await conn->tls->async_handshake(ssl::stream_base::client, kUse);
      if (hec) {
        co_return fail(hec == beast::error::timeout ? Errc::timeout : Errc::unavailable,
                       "etcd: TLS handshake with " + ep.url + ": " + hec.message());
      }
    }
    co_return conn;
  }

  Task<Result<std::unique_ptr<Conn>>> acquire(std::size_t i, Clock::time_point deadline) {
    auto& pool = idle_[i];
    while (!pool.empty()) {
      auto conn = std::move(pool.back());
      pool.pop_back();
      if (!conn->stale()) co_return conn;
      conn->close();
    }
    co_return co_await connect(i, deadline);
  }

  void release(std::size_t i, std::unique_ptr<Conn> conn) {
    if (idle_[i].size() < config_.max_in_flight) {  // a steady load reuses its connections
      idle_[i].push_back(std::move(conn));
    } else {
      conn->close();
    }
  }

  // Waits `d`, but never past `deadline`; false when the deadline leaves no time to wait.
  Task<bool> backoff(milliseconds& d, Clock::time_point deadline) {
    auto now = Clock::now();
    if (now + d >= deadline) co_return false;
    asio::steady_timer timer(ioc_, d);
    co_await timer.async_wait(kUse);
    d = std::min(d * 2, kMaxBackoff / 2);
    co_return true;
  }

  Task<Result<HttpReply>> post_raw(std::string path, std::string body, CallOptions opts,
                                   Clock::time_point deadline, bool with_token) {
    Error last{Errc::unavailable, "etcd: no endpoint answered"};
    milliseconds delay = kFirstBackoff;
    std::size_t misses = 0;  // endpoints that failed in a row
    while (Clock::now() < deadline) {
      if (misses > 0 && misses % eps_.size() == 0) {
        if (!co_await backoff(delay, deadline)) break;
      }
      std::size_t i = current_;
      auto conn = co_await acquire(i, deadline);
      if (!conn) {  // nothing was sent: safe to try the next member
        last = conn.error();
        rotate(i, last.message);
        ++misses;
        continue;
      }
      auto c = std::move(conn).value();
      auto req = make_request(eps_[i], path, body, opts.require_leader,
                              with_token ? token_ : std::string());
      http::response_parser<http::string_body> parser;
      parser.body_limit(kMaxReplyBytes);
      c->lowest().expires_at(deadline);
      auto ec = co_await c->visit([&](auto& s) -> Task<beast::error_code> {
        auto [wec, wn] = co_await http::async_write(s, req, kUse);
        if (wec) co_return wec;
        auto [rec, rn] = co_await http::async_read(s, c->buf, parser, kUse);
        co_return rec;
      });
      if (ec) {
        c->close();
        bool timed_out = ec == beast::error::timeout;
        last = Error{timed_out ? Errc::timeout : Errc::unavailable,
                     "etcd: " + path + " on " + eps_[i].url +
                         (timed_out ? ": deadline passed" : ": connection lost: " + ec.message()) +
                         (opts.idempotent ? "" : " (outcome unknown)")};
        rotate(i, last.message);
        if (!opts.idempotent) co_return last;
        ++misses;
        continue;
      }
      auto& res = parser.get();
      HttpReply reply{res.result_int(), std::move(res.body())};
      if (res.keep_alive()) {
        c->lowest().expires_never();
        release(i, std::move(c));
      } else {
        c->close();
      }
      // 502/503/504 say "this member cannot serve now" (no leader, stopping, timed out); other
      // statuses are answers that another member would give just the same.
      if (reply.status == 502 || reply.status == 503 || reply.status == 504) {
        // "no leader" is refused before anything is proposed: safe to resend anywhere.
        bool safe = opts.idempotent || has(reply.body, "no leader");
        last = error_from_reply(reply.status, reply.body);
        if (!safe) co_return reply;
        rotate(i, last.message);
        ++misses;
        continue;
      }
      co_return reply;
    }
    if (last.code == Errc::unavailable && last.message.find("no endpoint") == std::string::npos) {
      last.message += " (deadline passed)";
    }
    co_return outcome::failure(std::move(last));
  }

  asio::io_context& ioc_;
  EtcdConfig config_;
  std::vector<Endpoint> eps_;
  std::optional<ssl::context> tls_;
  std::vector<std::vector<std::unique_ptr<Conn>>> idle_;
  std::size_t current_ = 0;
  std::string token_;
  std::size_t in_flight_ = 0;
  struct SlotWaiter {
    SlotWaiter(asio::io_context& ioc, Clock::time_point deadline) : timer(ioc, deadline) {}
    asio::steady_timer timer;
    bool granted = false;
  };
  std::deque<std::shared_ptr<SlotWaiter>> slot_waiters_;
};

class LineStreamImpl final : public LineStream,
                             public std::enable_shared_from_this<LineStreamImpl> {
 public:
  explicit LineStreamImpl(std::shared_ptr<TransportImpl> t) : t_(std::move(t)), timer_(t_->ioc_) {}

  Task<Status> open(std::string path, std::string body) override {
    auto self = shared_from_this();
    reset(false);
    milliseconds delay = kFirstBackoff;
    std::size_t misses = 0;
    while (!closed_) {
      if (misses > 0 && misses % t_->eps_.size() == 0) {
        if (auto st = co_await sleep(delay); !st) co_return st;
        delay = std::min(delay * 2, kMaxBackoff);
      }
      ep_ = t_->current_;
      auto deadline = Clock::now() + t_->config_.request_timeout;
      auto failed = [&](std::string why) {
        reset(false);
        t_->rotate(ep_, why);
        ++misses;
      };
      if (auto st = co_await t_->ensure_token(deadline); !st) {
        failed(st.error().message);
        continue;
      }
      auto conn = co_await t_->connect(ep_, deadline);
      if (closed_) break;
      if (!conn) {
        failed(conn.error().message);
        continue;
      }
      conn_ = std::move(conn).value();
      parser_.emplace();
      parser_->body_limit(boost::none);  // the limit counts the whole endless body
      auto req = make_request(t_->eps_[ep_], path, body, true, t_->token_);
      conn_->lowest().expires_at(deadline);
      auto ec = co_await conn_->visit([&](auto& s) -> Task<beast::error_code> {
        auto [wec, wn] = co_await http::async_write(s, req, kUse);
        if (wec) co_return wec;
        auto [rec, rn] = co_await http::async_read_header(s, conn_->buf, *parser_, kUse);
        co_return rec;
      });
      if (closed_) break;
      if (ec) {
        failed("watch request: " + ec.message());
        continue;
      }
      if (auto status = parser_->get().result_int(); status != 200) {
        std::string err;
        while (err.size() < 65536 && !parser_->is_done()) {
          auto chunk = co_await read_some();
          if (!chunk) break;
          err += chunk.value();
        }
        if (status == 401 && has(err, "auth token")) t_->token_.clear();
        failed(error_from_reply(status, err).message);
        continue;
      }
      conn_->lowest().expires_never();  // idle watches are legitimately silent
      co_return ok();
    }
    co_return fail(Errc::cancelled, "etcd: watch cancelled");
  }

  Task<Result<std::string>> next_line() override {
    auto self = shared_from_this();
    while (true) {
      if (closed_) co_return fail(Errc::cancelled, "etcd: watch cancelled");
      if (auto nl = pending_.find('\n', scanned_); nl != std::string::npos) {
        std::string line = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        scanned_ = 0;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        co_return line;
      }
      scanned_ = pending_.size();
      if (!conn_ || !parser_) co_return fail(Errc::unavailable, "etcd: watch stream not open");
      if (parser_->is_done()) co_return fail(Errc::unavailable, "etcd: watch stream ended");
      auto chunk = co_await read_some();
      if (closed_) co_return fail(Errc::cancelled, "etcd: watch cancelled");
      if (!chunk) co_return chunk.error();
      pending_ += chunk.value();
    }
  }

  void reset(bool failed) override {
    if (conn_) conn_->close();
    conn_.reset();
    parser_.reset();
    pending_.clear();
    scanned_ = 0;
    if (failed) t_->rotate(ep_, "watch stream failed");
  }

  void close() override {
    closed_ = true;
    timer_.cancel();
    // Aborts a pending read; the connection object stays alive until the reader resumes.
    if (conn_) conn_->close();
  }

  Task<Status> sleep(milliseconds d) override {
    auto self = shared_from_this();
    if (closed_) co_return fail(Errc::cancelled, "etcd: watch cancelled");
    timer_.expires_after(d);
    co_await timer_.async_wait(kUse);
    if (closed_) co_return fail(Errc::cancelled, "etcd: watch cancelled");
    co_return ok();
  }

 private:
  Task<Result<std::string>> read_some() {
    parser_->get().body().data = buf_.data();
    parser_->get().body().size = buf_.size();
    auto [ec, n] = co_await conn_->visit(
        [&](auto& s) { return http::async_read_some(s, conn_->buf, *parser_, kUse); });
    if (ec == http::error::need_buffer) ec = {};
    // Our own caller stopped waiting (e.g. `next() || timer`): not a broken stream.
    if (ec == asio::error::operation_aborted)
      co_return fail(Errc::cancelled, "etcd: watch wait abandoned");
    if (ec) co_return fail(Errc::unavailable, "etcd: watch stream broke: " + ec.message());
    co_return std::string(buf_.data(), buf_.size() - parser_->get().body().size);
  }

  std::shared_ptr<TransportImpl> t_;
  asio::steady_timer timer_;
  std::unique_ptr<Conn> conn_;
  std::optional<http::response_parser<http::buffer_body>> parser_;
  std::array<char, 16384> buf_{};
  std::string pending_;
  std::size_t scanned_ = 0;  // pending_[0, scanned_) holds no newline
  std::size_t ep_ = 0;
  bool closed_ = false;
};

std::shared_ptr<LineStream> TransportImpl::open_stream() {
  return std::make_shared<LineStreamImpl>(shared_from_this());
}

Result<std::shared_ptr<Transport>> make_transport(asio::io_context& ioc, const EtcdConfig& config) {
  if (config.endpoints.empty()) return fail(Errc::invalid_argument, "etcd: no endpoints given");
  std::vector<Endpoint> eps;
  bool any_tls = false;
  for (const auto& url : config.endpoints) {
    auto ep = parse_endpoint(url);
    if (!ep) return ep.error();
    any_tls = any_tls || ep.value().tls;
    eps.push_back(std::move(ep).value());
  }
  std::optional<ssl::context> tls;
  if (any_tls || !config.ca_file.empty() || !config.cert_file.empty()) {
    try {
      tls.emplace(ssl::context::tls_client);
      tls->set_verify_mode(ssl::verify_peer);
      if (config.ca_file.empty()) {
        tls->set_default_verify_paths();
      } else {
        tls->load_verify_file(config.ca_file);
      }
      if (!config.cert_file.empty()) tls->use_certificate_chain_file(config.cert_file);
      if (!config.key_file.empty()) tls->use_private_key_file(config.key_file, ssl::context::pem);
    } catch (const boost::system::system_error& e) {
      return fail(Errc::invalid_argument, std::string("etcd: TLS setup: ") + e.what());
    }
  }
  return std::shared_ptr<Transport>(
      std::make_shared<TransportImpl>(ioc, config, std::move(eps), std::move(tls)));
}

}  // namespace fleet::registry::etcd
