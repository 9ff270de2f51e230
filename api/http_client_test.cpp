#include "api/http_client.h"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"

using namespace fleet::api;

TEST_CASE("endpoints parse the way fleetctl parses them") {
  auto unix_ep = parse_endpoint("unix:///var/run/fleet.sock");
  REQUIRE(unix_ep);
  CHECK(unix_ep.value().kind == Endpoint::Kind::unix_socket);
  CHECK(unix_ep.value().socket_path == "/var/run/fleet.sock");
  CHECK(unix_ep.value().base_path == "/fleet/v1/");

  auto http_ep = parse_endpoint("http://127.0.0.1:49153");
  REQUIRE(http_ep);
  CHECK(http_ep.value().kind == Endpoint::Kind::http);
  CHECK(http_ep.value().host == "127.0.0.1");
  CHECK(http_ep.value().port == "49153");

  auto prefixed = parse_endpoint("https://fleet.example/api/");
  REQUIRE(prefixed);
  CHECK(prefixed.value().port == "443");
  CHECK(prefixed.value().base_path == "/api/fleet/v1/");

  std::string warning;
  auto multi = parse_endpoint("http://a:1,http://b:2", &warning);
  REQUIRE(multi);
  CHECK(multi.value().host == "a");
  CHECK(warning == "multiple endpoints provided but only the first (http://a:1) is used");

  auto no_scheme = parse_endpoint("127.0.0.1:4001");
  REQUIRE_FALSE(no_scheme);
  CHECK(no_scheme.error().message == "URL scheme undefined");
  auto unix_host = parse_endpoint("unix://var/run/fleet.sock");
  REQUIRE_FALSE(unix_host);
  CHECK(unix_host.error().message == "unable to connect to host \"var\" with scheme \"unix\"");
}

TEST_CASE("an endpoint port must be a number from 1 to 65535") {
  // 99999 used to reach the resolver and connect to port 34463 (99999 mod 65536).
  for (std::string port : {"99999", "65536", "0", "http", "-1", "80x"}) {
    CAPTURE(port);
    auto ep = parse_endpoint("http://h:" + port);
    REQUIRE_FALSE(ep);
    CHECK(ep.error().message == "invalid port \"" + port + "\" in endpoint \"http://h:" + port +
                                    "\": expected a number from 1 to 65535");
  }
  CHECK_FALSE(parse_endpoint("https://[::1]:70000/api"));
  CHECK(parse_endpoint("http://h:65535").value().port == "65535");
  CHECK(parse_endpoint("https://[::1]:1/api").value().port == "1");
}

TEST_CASE("user information in an endpoint is refused without echoing the password") {
  auto ep = parse_endpoint("http://user:secret@host:4001");
  REQUIRE_FALSE(ep);
  CHECK(ep.error().message ==
        "user information (user:password@) in the endpoint URL is not supported: fleetd's API "
        "takes no passwords (use https with --cert-file and --key-file)");
  CHECK(ep.error().message.find("secret") == std::string::npos);
  CHECK_FALSE(parse_endpoint("https://admin@fleet.example/api"));
}

TEST_CASE("unit names are escaped in paths") {
  CHECK(url_escape("hello@1.service") == "hello@1.service");
  CHECK(url_escape("yes@no\\.service") == "yes@no%5C.service");
  CHECK(url_escape("a b/c") == "a%20b%2Fc");
}

namespace {

// A one-connection HTTP server on a unix socket that answers canned responses in order and
// records the requests it saw.
class CannedServer {
 public:
  // With `close_each`, the server closes the connection after every response (without saying
  // so), like a server dropping idle keep-alive connections.
  explicit CannedServer(std::vector<std::string> responses, bool close_each = false)
      : responses_(std::move(responses)), close_each_(close_each) {
    char dir[] = "/tmp/fleetapiXXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    dir_ = dir;
    path_ = dir_ + "/api.sock";
    fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(listen(fd_, 4) == 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~CannedServer() {
    thread_.join();
    close(fd_);
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }
  std::vector<std::string> requests;

 private:
  void serve() {
    int c = accept(fd_, nullptr, nullptr);
    std::string buf;
    for (std::size_t k = 0; k < responses_.size(); ++k) {
      const std::string& response = responses_[k];
      if (close_each_ && k > 0) {
        close(c);
        buf.clear();
        c = accept(fd_, nullptr, nullptr);
      }
      size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        char tmp[4096];
        ssize_t n = read(c, tmp, sizeof tmp);
        if (n <= 0) break;
        buf.append(tmp, static_cast<size_t>(n));
      }
      if (end == std::string::npos) break;
      size_t len = 0;
      auto cl = buf.find("Content-Length: ");
      if (cl != std::string::npos && cl < end) len = std::stoul(buf.substr(cl + 16));
      while (buf.size() < end + 4 + len) {
        char tmp[4096];
        ssize_t n = read(c, tmp, sizeof tmp);
        if (n <= 0) break;
        buf.append(tmp, static_cast<size_t>(n));
      }
      requests.push_back(buf.substr(0, end + 4 + len));
      buf.erase(0, end + 4 + len);
      (void)!write(c, response.data(), response.size());
    }
    // Hold the connection until the client closes it (lets a test see a client-side timeout).
    char tmp[256];
    while (read(c, tmp, sizeof tmp) > 0) {
    }
    close(c);
  }
  std::vector<std::string> responses_;
  bool close_each_ = false;
  std::string dir_, path_;
  int fd_ = -1;
  std::thread thread_;
};

std::string json_response(int code, const std::string& body, const std::string& extra = "") {
  return "HTTP/1.1 " + std::to_string(code) + " X\r\nContent-Type: application/json\r\n" + extra +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::unique_ptr<HttpApiClient> client_for(
    const std::string& path, std::chrono::milliseconds timeout = std::chrono::seconds(3)) {
  HttpClientOptions opts;
  opts.request_timeout = timeout;
  opts.endpoint = parse_endpoint("unix://" + path).value();
  return std::move(HttpApiClient::create(opts).value());
}

}  // namespace

TEST_CASE("unit summaries ask for the basic view on every page and take a full answer too") {
  // The second page is what a server without the view sends: options, no hash or Global flag.
  std::string big(200 * 1024, 'x');  // a body many reads long
  std::vector<std::string> responses = {
      json_response(200, R"({"units":[{"name":"a.service","hash":"h1","global":true,)"
                         R"("description":")" +
                             big + R"("}],"nextPageToken":"ZAACAA=="})"),
      json_response(200, R"({"units":[{"name":"b.service","options":[{"section":"Service",)"
                         R"("name":"ExecStart","value":"/bin/true"}]}]})"),
  };
  CannedServer server(responses);
  auto client = client_for(server.path());
  auto units = client->list_unit_summaries();
  REQUIRE(units);
  REQUIRE(units.value().size() == 2);
  CHECK(units.value()[0].hash == "h1");
  CHECK(units.value()[0].global == std::optional<bool>(true));
  CHECK(units.value()[0].description == big);
  CHECK_FALSE(units.value()[1].global);
  CHECK(units.value()[1].options.size() == 1);
  client.reset();
  REQUIRE(server.requests.size() == 2);
  CHECK(server.requests[0].rfind("GET /fleet/v1/units?view=basic HTTP/1.1\r\n", 0) == 0);
  CHECK(server.requests[1].rfind("GET /fleet/v1/units?view=basic&nextPageToken=ZAACAA%3D%3D ", 0) ==
        0);
}

TEST_CASE("the HTTP client follows page tokens over one keep-alive connection") {
  std::vector<std::string> responses = {
      json_response(200, R"({"units":[{"name":"a.service"}],"nextPageToken":"ZAACAA=="})"),
      json_response(200, R"({"units":[{"name":"b.service"}]})"),
      json_response(404, R"({"error":{"code":404,"message":"unit does not exist"}})"),
      json_response(409, R"({"error":{"code":409,"message":"must provide DesiredState"}})"),
      "HTTP/1.1 200 OK\r\nFleet-Exit-Code: 3\r\nContent-Length: 5\r\n\r\ndead\n",
  };
  CannedServer server(responses);
  auto client = client_for(server.path());
  auto units = client->list_units();
  REQUIRE(units);
  REQUIRE(units.value().size() == 2);
  CHECK(units.value()[1].name == "b.service");
  auto missing = client->get_unit("x@1.service");
  REQUIRE(missing);
  CHECK_FALSE(missing.value().has_value());
  auto conflict = client->set_desired_state("a.service", "launched");
  REQUIRE_FALSE(conflict);
  CHECK(conflict.error().message == "googleapi: Error 409: must provide DesiredState");
  CHECK(conflict.error().code == fleet::Errc::conflict);
  auto status = client->unit_status("a.service", "");
  REQUIRE(status);
  CHECK(status.value().text == "dead\n");
  CHECK(status.value().exit_code == 3);
  client.reset();
  REQUIRE(server.requests.size() == 5);
  CHECK(server.requests[0].rfind("GET /fleet/v1/units HTTP/1.1\r\n", 0) == 0);
  CHECK(server.requests[1].rfind("GET /fleet/v1/units?nextPageToken=ZAACAA%3D%3D ", 0) == 0);
  CHECK(server.requests[2].rfind("GET /fleet/v1/units/x@1.service ", 0) == 0);
  CHECK(server.requests[3].rfind("PUT /fleet/v1/units/a.service ", 0) == 0);
  CHECK(server.requests[3].find("Content-Type: application/json") != std::string::npos);
  CHECK(server.requests[3].find(R"({"desiredState":"launched","name":"a.service"})") !=
        std::string::npos);
}

TEST_CASE("several endpoints are tried in turn and the one that answers is kept") {
  auto list = parse_endpoints("unix:///nonexistent/a.sock, http://b:2");
  REQUIRE(list);
  REQUIRE(list.value().size() == 2);
  CHECK(list.value()[1].host == "b");
  CHECK_FALSE(parse_endpoints("unix:///a.sock,b:2"));

  std::vector<std::string> responses = {json_response(200, R"({"units":[{"name":"a.service"}]})"),
                                        json_response(200, R"({})")};
  CannedServer server(responses);
  HttpClientOptions opts;
  opts.endpoint = parse_endpoint("unix:///nonexistent/first.sock").value();
  opts.fallbacks = {parse_endpoint("unix:///nonexistent/second.sock").value(),
                    parse_endpoint("unix://" + server.path()).value()};
  auto client = std::move(HttpApiClient::create(opts).value());
  auto units = client->list_units();
  REQUIRE(units);
  CHECK(units.value().size() == 1);
  CHECK(client->list_units());  // the working endpoint is kept
  CHECK(server.requests.size() == 2);

  HttpClientOptions none;
  none.endpoint = parse_endpoint("unix:///nonexistent/first.sock").value();
  none.fallbacks = {parse_endpoint("unix:///nonexistent/second.sock").value()};
  auto down = std::move(HttpApiClient::create(none).value());
  auto r = down->list_machines();
  REQUIRE_FALSE(r);
  CHECK(r.error().code == fleet::Errc::unavailable);
  const std::string why =
      ": connect: no such file or directory (nothing is listening there: is fleetd running, and "
      "is --endpoint its API?)";
  CHECK(r.error().message ==
        "Get http://domain-sock/fleet/v1/machines: dial unix /nonexistent/first.sock" + why +
            "; Get http://domain-sock/fleet/v1/machines: dial unix /nonexistent/second.sock" + why);
  // Each request starts again from the first.
  auto again = down->list_machines();
  CHECK(again.error().message == r.error().message);
}

TEST_CASE("a missing socket is reported like fleetctl reports it") {
  auto client = client_for("/nonexistent/fleet.sock");
  auto r = client->list_machines();
  REQUIRE_FALSE(r);
  CHECK(r.error().code == fleet::Errc::unavailable);
  CHECK(r.error().message ==
        "Get http://domain-sock/fleet/v1/machines: dial unix /nonexistent/fleet.sock: connect: "
        "no such file or directory (nothing is listening there: is fleetd running, and is "
        "--endpoint its API?)");
}

TEST_CASE("a journal is streamed chunk by chunk and the sink can stop it") {
  std::string chunked =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
      "6\r\nline1\n\r\n6\r\nline2\n\r\n0\r\n\r\n";
  CannedServer server({chunked});
  auto client = client_for(server.path());
  std::string got;
  JournalOptions opts;
  opts.lines = 5;
  opts.follow = true;
  auto r = client->unit_journal("a.service", opts, [&](std::string_view chunk) {
    got += chunk;
    return true;
  });
  REQUIRE(r);
  CHECK(got == "line1\nline2\n");
  client.reset();
  REQUIRE(server.requests.size() == 1);
  CHECK(server.requests[0].rfind(
            "GET /fleet/v1/units/a.service/journal?lines=5&output=short&follow=1 ", 0) == 0);
}

TEST_CASE("a server that does not answer hits the request timeout") {
  CannedServer server({});
  auto client = client_for(server.path(), std::chrono::milliseconds(200));
  auto r = client->list_units();
  REQUIRE_FALSE(r);
  CHECK(r.error().code == fleet::Errc::timeout);
  CHECK(r.error().message ==
        "Get http://domain-sock/fleet/v1/units: i/o timeout (no answer within 0.2s, see "
        "--request-timeout)");
}

TEST_CASE("an error response without a message shows the body") {
  CannedServer server({"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 4\r\n\r\noops"});
  auto client = client_for(server.path());
  auto r = client->list_machines();
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "googleapi: got HTTP response code 502 with body: oops");
}

TEST_CASE("a kept-alive connection the server closed is re-opened once") {
  std::string machines = json_response(200, R"({"machines":[{"id":"m1"}]})");
  CannedServer server({machines, machines, machines}, true);
  auto client = client_for(server.path());
  for (int i = 0; i < 3; ++i) {
    auto r = client->list_machines();
    REQUIRE(r);
    CHECK(r.value().size() == 1);
  }
  client.reset();
  CHECK(server.requests.size() == 3);
}

TEST_CASE("batch calls send one request and map each result to the single call's status") {
  std::vector<std::string> responses = {
      json_response(200, R"({"results":[{"name":"a.service","code":204},)"
                         R"({"name":"b.service","code":404,"message":"unit does not exist"}]})"),
      json_response(200, R"({"results":[{"name":"a.service","code":204}]})"),
      json_response(200, R"({"results":[]})"),
  };
  CannedServer server(responses);
  auto client = client_for(server.path());
  const std::vector<std::pair<std::string, std::string>> changes = {{"a.service", "launched"},
                                                                    {"b.service", "launched"}};
  auto set = client->set_desired_states(changes);
  REQUIRE(set);
  REQUIRE(set.value().size() == 2);
  CHECK(set.value()[0]);
  REQUIRE_FALSE(set.value()[1]);
  CHECK(set.value()[1].error().code == fleet::Errc::not_found);
  CHECK(set.value()[1].error().message == "googleapi: Error 404: unit does not exist");
  const std::vector<std::string> names = {"a.service"};
  auto destroyed = client->destroy_units(names);
  REQUIRE(destroyed);
  REQUIRE(destroyed.value().size() == 1);
  CHECK(destroyed.value()[0]);
  // A server answering with the wrong number of results is an error, not a guess.
  auto short_answer = client->destroy_units(names);
  REQUIRE_FALSE(short_answer);
  client.reset();
  REQUIRE(server.requests.size() == 3);
  CHECK(server.requests[0].rfind("POST /fleet/v1/units:batchUpdate HTTP/1.1\r\n", 0) == 0);
  CHECK(server.requests[0].find(R"({"units":[{"desiredState":"launched","name":"a.service"},)"
                                R"({"desiredState":"launched","name":"b.service"}]})") !=
        std::string::npos);
  CHECK(server.requests[1].rfind("POST /fleet/v1/units:batchDelete HTTP/1.1\r\n", 0) == 0);
  CHECK(server.requests[1].find(R"({"units":[{"name":"a.service"}]})") != std::string::npos);
}

TEST_CASE("many new units are created by one batchCreate, or one PUT each against fleet") {
  std::vector<std::string> responses = {
      json_response(
          200, R"({"results":[{"name":"a.service","code":201},)"
               R"({"name":"b.service","code":409,"message":"unit b.service already exists"}]})"),
      json_response(405,
                    R"({"error":{"code":405,"message":"only GET, PUT and DELETE supported"}})"),
      "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
  };
  CannedServer server(responses);
  auto client = client_for(server.path());
  std::vector<fleet::api::Unit> units(2);
  units[0].name = "a.service";
  units[0].options = {{"Service", "ExecStart", "/bin/a"}};
  units[0].desired_state = "launched";
  units[1].name = "b.service";
  units[1].options = {{"Service", "ExecStart", "/bin/b"}};
  auto created = client->create_units(units);
  REQUIRE(created);
  REQUIRE(created.value().size() == 2);
  CHECK(created.value()[0]);
  CHECK(created.value()[1].error().code == fleet::Errc::conflict);
  // A server without the route (fleet's API): the same units, one PUT each.
  auto fallback = client->create_units(units);
  REQUIRE(fallback);
  CHECK(fallback.value().size() == 2);
  CHECK(fallback.value()[0]);
  CHECK(fallback.value()[1]);
  client.reset();
  REQUIRE(server.requests.size() == 4);
  CHECK(server.requests[0].rfind("POST /fleet/v1/units:batchCreate HTTP/1.1\r\n", 0) == 0);
  CHECK(server.requests[0].find(
            R"({"units":[{"desiredState":"launched","name":"a.service","options":[{"name":)"
            R"("ExecStart","section":"Service","value":"/bin/a"}]},{"name":"b.service",)") !=
        std::string::npos);
  CHECK(server.requests[1].rfind("POST /fleet/v1/units:batchCreate ", 0) == 0);
  CHECK(server.requests[2].rfind("PUT /fleet/v1/units/a.service ", 0) == 0);
  CHECK(server.requests[3].rfind("PUT /fleet/v1/units/b.service ", 0) == 0);
}

TEST_CASE("a unit repeated in a batch call is sent once and answered for every copy") {
  // The server refuses a batch naming a unit twice; `fleetctl destroy a b a` must still work.
  std::vector<std::string> responses = {
      json_response(200, R"({"results":[{"name":"a.service","code":204},)"
                         R"({"name":"b.service","code":404,"message":"unit does not exist"}]})"),
  };
  CannedServer server(responses);
  auto client = client_for(server.path());
  const std::vector<std::string> names = {"a.service", "b.service", "a.service"};
  auto destroyed = client->destroy_units(names);
  REQUIRE(destroyed);
  REQUIRE(destroyed.value().size() == 3);
  CHECK(destroyed.value()[0]);
  CHECK(destroyed.value()[1].error().code == fleet::Errc::not_found);
  CHECK(destroyed.value()[2]);
  client.reset();
  REQUIRE(server.requests.size() == 1);
  CHECK(server.requests[0].find(R"({"units":[{"name":"a.service"},{"name":"b.service"}]})") !=
        std::string::npos);
}

TEST_CASE("against a server without batch routes the client falls back to one call per unit") {
  std::vector<std::string> responses = {
      json_response(404, R"({"error":{"code":404,"message":"page not found"}})"),
      "HTTP/1.1 204 No Content\r\n\r\n",
      json_response(404, R"({"error":{"code":404,"message":"unit does not exist"}})"),
  };
  CannedServer server(responses);
  auto client = client_for(server.path());
  const std::vector<std::pair<std::string, std::string>> changes = {{"a.service", "loaded"},
                                                                    {"b.service", "loaded"}};
  auto set = client->set_desired_states(changes);
  REQUIRE(set);
  REQUIRE(set.value().size() == 2);
  CHECK(set.value()[0]);
  CHECK(set.value()[1].error().code == fleet::Errc::not_found);
  client.reset();
  REQUIRE(server.requests.size() == 3);
  CHECK(server.requests[0].rfind("POST /fleet/v1/units:batchUpdate ", 0) == 0);
  CHECK(server.requests[1].rfind("PUT /fleet/v1/units/a.service ", 0) == 0);
  CHECK(server.requests[2].rfind("PUT /fleet/v1/units/b.service ", 0) == 0);
}

namespace {
std::vector<std::string> g_debug_lines;
void keep_line(const fleet::log::Event& e) {
  std::string s(e.message);
  for (const auto& [k, v] : e.fields) s += " " + std::string(k) + "=" + std::string(v);
  g_debug_lines.push_back(s);
}
}  // namespace

TEST_CASE("with debug logging each request is logged with its outcome and duration") {
  std::vector<std::string> responses = {
      json_response(200, R"({"units":[]})"),
      json_response(404, R"({"error":{"code":404,"message":"unit does not exist"}})")};
  CannedServer server(responses);
  auto client = client_for(server.path());
  fleet::log::set_level(fleet::log::Level::debug);
  fleet::log::set_sink(&keep_line);
  (void)client->list_units();
  (void)client->get_unit("x.service");
  fleet::log::set_sink(nullptr);
  fleet::log::set_level(fleet::log::Level::info);
  REQUIRE(g_debug_lines.size() == 2);
  INFO(g_debug_lines[0]);
  CHECK(g_debug_lines[0].rfind("request method=GET url=", 0) == 0);
  CHECK(g_debug_lines[0].find("/fleet/v1/units status=200 ms=") != std::string::npos);
  CHECK(g_debug_lines[1].find("/fleet/v1/units/x.service status=404 ms=") != std::string::npos);
}
