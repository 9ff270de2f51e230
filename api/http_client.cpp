#include "api/http_client.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string_view>

#include "common/log.h"
#include "common/strings.h"

namespace fleet::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using beast::error_code;

namespace {

using UnixStream = beast::basic_stream<asio::local::stream_protocol>;
using TcpStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

struct Response {
  int status = 0;
  std::string body;
  int exit_code = 0;
};

// Go prints syscall errors in lower case ("connect: connection refused").
std::string describe(const error_code& ec) {
  if (ec == beast::error::timeout) return "i/o timeout";
  std::string m = ec.message();
  if (!m.empty()) m[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(m[0])));
  return m;
}

std::string go_method(http::verb v) {
  switch (v) {
    case http::verb::get:
      return "Get";
    case http::verb::put:
      return "Put";
    case http::verb::delete_:
      return "Delete";
    default:
      return std::string(http::to_string(v));
  }
}

bool is_stale_connection(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::ssl::error::stream_truncated;
}

}  // namespace

std::string url_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '@' || c == ':') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Result<Endpoint> parse_endpoint(std::string_view text, std::string* warning) {
  auto parts = split(text, ',');
  std::string first = std::string(trim(parts.front()));
  if (parts.size() > 1 && warning) {
    *warning = "multiple endpoints provided but only the first (" + first + ") is used";
  }
  Endpoint ep;
  ep.url = first;
  auto colon = first.find("://");
  if (colon == std::string::npos || colon == 0) {
    return fail(Errc::invalid_argument, "URL scheme undefined");
  }
  std::string scheme = to_lower(first.substr(0, colon));
  std::string rest = first.substr(colon + 3);
  auto slash = rest.find('/');
  std::string host = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  if (scheme == "unix" || scheme == "file") {
    if (!host.empty()) {
      return fail(Errc::invalid_argument,
                  "unable to connect to host \"" + host + "\" with scheme \"" + scheme + "\"");
    }
    ep.kind = Endpoint::Kind::unix_socket;
    ep.socket_path = path;
    ep.base_path = "/fleet/v1/";
    return ep;
  }
  if (scheme != "http" && scheme != "https") {
    return fail(Errc::invalid_argument, "unsupported URL scheme \"" + scheme + "\"");
  }
  ep.kind = scheme == "https" ? Endpoint::Kind::https : Endpoint::Kind::http;
  // fleet's Go client turned user:password@ into basic auth, which fleetd never reads; taking it
  // for part of the host name sent "user:pw@host" to the resolver. Refused, never echoed.
  if (host.find('@') != std::string::npos) {
    return fail(Errc::invalid_argument,
                "user information (user:password@) in the endpoint URL is not supported: fleetd's "
                "API takes no passwords (use https with --cert-file and --key-file)");
  }
  if (!host.empty() && host.front() == '[') {  // [v6]:port
    auto close = host.find(']');
    ep.host = host.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    if (close != std::string::npos && close + 1 < host.size() && host[close + 1] == ':') {
      ep.port = host.substr(close + 2);
    }
  } else {
    auto c = host.rfind(':');
    ep.host = host.substr(0, c);
    if (c != std::string::npos) ep.port = host.substr(c + 1);
  }
  if (ep.host.empty()) return fail(Errc::invalid_argument, "URL host undefined");
  if (ep.port.empty()) ep.port = ep.kind == Endpoint::Kind::https ? "443" : "80";
  // The resolver reads a service name or wraps a number above 65535 (99999 became 34463).
  unsigned port = 0;
  auto [end, perr] = std::from_chars(ep.port.data(), ep.port.data() + ep.port.size(), port);
  if (perr != std::errc() || end != ep.port.data() + ep.port.size() || port < 1 || port > 65535)
    return fail(Errc::invalid_argument, "invalid port \"" + ep.port + "\" in endpoint \"" + first +
                                            "\": expected a number from 1 to 65535");
  while (!path.empty() && path.back() == '/') path.pop_back();
  ep.base_path = path + "/fleet/v1/";
  return ep;
}

Result<std::vector<Endpoint>> parse_endpoints(std::string_view text) {
  std::vector<Endpoint> out;
  if (text.empty()) return parse_endpoint(text).error();
  for (const auto& part : split(text, ',')) {
    BOOST_OUTCOME_TRY(auto ep, parse_endpoint(trim(part)));
    out.push_back(std::move(ep));
  }
  return out;
}

struct HttpApiClient::Impl {
  HttpClientOptions opts;
  asio::io_context ioc;
  std::optional<asio::ssl::context> ssl_ctx;
  std::unique_ptr<UnixStream> unix_stream;
  std::unique_ptr<TcpStream> tcp_stream;
  std::unique_ptr<TlsStream> tls_stream;
  beast::flat_buffer buffer;
  static constexpr std::size_t kReadChunk = 64 * 1024;
  std::vector<char> chunk;  // a response body is read through this, kReadChunk at a time
  bool connected = false;

  // Runs one asynchronous operation to completion; the streams' deadlines cancel it.
  template <class Init>
  error_code run(Init&& init) {
    error_code result = asio::error::would_block;
    init([&result](error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  template <class Layer>
  void arm(Layer& layer) {
    if (opts.request_timeout.count() > 0) {
      layer.expires_after(opts.request_timeout);
    } else {
      layer.expires_never();
    }
  }

  std::string url_of(const std::string& target) const {
    const Endpoint& ep = opts.endpoint;
    if (ep.kind == Endpoint::Kind::unix_socket) return "http://domain-sock" + target;
    return (ep.kind == Endpoint::Kind::https ? "https://" : "http://") + ep.host + ":" + ep.port +
           target;
  }

  void close() {
    error_code ignored;
    if (unix_stream) unix_stream->socket().close(ignored);
    if (tcp_stream) tcp_stream->socket().close(ignored);
    if (tls_stream) beast::get_lowest_layer(*tls_stream).socket().close(ignored);
    unix_stream.reset();
    tcp_stream.reset();
    tls_stream.reset();
    buffer.clear();
    connected = false;
  }

  // What a low-level error means for the user (fleetctl's old hint blamed etcd, which fleetctl
  // never talks to); Go's text before it is kept for scripts.
  std::string hint(const error_code& ec) const {
    if (ec == beast::error::timeout || ec == asio::error::timed_out) {
      auto ms = opts.request_timeout.count();
      std::string secs = std::to_string(ms / 1000);
      if (ms % 1000 != 0) secs += "." + std::to_string(ms % 1000 / 100);
      return " (no answer within " + secs + "s, see --request-timeout)";
    }
    if (ec == asio::error::connection_refused || ec == asio::error::not_found ||
        ec == boost::system::errc::no_such_file_or_directory) {
      return " (nothing is listening there: is fleetd running, and is --endpoint its API?)";
    }
    if (ec == boost::system::errc::permission_denied) {
      return " (not allowed to use the socket: fleetd's API socket is for root and its group)";
    }
    if (ec.category() == asio::error::get_ssl_category() &&
        ERR_GET_REASON(ec.value()) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
      return " (the server's certificate is not trusted: check --ca-file)";
    }
    return {};
  }

  // Connects to opts.endpoint, else to each fallback in turn, which then becomes opts.endpoint.
  // On failure: every endpoint's "<Method> <url>: <stage>: <why>", joined by "; ".
  std::optional<std::string> connect_any(http::verb verb, const std::string& target) {
    std::string errors;
    for (std::size_t i = 0; i <= opts.fallbacks.size(); ++i) {
      if (i > 0) std::swap(opts.endpoint, opts.fallbacks[i - 1]);
      auto err = connect();
      // The swaps keep the others in the order given.
      if (!err) return std::nullopt;
      close();
      if (!errors.empty()) errors += "; ";
      errors += go_method(verb) + " " + url_of(target) + ": " + *err;
    }
    // Back to the order given, for the next request.
    if (!opts.fallbacks.empty()) {
      opts.fallbacks.push_back(std::move(opts.endpoint));
      opts.endpoint = std::move(opts.fallbacks.front());
      opts.fallbacks.erase(opts.fallbacks.begin());
    }
    return errors;
  }

  // Returns "<stage>: <why>" on failure.
  std::optional<std::string> connect() {
    const Endpoint& ep = opts.endpoint;
    if (ep.kind == Endpoint::Kind::unix_socket) {
      unix_stream = std::make_unique<UnixStream>(ioc);
      arm(*unix_stream);
      auto ec = run([&](auto h) {
        unix_stream->async_connect(asio::local::stream_protocol::endpoint(ep.socket_path), h);
      });
      if (ec) return "dial unix " + ep.socket_path + ": connect: " + describe(ec) + hint(ec);
      connected = true;
      return std::nullopt;
    }
    asio::ip::tcp::resolver resolver(ioc);
    error_code ec;
    auto results = resolver.resolve(ep.host, ep.port, ec);
    if (ec) return "dial tcp: lookup " + ep.host + ": " + describe(ec);
    auto dial_error = [&](const error_code& e) {
      return "dial tcp " + ep.host + ":" + ep.port + ": connect: " + describe(e) + hint(e);
    };
    if (ep.kind == Endpoint::Kind::http) {
      tcp_stream = std::make_unique<TcpStream>(ioc);
      arm(*tcp_stream);
      ec = run([&](auto h) { tcp_stream->async_connect(results, h); });
      if (ec) return dial_error(ec);
      tcp_stream->socket().set_option(asio::ip::tcp::no_delay(true), ec);
      connected = true;
      return std::nullopt;
    }
    tls_stream = std::make_unique<TlsStream>(ioc, *ssl_ctx);
    if (!SSL_set_tlsext_host_name(tls_stream->native_handle(), ep.host.c_str())) {
      return std::string("tls: unable to set server name");
    }
    tls_stream->set_verify_callback(asio::ssl::host_name_verification(ep.host));
    auto& lowest = beast::get_lowest_layer(*tls_stream);
    arm(lowest);
    ec = run([&](auto h) { lowest.async_connect(results, h); });
    if (ec) return dial_error(ec);
    ec = run([&](auto h) { tls_stream->async_handshake(asio::ssl::stream_base::client, h); });
    if (ec) return "tls handshake: " + describe(ec) + hint(ec);
    connected = true;
    return std::nullopt;
  }

  template <class Stream>
  error_code exchange(Stream& s, http::request<http::string_body>& req, Response& res,
                      const std::function<bool(std::string_view)>* sink, bool& header_read) {
    auto& lowest = beast::get_lowest_layer(s);
    arm(lowest);
    auto ec = run([&](auto h) { http::async_write(s, req, h); });
    if (ec) return ec;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    ec = run([&](auto h) { http::async_read_header(s, buffer, parser, h); });
    if (ec) return ec;
    header_read = true;
    res.status = static_cast<int>(parser.get().result_int());
    auto code = parser.get().find("Fleet-Exit-Code");
    if (code != parser.get().end()) res.exit_code = std::atoi(std::string(code->value()).c_str());
    bool streaming = sink && res.status / 100 == 2;
    if (streaming) lowest.expires_never();  // a followed journal has no end
    // Beast reads as much as the buffer has room for: left at its first 512 bytes, a
    // 10,000-unit listing took ~4,500 reads, each with a wait and a timer reset.
    if (buffer.capacity() < kReadChunk) buffer.reserve(kReadChunk);
    chunk.resize(kReadChunk);
    char* const tmp = chunk.data();
    while (!parser.is_done()) {
      parser.get().body().data = tmp;
      parser.get().body().size = kReadChunk;
      ec = run([&](auto h) { http::async_read_some(s, buffer, parser, h); });
      if (ec == http::error::need_buffer) ec = {};
      if (ec) return ec;
      std::size_t got = kReadChunk - parser.get().body().size;
      if (streaming) {
        if (got > 0 && !(*sink)(std::string_view(tmp, got))) {
          close();
          return {};
        }
      } else {
        res.body.append(tmp, got);
      }
    }
    if (!parser.get().keep_alive()) close();
    return {};
  }

  // One API request; with debug logging on (fleetctl --debug) one line per request on stderr
  // with its outcome and duration.
  Result<Response> request(http::verb verb, const std::string& target, std::string body,
                           const std::function<bool(std::string_view)>* sink = nullptr) {
    const auto t0 = std::chrono::steady_clock::now();
    auto res = send(verb, target, std::move(body), sink);
    if (log::enabled(log::Level::debug)) {
      char ms[32];
      std::snprintf(
          ms, sizeof ms, "%.1f",
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      const std::string outcome = res ? std::to_string(res.value().status) : res.error().message;
      log::debug("fleetctl", "request",
                 {{"method", std::string(http::to_string(verb))},
                  {"url", url_of(target)},
                  {"status", outcome},
                  {"ms", ms}});
    }
    return res;
  }

  Result<Response> send(http::verb verb, const std::string& target, std::string body,
                        const std::function<bool(std::string_view)>* sink) {
    const Endpoint& ep = opts.endpoint;
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, ep.kind == Endpoint::Kind::unix_socket ? "domain-sock" : ep.host);
    req.set(http::field::user_agent, "fleetctl");
    req.keep_alive(true);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = std::move(body);
    }
    req.prepare_payload();
    for (int attempt = 0;; ++attempt) {
      bool reused = connected;
      if (!connected) {
        if (auto err = connect_any(verb, target)) return fail(Errc::unavailable, *err);
      }
      std::string what = go_method(verb) + " " + url_of(target) + ": ";
      Response res;
      bool header_read = false;
      error_code ec;
      if (unix_stream) {
        ec = exchange(*unix_stream, req, res, sink, header_read);
      } else if (tcp_stream) {
        ec = exchange(*tcp_stream, req, res, sink, header_read);
      } else {
        ec = exchange(*tls_stream, req, res, sink, header_read);
      }
      if (!ec) return res;
      close();
      // A kept-alive connection the server has since closed: retry once on a fresh one.
      if (reused && !header_read && attempt == 0 && is_stale_connection(ec)) continue;
      return fail(ec == beast::error::timeout ? Errc::timeout : Errc::unavailable,
                  what + describe(ec) + hint(ec));
    }
  }

  // Turns a non-2xx response into the googleapi-style error.
  static Status check(const Response& res) {
    if (res.status / 100 == 2) return ok();
    std::string message;
    if (auto e = decode_api_error(res.body)) message = e.value().message;
    return fail(errc_for_http_status(res.status), format_api_error(res.status, message, res.body));
  }

  template <class T>
  Result<T> parse(const Response& res, Result<T> (*decoder)(std::string_view)) {
    if (auto st = check(res); !st) return st.error();
    return decoder(res.body);
  }
};

HttpApiClient::HttpApiClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpApiClient::~HttpApiClient() = default;

Result<std::unique_ptr<HttpApiClient>> HttpApiClient::create(HttpClientOptions opts) {
  auto impl = std::make_unique<Impl>();
  impl->opts = std::move(opts);
  if (impl->opts.endpoint.kind == Endpoint::Kind::https) {
    auto& ctx = impl->ssl_ctx.emplace(asio::ssl::context::tls_client);
    error_code ec;
    // Unlike fleet (which skipped verification without a client certificate), the server is
    // always verified: against --ca-file, or the system's trust store.
    if (!impl->opts.ca_file.empty()) {
      ctx.load_verify_file(impl->opts.ca_file, ec);
      if (ec) return fail(Errc::invalid_argument, "unable to read CA file: " + describe(ec));
    } else {
      ctx.set_default_verify_paths(ec);
    }
    ctx.set_verify_mode(asio::ssl::verify_peer);
    if (!impl->opts.cert_file.empty() || !impl->opts.key_file.empty()) {
      ctx.use_certificate_chain_file(impl->opts.cert_file, ec);
      if (ec) return fail(Errc::invalid_argument, "unable to read cert file: " + describe(ec));
      ctx.use_private_key_file(impl->opts.key_file, asio::ssl::context::pem, ec);
      if (ec) return fail(Errc::invalid_argument, "unable to read key file: " + describe(ec));
    }
  }
  return std::unique_ptr<HttpApiClient>(new HttpApiClient(std::move(impl)));
}

namespace {

Result<std::vector<Unit>> list_units_in(HttpApiClient::Impl& impl, bool basic) {
  std::vector<Unit> out;
  std::string token;
  do {
    std::string target = impl.opts.endpoint.base_path + "units";
    const char* sep = "?";
    if (basic) {
      target += "?view=basic";
      sep = "&";
    }
    if (!token.empty()) target += sep + ("nextPageToken=" + url_escape(token));
    BOOST_OUTCOME_TRY(auto res, impl.request(http::verb::get, target, {}));
    BOOST_OUTCOME_TRY(auto page, impl.parse<UnitPage>(res, &decode_unit_page));
    for (auto& u : page.units) out.push_back(std::move(u));
    token = page.next_page_token;
  } while (!token.empty());
  return out;
}

}  // namespace

Result<std::vector<Unit>> HttpApiClient::list_units() { return list_units_in(*impl_, false); }

Result<std::vector<Unit>> HttpApiClient::list_unit_summaries() {
  return list_units_in(*impl_, true);
}

Result<std::optional<Unit>> HttpApiClient::get_unit(const std::string& name) {
  std::string target = impl_->opts.endpoint.base_path + "units/" + url_escape(name);
  BOOST_OUTCOME_TRY(auto res, impl_->request(http::verb::get, target, {}));
  if (res.status == 404) return std::optional<Unit>();
  BOOST_OUTCOME_TRY(auto unit, impl_->parse<Unit>(res, &decode_unit));
  return std::optional<Unit>(std::move(unit));
}

Status HttpApiClient::create_unit(const Unit& unit) {
  Unit body;
  body.name = unit.name;
  body.options = unit.options;
  body.desired_state = unit.desired_state;
  std::string target = impl_->opts.endpoint.base_path + "units/" + url_escape(unit.name);
  std::string json = encode(body);
  // Said here in the unit's terms rather than as the server's bare 413.
  if (json.size() > kMaxRequestBodyBytes) {
    return fail(Errc::invalid_argument,
                "unit too large: its API request would be " + std::to_string(json.size()) +
                    " bytes, the API accepts at most " + std::to_string(kMaxRequestBodyBytes));
  }
  BOOST_OUTCOME_TRY(auto res, impl_->request(http::verb::put, target, json));
  return Impl::check(res);
}

Status HttpApiClient::set_desired_state(const std::string& name, std::string_view state) {
  Unit body;
  body.name = name;
  body.desired_state = std::string(state);
  std::string target = impl_->opts.endpoint.base_path + "units/" + url_escape(name);
  BOOST_OUTCOME_TRY(auto res, impl_->request(http::verb::put, target, encode(body)));
  return Impl::check(res);
}

Status HttpApiClient::destroy_unit(const std::string& name) {
  std::string target = impl_->opts.endpoint.base_path + "units/" + url_escape(name);
  BOOST_OUTCOME_TRY(auto res, impl_->request(http::verb::delete_, target, {}));
  return Impl::check(res);
}

namespace {

// Units per batch request: ~100 KB of JSON, far below the server's 1 MiB body limit.
constexpr std::size_t kBatchChunk = 1000;

Status batch_status(const BatchResult& r) {
  if (r.code / 100 == 2) return ok();
  return fail(errc_for_http_status(r.code), format_api_error(r.code, r.message, {}));
}

// The server refuses a batch that names a unit twice, while callers may repeat one
// (`fleetctl stop a a ...`): each distinct entry is sent once and its answer given to every copy.
template <class T>
struct Distinct {
  std::vector<T> items;            // first occurrences, in order
  std::vector<std::size_t> where;  // per original entry, its index in `items`

  explicit Distinct(const std::vector<T>& all) {
    std::map<T, std::size_t> index;
    for (const auto& e : all) {
      auto [it, fresh] = index.emplace(e, items.size());
      if (fresh) items.push_back(e);
      where.push_back(it->second);
    }
  }
  std::vector<Status> spread(const std::vector<Status>& per_item) const {
    std::vector<Status> out;
    for (auto i : where) out.push_back(per_item[i]);
    return out;
  }
};

}  // namespace

// A server without the batch routes (fleet, an older fleetd) answers 404 or 405: then one call
// per unit, as before.
Result<std::optional<std::vector<Status>>> HttpApiClient::batch(const std::string& verb,
                                                                const UnitPage& body,
                                                                std::size_t count) {
  std::string target = impl_->opts.endpoint.base_path + "units:" + verb;
  BOOST_OUTCOME_TRY(auto res, impl_->request(http::verb::post, target, encode(body)));
  if (res.status == 404 || res.status == 405) return std::optional<std::vector<Status>>();
  BOOST_OUTCOME_TRY(auto results, impl_->parse<BatchResults>(res, &decode_batch_results));
  if (results.results.size() != count)
    return fail(Errc::internal, "the server answered " + std::to_string(results.results.size()) +
                                    " results for " + std::to_string(count) + " units");
  std::vector<Status> out;
  for (const auto& r : results.results) out.push_back(batch_status(r));
  return std::optional<std::vector<Status>>(std::move(out));
}

Result<std::vector<Status>> HttpApiClient::set_desired_states(
    const std::vector<std::pair<std::string, std::string>>& all) {
  const Distinct distinct(all);
  const auto& changes = distinct.items;
  std::vector<Status> out;
  for (std::size_t i = 0; i < changes.size(); i += kBatchChunk) {
    UnitPage body;
    for (std::size_t j = i; j < std::min(changes.size(), i + kBatchChunk); ++j) {
      Unit& u = body.units.emplace_back();
      u.name = changes[j].first;
      u.desired_state = changes[j].second;
    }
    BOOST_OUTCOME_TRY(auto part, batch("batchUpdate", body, body.units.size()));
    if (!part) {  // only the chunks not sent yet; earlier ones were applied
      const std::vector<std::pair<std::string, std::string>> rest(changes.begin() + i,
                                                                  changes.end());
      BOOST_OUTCOME_TRY(auto each, ApiClient::set_desired_states(rest));
      for (auto& st : each) out.push_back(std::move(st));
      return distinct.spread(out);
    }
    for (auto& st : *part) out.push_back(std::move(st));
  }
  return distinct.spread(out);
}

Result<std::vector<Status>> HttpApiClient::destroy_units(const std::vector<std::string>& all) {
  const Distinct distinct(all);
  const auto& names = distinct.items;
  std::vector<Status> out;
  for (std::size_t i = 0; i < names.size(); i += kBatchChunk) {
    UnitPage body;
    for (std::size_t j = i; j < std::min(names.size(), i + kBatchChunk); ++j)
      body.units.emplace_back().name = names[j];
    BOOST_OUTCOME_TRY(auto part, batch("batchDelete", body, body.units.size()));
    if (!part) {  // only the chunks not sent yet; earlier ones were applied
      const std::vector<std::string> rest(names.begin() + i, names.end());
      BOOST_OUTCOME_TRY(auto each, ApiClient::destroy_units(rest));
      for (auto& st : each) out.push_back(std::move(st));
      return distinct.spread(out);
    }
    for (auto& st : *part) out.push_back(std::move(st));
  }
  return distinct.spread(out);
}

namespace {

// Unit text per batchCreate request: its JSON stays well below the server's body limit (each
// option repeats its section; escapes grow some characters). A larger unit goes alone.
constexpr std::size_t kCreateChunkBytes = 1024 * 1024;

std::size_t text_bytes(const Unit& u) {
  std::size_t n = u.name.size();
  for (const auto& o : u.options) n += o.section.size() + o.name.size() + o.value.size();
  return n;
}

}  // namespace

Result<std::vector<Status>> HttpApiClient::create_units(const std::vector<Unit>& all) {
  std::vector<std::string> names;
  for (const auto& u : all) names.push_back(u.name);
  const Distinct distinct(names);
  std::set<std::string_view> seen;
  std::vector<const Unit*> units;  // first occurrences, in order: as distinct.items
  for (const auto& u : all)
    if (seen.insert(u.name).second) units.push_back(&u);
  std::vector<Status> out;
  for (std::size_t i = 0; i < units.size();) {
    UnitPage body;
    std::size_t bytes = 0;
    for (; i < units.size() && body.units.size() < kBatchChunk; ++i) {
      const std::size_t size = text_bytes(*units[i]);
      if (!body.units.empty() && bytes + size > kCreateChunkBytes) break;
      bytes += size;
      Unit& u = body.units.emplace_back();
      u.name = units[i]->name;
      u.options = units[i]->options;
      u.desired_state = units[i]->desired_state;
    }
    std::optional<std::vector<Status>> part;
    if (body.units.size() > 1 || bytes <= kCreateChunkBytes) {
      BOOST_OUTCOME_TRY(part, batch("batchCreate", body, body.units.size()));
    } else {  // one large unit: the single call says why it is too large
      part.emplace(1, create_unit(body.units.front()));
    }
    if (!part) {  // only the units not sent yet; earlier chunks were created
      const std::size_t from = i - body.units.size();
      for (std::size_t j = from; j < units.size(); ++j) out.push_back(create_unit(*units[j]));
      return distinct.spread(out);
    }
    for (auto& st : *part) out.push_back(std::move(st));
  }
  return distinct.spread(out);
}

Result<std::vector<UnitState>> HttpApiClient::list_unit_states(const StateFilter& filter) {
  std::vector<UnitState> out;
  std::string token;
  do {
    std::string query;
    auto add = [&](const char* key, const std::string& v) {
      if (v.empty()) return;
      query += (query.empty() ? "?" : "&") + std::string(key) + "=" + url_escape(v);
    };
    add("machineID", filter.machine_id);
    add("unitName", filter.unit_name);
    add("nextPageToken", token);
    BOOST_OUTCOME_TRY(
        auto res,
        impl_->request(http::verb::get, impl_->opts.endpoint.base_path + "state" + query, {}));
    BOOST_OUTCOME_TRY(auto page, impl_->parse<UnitStatePage>(res, &decode_unit_state_page));
    for (auto& s : page.states) out.push_back(std::move(s));
    token = page.next_page_token;
  } while (!token.empty());
  return out;
}

Result<std::vector<Machine>> HttpApiClient::list_machines() {
  std::vector<Machine> out;
  std::string token;
  do {
    std::string target = impl_->opts.endpoint.base_path + "machines";
    if (!token.empty()) target += "?nextPageToken=" + url_escape(token);
    BOOST_OUTCOME_TRY(auto res, impl_->request(http::verb::get, target, {}));
    BOOST_OUTCOME_TRY(auto page, impl_->parse<MachinePage>(res, &decode_machine_page));
    for (auto& m : page.machines) out.push_back(std::move(m));
    token = page.next_page_token;
  } while (!token.empty());
  return out;
}

Status HttpApiClient::set_maintenance(const std::string& machine, std::string_view action,
                                      bool force) {
  std::string target = impl_->opts.endpoint.base_path + "machines/" + url_escape(machine) + ":" +
                       std::string(action);
  std::string body = force ? R"({"force":true})" : "";
  BOOST_OUTCOME_TRY(auto res, impl_->request(http::verb::post, target, body));
  return Impl::check(res);
}

Result<RebootStatus> HttpApiClient::reboot_status() {
  BOOST_OUTCOME_TRY(auto res,
                    impl_->request(http::verb::get, impl_->opts.endpoint.base_path + "reboot", {}));
  return impl_->parse<RebootStatus>(res, &decode_reboot_status);
}

Status HttpApiClient::start_reboot(const std::vector<std::string>& machines, int max_unavailable,
                                   std::int64_t timeout_seconds) {
  nlohmann::json body{{"machines", machines}};
  if (max_unavailable > 0) body["maxUnavailable"] = max_unavailable;
  if (timeout_seconds > 0) body["timeoutSeconds"] = timeout_seconds;
  BOOST_OUTCOME_TRY(
      auto res,
      impl_->request(http::verb::post, impl_->opts.endpoint.base_path + "reboot", body.dump()));
  return Impl::check(res);
}

Result<std::vector<Rollout>> HttpApiClient::list_rollouts() {
  BOOST_OUTCOME_TRY(
      auto res, impl_->request(http::verb::get, impl_->opts.endpoint.base_path + "rollouts", {}));
  return impl_->parse<std::vector<Rollout>>(res, &decode_rollout_list);
}

Result<std::optional<Rollout>> HttpApiClient::get_rollout(const std::string& name) {
  BOOST_OUTCOME_TRY(
      auto res,
      impl_->request(http::verb::get,
                     impl_->opts.endpoint.base_path + "rollouts/" + url_escape(name), {}));
  if (res.status == 404) return std::optional<Rollout>();
  BOOST_OUTCOME_TRY(auto r, impl_->parse<Rollout>(res, &decode_rollout));
  return std::optional<Rollout>(std::move(r));
}

Result<Rollout> HttpApiClient::start_rollout(const RolloutRequest& request) {
  BOOST_OUTCOME_TRY(auto res,
                    impl_->request(http::verb::post, impl_->opts.endpoint.base_path + "rollouts",
                                   encode(request)));
  return impl_->parse<Rollout>(res, &decode_rollout);
}

Status HttpApiClient::abort_rollout(const std::string& name) {
  BOOST_OUTCOME_TRY(
      auto res,
      impl_->request(http::verb::delete_,
                     impl_->opts.endpoint.base_path + "rollouts/" + url_escape(name), {}));
  return Impl::check(res);
}

Status HttpApiClient::reboot_lock(std::string_view action, const std::string& machine, int max) {
  nlohmann::json body =
      action == "setMax" ? nlohmann::json{{"max", max}} : nlohmann::json{{"machine", machine}};
  BOOST_OUTCOME_TRY(auto res,
                    impl_->request(http::verb::post,
                                   impl_->opts.endpoint.base_path + "reboot:" + std::string(action),
                                   body.dump()));
  return Impl::check(res);
}

Result<CommandOutput> HttpApiClient::unit_status(const std::string& name,
                                                 const std::string& machine_id) {
  std::string target = impl_->opts.endpoint.base_path + "units/" + url_escape(name) + "/status";
  if (!machine_id.empty()) target += "?machineID=" + url_escape(machine_id);
  BOOST_OUTCOME_TRY(auto res, impl_->request(http::verb::get, target, {}));
  if (auto st = Impl::check(res); !st) return st.error();
  return CommandOutput{std::move(res.body), res.exit_code};
}

Result<CommandOutput> HttpApiClient::unit_journal(
    const std::string& name, const JournalOptions& opts,
    const std::function<bool(std::string_view)>& sink) {
  std::string target = impl_->opts.endpoint.base_path + "units/" + url_escape(name) +
                       "/journal?lines=" + std::to_string(opts.lines) +
                       "&output=" + url_escape(opts.output);
  if (opts.follow) target += "&follow=1";
  if (opts.sudo) target += "&sudo=1";
  BOOST_OUTCOME_TRY(auto res, impl_->request(http::verb::get, target, {}, &sink));
  if (auto st = Impl::check(res); !st) return st.error();
  return CommandOutput{{}, res.exit_code};
}

namespace {
Result<Event> parse_event(std::string_view line) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error{Errc::internal, "event not JSON"};
  Event e;
  e.position = j.value("position", std::int64_t{0});
  e.time = j.value("time", "");
  e.kind = j.value("kind", "");
  e.unit = j.value("unit", "");
  e.machine = j.value("machine", "");
  e.reason = j.value("reason", "");
  return e;
}
}  // namespace

Status HttpApiClient::events(const EventQuery& q, const std::function<bool(const Event&)>& sink) {
  std::string target =
      impl_->opts.endpoint.base_path + "events?follow=" + std::string(q.follow ? "true" : "false");
  for (const auto& u : q.units) target += "&unit=" + url_escape(u);
  if (!q.machine.empty()) target += "&machine=" + url_escape(q.machine);
  if (!q.since.empty()) target += "&since=" + url_escape(q.since);
  if (q.after) target += "&after=" + std::to_string(q.after);
  if (q.limit) target += "&limit=" + std::to_string(q.limit);
  if (!q.follow) {
    BOOST_OUTCOME_TRY(auto res, impl_->request(http::verb::get, target, {}));
    if (auto st = Impl::check(res); !st) return st.error();
    auto j = nlohmann::json::parse(res.body, nullptr, false);
    if (j.is_discarded() || !j.contains("events") || !j["events"].is_array())
      return Error{Errc::internal, "unexpected events response"};
    for (const auto& item : j["events"]) {
      auto e = parse_event(item.dump());
      if (e && !sink(e.value())) break;
    }
    return ok();
  }
  // Follow: JSON lines, split here since a chunk may end inside a line.
  std::string pending;
  bool stop = false;
  std::function<bool(std::string_view)> chunks = [&](std::string_view chunk) {
    pending += chunk;
    std::size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      auto e = parse_event(std::string_view(pending).substr(0, nl));
      pending.erase(0, nl + 1);
      if (e && !sink(e.value())) {
        stop = true;
        return false;
      }
    }
    return true;
  };
  auto res = impl_->request(http::verb::get, target, {}, &chunks);
  if (stop) return ok();
  if (!res) return res.error();
  return Impl::check(res.value());
}

}  // namespace fleet::api
