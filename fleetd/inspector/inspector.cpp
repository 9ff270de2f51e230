#include "fleetd/inspector/inspector.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "api/http_client.h"
#include "api/schema.h"
#include "common/log.h"
#include "common/version.h"
#include "fleetd/inspector/subprocess.h"
#include "registry/registry.h"

namespace fleet::fleetd {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using api::CommandOutput;
using api::JournalOptions;
using api::server::BodyStream;
using api::server::Task;
using net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

namespace {

constexpr std::size_t kErrorBodyLimit = 64 * 1024;
constexpr std::size_t kPieceSize = 16 * 1024;

// A local journalctl's output as the response body; killing and reaping it when dropped.
class ProcessBodyStream : public BodyStream {
 public:
  explicit ProcessBodyStream(std::unique_ptr<Subprocess> child) : child_(std::move(child)) {}

  Task<Result<std::optional<std::string>>> next() override {
    auto piece = co_await child_->read_some();
    if (!piece) co_return piece.error();
    if (!piece.value()) (void)co_await child_->wait();  // journalctl closes stdout at exit
    co_return std::move(piece).value();
  }

 private:
  std::unique_ptr<Subprocess> child_;
};

// One proxied GET: the connection and its response parser once the header has arrived.
struct ProxyCall {
  explicit ProxyCall(net::any_io_executor ex) : stream(std::move(ex)) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  std::string machine;
};

Error transport_error(const ProxyCall& c, const std::string& url, const beast::error_code& ec) {
  return make_error(Errc::unavailable,
                    "machine " + c.machine + " at " + url + " is unreachable: " + ec.message());
}

// Reads the next piece of the body into `out` (empty at the end). `timeout` zero = no deadline.
Task<beast::error_code> read_piece(ProxyCall& c, std::string& out,
                                   std::chrono::milliseconds timeout) {
  out.clear();
  char tmp[kPieceSize];
  while (out.empty() && !c.parser.is_done()) {
    c.parser.get().body().data = tmp;
    c.parser.get().body().size = sizeof tmp;
    if (timeout.count() > 0)
      c.stream.expires_after(timeout);
    else
      c.stream.expires_never();
    auto [ec, n] = co_await http::async_read_some(c.stream, c.buffer, c.parser, use_tuple);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return ec;
    out.append(tmp, sizeof tmp - c.parser.get().body().size);
  }
  co_return beast::error_code{};
}

// Connects to `url` (an api_url), sends GET <base>/<path_and_query>, reads the response header.
Task<Result<std::unique_ptr<ProxyCall>>> start_call(net::any_io_executor ex, std::string url,
                                                    std::string machine, std::string path,
                                                    std::chrono::milliseconds timeout) {
  auto ep = api::parse_endpoint(url);
  if (!ep || ep.value().kind != api::Endpoint::Kind::http)
    co_return fail(Errc::unavailable, "machine " + machine + " publishes an unusable API URL \"" +
                                          url + "\" (only http:// is supported)");
  auto call = std::make_unique<ProxyCall>(ex);
  call->machine = machine;
  tcp::resolver resolver(ex);
  auto [rec, results] =
      co_await resolver.async_resolve(ep.value().host, ep.value().port, use_tuple);
  if (rec) co_return transport_error(*call, url, rec);
  call->stream.expires_after(timeout);
  auto [cec, endpoint] = co_await call->stream.async_connect(results, use_tuple);
  if (cec) co_return transport_error(*call, url, cec);

  http::request<http::empty_body> req{http::verb::get, ep.value().base_path + path, 11};
  req.set(http::field::host, ep.value().host + ":" + ep.value().port);
  req.set(http::field::user_agent, std::string("fleetd/") + fleet::version());
  req.set(kProxiedHeader, "1");
  call->stream.expires_after(timeout);
  auto [wec, wn] = co_await http::async_write(call->stream, req, use_tuple);
  if (wec) co_return transport_error(*call, url, wec);
  call->parser.body_limit(boost::none);
  call->stream.expires_after(timeout);
  auto [hec, hn] =
      co_await http::async_read_header(call->stream, call->buffer, call->parser, use_tuple);
  if (hec) co_return transport_error(*call, url, hec);

  int code = static_cast<int>(call->parser.get().result_int());
  if (code == 200) co_return call;
  // An API error: keep the remote's message so the client reads what the owner said.
  std::string body;
  std::string piece;
  while (!call->parser.is_done() && body.size() < kErrorBodyLimit) {
    if (auto ec = co_await read_piece(*call, piece, timeout); ec) break;
    body += piece;
  }
  auto err = api::decode_api_error(body);
  std::string message = err && !err.value().message.empty()
                            ? err.value().message
                            : "machine " + machine + " answered HTTP " + std::to_string(code);
  co_return fail(api::errc_for_http_status(code), std::move(message));
}

// A remote journal relayed piece by piece.
class ProxyBodyStream : public BodyStream {
 public:
  ProxyBodyStream(std::unique_ptr<ProxyCall> call, std::string url, std::chrono::milliseconds t)
      : call_(std::move(call)), url_(std::move(url)), timeout_(t) {}

  Task<Result<std::optional<std::string>>> next() override {
    if (call_->parser.is_done()) co_return std::optional<std::string>();
    std::string piece;
    if (auto ec = co_await read_piece(*call_, piece, timeout_); ec)
      co_return transport_error(*call_, url_, ec);
    if (piece.empty()) co_return std::optional<std::string>();
    co_return std::optional<std::string>(std::move(piece));
  }

 private:
  std::unique_ptr<ProxyCall> call_;
  std::string url_;
  std::chrono::milliseconds timeout_;  // zero while following
};

}  // namespace

Status validate_unit_argument(std::string_view unit) {
  std::string shown(unit);
  if (unit.empty()) return fail(Errc::invalid_argument, "unit name is empty");
  if (unit.front() == '-')
    return fail(Errc::invalid_argument, "invalid unit name \"" + shown + "\": starts with '-'");
  for (unsigned char c : unit) {
    if (c == '/')
      return fail(Errc::invalid_argument, "invalid unit name \"" + shown + "\": contains '/'");
    if (c < 0x20 || c == 0x7f)
      return fail(Errc::invalid_argument,
                  "invalid unit name \"" + shown + "\": contains a control character");
  }
  return ok();
}

std::vector<std::string> status_command(const InspectorOptions& opts, const std::string& unit) {
  return {opts.systemctl, "status", "-l", "--no-pager", "--full", unit};
}

std::vector<std::string> journal_command(const InspectorOptions& opts, const std::string& unit,
                                         const JournalOptions& journal) {
  std::vector<std::string> argv{
      opts.journalctl, "--unit", unit,
      "--no-pager",    "-n",     std::to_string(std::max(journal.lines, 0))};
  if (!journal.output.empty()) {
    argv.push_back("--output");
    argv.push_back(journal.output);
  }
  if (journal.follow) argv.push_back("-f");
  return argv;
}

LocalInspector::LocalInspector(net::any_io_executor ex, registry::Registry& registry,
                               std::string self_machine_id, InspectorOptions opts)
    : ex_(std::move(ex)),
      registry_(registry),
      self_(std::move(self_machine_id)),
      opts_(std::move(opts)) {}

LocalInspector::~LocalInspector() = default;

Task<Result<std::string>> LocalInspector::api_url_of(const std::string& machine) {
  auto machines = co_await registry_.list_machines();
  if (!machines) co_return machines.error();
  const registry::MachineRecord* target = nullptr;
  const registry::MachineRecord* self = nullptr;
  for (const auto& m : machines.value()) {
    if (m.id == machine) target = &m;
    if (m.id == self_) self = &m;
  }
  if (!target) co_return fail(Errc::not_found, "machine " + machine + " is not in the cluster");
  if (target->api_url.empty())
    co_return fail(Errc::not_found, "machine " + machine + " publishes no API URL");
  // Two machines announcing one URL (e.g. both the default loopback one) would make us ask
  // ourselves for a machine that is not us, forever.
  if (self && self->api_url == target->api_url)
    co_return fail(Errc::unavailable,
                   "machine " + machine + " publishes this machine's API URL " + target->api_url);
  co_return target->api_url;
}

Task<Result<CommandOutput>> LocalInspector::status(std::string unit, std::string machine) {
  if (auto st = validate_unit_argument(unit); !st) co_return st.error();
  if (machine != self_) {
    auto url = co_await api_url_of(machine);
    if (!url) co_return url.error();
    auto call = co_await start_call(
        ex_, url.value(), machine,
        "units/" + api::url_escape(unit) + "/status?machineID=" + api::url_escape(machine),
        opts_.proxy_timeout);
    if (!call) co_return call.error();
    ProxyCall& c = *call.value();
    CommandOutput out;
    if (auto h = c.parser.get().find("Fleet-Exit-Code"); h != c.parser.get().end())
      out.exit_code = std::atoi(std::string(h->value()).c_str());
    std::string piece;
    while (!c.parser.is_done()) {
      if (auto ec = co_await read_piece(c, piece, opts_.proxy_timeout); ec)
        co_return transport_error(c, url.value(), ec);
      if (out.text.size() + piece.size() > opts_.max_status_output)
        co_return fail(Errc::internal, "status of " + unit + " from machine " + machine +
                                           " exceeds " + std::to_string(opts_.max_status_output) +
                                           " bytes");
      out.text += piece;
    }
    co_return out;
  }
  auto res = co_await Subprocess::run(ex_, status_command(opts_, unit), opts_.status_timeout,
                                      opts_.max_status_output);
  if (!res) {
    log::warn("inspector", "cannot run systemctl",
              {{"unit", unit}, {"error", res.error().describe()}});
    co_return fail(Errc::internal, "running " + opts_.systemctl + ": " + res.error().message);
  }
  if (res.value().timed_out)
    co_return fail(Errc::timeout, opts_.systemctl + " status " + unit + " did not finish within " +
                                      std::to_string(opts_.status_timeout.count()) + " ms");
  co_return CommandOutput{std::move(res.value().output), res.value().exit_code};
}

Task<Result<std::shared_ptr<BodyStream>>> LocalInspector::journal(std::string unit,
                                                                  std::string machine,
                                                                  JournalOptions options) {
  if (auto st = validate_unit_argument(unit); !st) co_return st.error();
  if (machine != self_) {
    auto url = co_await api_url_of(machine);
    if (!url) co_return url.error();
    std::string path =
        "units/" + api::url_escape(unit) + "/journal?lines=" + std::to_string(options.lines);
    if (!options.output.empty()) path += "&output=" + api::url_escape(options.output);
    if (options.follow) path += "&follow=true";
    path += "&machineID=" + api::url_escape(machine);
    auto call = co_await start_call(ex_, url.value(), machine, path, opts_.proxy_timeout);
    if (!call) co_return call.error();
    auto timeout = options.follow ? std::chrono::milliseconds(0) : opts_.proxy_timeout;
    co_return std::shared_ptr<BodyStream>(
        std::make_shared<ProxyBodyStream>(std::move(call).value(), url.value(), timeout));
  }
  auto child = Subprocess::spawn(ex_, journal_command(opts_, unit, options));
  if (!child) {
    log::warn("inspector", "cannot run journalctl",
              {{"unit", unit}, {"error", child.error().describe()}});
    co_return fail(Errc::internal, "running " + opts_.journalctl + ": " + child.error().message);
  }
  co_return std::shared_ptr<BodyStream>(
      std::make_shared<ProcessBodyStream>(std::move(child).value()));
}

}  // namespace fleet::fleetd
