// LocalInspector: local commands (scripts standing in for systemctl/journalctl) and the proxy
// path against a real HttpServer on loopback with a FakeUnitInspector behind it.

#include "fleetd/inspector/inspector.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <cerrno>
#include <filesystem>
#include <fstream>

#include "api/server/api_test_fixture.h"
#include "api/server/http_server.h"
#include "common/testing/temp_dir.h"

using namespace fleet;
using namespace fleet::fleetd;
using namespace fleet::api::server;
using namespace fleet::api::server::testing;
using fleet::testing::run_until;
namespace net = boost::asio;
using namespace std::chrono_literals;

namespace {

struct TempDir : fleet::testing::TempDir {
  TempDir() : fleet::testing::TempDir("fleetd-inspector-test") {}
  // An executable shell script named `name` with `body`.
  std::string script(const std::string& name, const std::string& body) {
    auto p = path / name;
    std::ofstream(p) << "#!/bin/sh\n" << body << "\n";
    ::chmod(p.c_str(), 0755);
    return p.string();
  }
};

bool gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

// Reads a whole body stream.
std::string drain(net::io_context& io, BodyStream& s) {
  std::string all;
  while (true) {
    auto piece = run_sync(io, s.next());
    REQUIRE(piece);
    if (!piece.value()) return all;
    all += *piece.value();
  }
}

// Machine "m1" (us, the inspector's side) and "m2", whose API is a real HttpServer on loopback
// with the fixture's FakeUnitInspector behind it. Both share the fixture's registry.
struct ProxyFixture : ApiFixture {
  std::unique_ptr<HttpServer> server;
  std::string m2_url;
  InspectorOptions opts;

  ProxyFixture() {
    HttpServerOptions so;
    so.listen = {"tcp://127.0.0.1:0"};
    server = std::make_unique<HttpServer>(io, ctx, so);
    auto st = server->start();
    REQUIRE(st);
    m2_url = "http://" + server->endpoints()[0].substr(std::string("tcp://").size());
    announce("m1", "http://127.0.0.1:1");
    announce("m2", m2_url);
    create("a.service", "launched");
    opts.proxy_timeout = 5s;
  }
  void announce(const std::string& id, const std::string& url) {
    registry::MachineRecord m;
    m.id = id;
    m.public_ip = "127.0.0.1";
    m.api_url = url;
    auto r = run_sync(io, reg.put_machine(m, 0));
    REQUIRE(r);
  }
  LocalInspector inspector_for(const std::string& self) {
    return LocalInspector(io.get_executor(), reg, self, opts);
  }
};

}  // namespace

TEST_CASE("unit names that could be taken for options or paths are rejected") {
  CHECK(validate_unit_argument("a.service"));
  CHECK(validate_unit_argument("web@1.service"));
  CHECK(validate_unit_argument("a\\x2db.service"));
  for (const std::string& bad : std::vector<std::string>{"", "-a.service", "--help", "../a.service",
                                                         "a/b.service", "a\nb.service"}) {
    auto st = validate_unit_argument(bad);
    REQUIRE_FALSE(st);
    CHECK(st.error().code == Errc::invalid_argument);
  }
}

TEST_CASE("command lines for systemctl and journalctl") {
  InspectorOptions o;
  CHECK(status_command(o, "a.service") ==
        std::vector<std::string>{"systemctl", "status", "-l", "--no-pager", "--full", "a.service"});
  api::JournalOptions j;
  j.lines = 20;
  j.output = "cat";
  j.follow = true;
  CHECK(journal_command(o, "a.service", j) ==
        std::vector<std::string>{"journalctl", "--unit", "a.service", "--no-pager", "-n", "20",
                                 "--output", "cat", "-f"});
}

TEST_CASE("own machine: status runs systemctl and returns its output and exit code") {
  net::io_context io;
  registry::MemoryKv kv{io.get_executor()};
  registry::Registry reg{kv, "/fleet/"};
  TempDir dir;
  InspectorOptions o;
  o.systemctl = dir.script("systemctl", "echo \"$@\"; echo oops >&2; exit 3");
  LocalInspector insp(io.get_executor(), reg, "m1", o);
  auto r = run_sync(io, insp.status("a.service", "m1"));
  REQUIRE(r);
  CHECK(r.value().text == "status -l --no-pager --full a.service\noops\n");
  CHECK(r.value().exit_code == 3);

  auto bad = run_sync(io, insp.status("-x.service", "m1"));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::invalid_argument);
}

TEST_CASE("own machine: a systemctl that hangs is killed at the deadline") {
  net::io_context io;
  registry::MemoryKv kv{io.get_executor()};
  registry::Registry reg{kv, "/fleet/"};
  TempDir dir;
  InspectorOptions o;
  o.systemctl = dir.script("systemctl", "sleep 30");
  o.status_timeout = 200ms;
  LocalInspector insp(io.get_executor(), reg, "m1", o);
  auto r = run_sync(io, insp.status("a.service", "m1"), 5s);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::timeout);
}

TEST_CASE("own machine: the journal streams journalctl's output") {
  net::io_context io;
  registry::MemoryKv kv{io.get_executor()};
  registry::Registry reg{kv, "/fleet/"};
  TempDir dir;
  InspectorOptions o;
  o.journalctl = dir.script("journalctl", "echo \"$@\"");
  LocalInspector insp(io.get_executor(), reg, "m1", o);
  api::JournalOptions j;
  j.lines = 5;
  j.output = "cat";
  auto s = run_sync(io, insp.journal("a.service", "m1", j));
  REQUIRE(s);
  CHECK(drain(io, *s.value()) == "--unit a.service --no-pager -n 5 --output cat\n");
}

TEST_CASE("own machine: dropping a followed journal kills and reaps journalctl") {
  net::io_context io;
  registry::MemoryKv kv{io.get_executor()};
  registry::Registry reg{kv, "/fleet/"};
  TempDir dir;
  InspectorOptions o;
  o.journalctl = dir.script("journalctl", "echo $$; exec sleep 30");
  LocalInspector insp(io.get_executor(), reg, "m1", o);
  api::JournalOptions j;
  j.follow = true;
  auto s = run_sync(io, insp.journal("a.service", "m1", j));
  REQUIRE(s);
  auto first = run_sync(io, s.value()->next());
  REQUIRE(first);
  REQUIRE(first.value());
  pid_t pid = std::stoi(*first.value());
  CHECK_FALSE(gone(pid));
  s.value().reset();
  CHECK(run_until(
      io, [&] { return gone(pid); }, 5s));
}

TEST_CASE("another machine: status is asked from its API with its machine ID") {
  ProxyFixture f;
  f.inspector.set_status("a.service", "m2", {"● a.service - remote\n   Active: failed\n", 3});
  auto insp = f.inspector_for("m1");
  auto r = run_sync(f.io, insp.status("a.service", "m2"));
  REQUIRE_MESSAGE(r, (r ? "" : r.error().describe()));
  CHECK(r.value().text == "● a.service - remote\n   Active: failed\n");
  CHECK(r.value().exit_code == 3);
  // The remote answered for itself (machineID=m2) rather than proxying again.
  CHECK(f.inspector.calls() == std::vector<std::string>{"status a.service m2"});
}

TEST_CASE("another machine: the journal is relayed piece by piece") {
  ProxyFixture f;
  f.inspector.set_journal("a.service", "m2", {"one\n", "two\n", "three\n"});
  auto insp = f.inspector_for("m1");
  api::JournalOptions j;
  j.lines = 7;
  j.output = "short-iso";
  j.follow = true;
  auto s = run_sync(f.io, insp.journal("a.service", "m2", j));
  REQUIRE_MESSAGE(s, (s ? "" : s.error().describe()));
  CHECK(drain(f.io, *s.value()) == "one\ntwo\nthree\n");
  CHECK(f.inspector.calls() ==
        std::vector<std::string>{"journal a.service m2 lines=7 output=short-iso follow"});
}

TEST_CASE("another machine: its API errors keep their message and kind") {
  ProxyFixture f;
  auto insp = f.inspector_for("m1");
  f.inspector.set_failure(make_error(Errc::unavailable, "systemd is not answering"));
  auto r = run_sync(f.io, insp.status("a.service", "m2"));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::unavailable);
  CHECK(r.error().message == "systemd is not answering");
  f.inspector.set_failure(std::nullopt);

  auto missing = run_sync(f.io, insp.journal("nope.service", "m2", {}));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::not_found);
  CHECK(missing.error().message == "unit does not exist");
}

TEST_CASE("another machine: unknown, without API URL, unreachable or looping back") {
  ProxyFixture f;
  auto insp = f.inspector_for("m1");

  auto unknown = run_sync(f.io, insp.status("a.service", "m9"));
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code == Errc::not_found);

  f.announce("m3", "");
  auto no_url = run_sync(f.io, insp.journal("a.service", "m3", {}));
  REQUIRE_FALSE(no_url);
  CHECK(no_url.error().code == Errc::not_found);

  // A port that was just free: nothing listens there.
  std::string dead;
  {
    net::ip::tcp::acceptor a(f.io, {net::ip::make_address("127.0.0.1"), 0});
    dead = "http://127.0.0.1:" + std::to_string(a.local_endpoint().port());
  }
  f.announce("m4", dead);
  auto unreachable = run_sync(f.io, insp.status("a.service", "m4"));
  REQUIRE_FALSE(unreachable);
  CHECK(unreachable.error().code == Errc::unavailable);

  f.announce("m5", "unix:///run/fleet.sock");
  auto unusable = run_sync(f.io, insp.status("a.service", "m5"));
  REQUIRE_FALSE(unusable);
  CHECK(unusable.error().code == Errc::unavailable);

  // m2 and m6 announce one URL: asking it for m6 would reach m2 again.
  f.announce("m6", f.m2_url);
  auto m2_insp = f.inspector_for("m2");
  auto loop = run_sync(f.io, m2_insp.status("a.service", "m6"));
  REQUIRE_FALSE(loop);
  CHECK(loop.error().code == Errc::unavailable);
  CHECK(f.inspector.calls().empty());
}

TEST_CASE("a fleetd does not proxy again what another fleetd proxied to it") {
  ProxyFixture f;
  f.ctx.machine_id = "m2";  // the server is m2's API
  // m7 wrongly announces m2's address: m1 asks m2 for m7, and m2 must not pass it on.
  f.announce("m7", f.m2_url);
  auto insp = f.inspector_for("m1");
  auto r = run_sync(f.io, insp.status("a.service", "m7"));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::unavailable);
  CHECK(r.error().message.find("check that machine's API URL") != std::string::npos);
  CHECK(f.inspector.calls().empty());
  // Asked for itself, m2 answers as before.
  auto own = run_sync(f.io, insp.status("a.service", "m2"));
  REQUIRE(own);
  CHECK(f.inspector.calls() == std::vector<std::string>{"status a.service m2"});
}

TEST_CASE("the API route of one fleetd answers through the API of the unit's machine") {
  ProxyFixture f;  // the HttpServer is m2's API, with the fake behind it
  f.ctx.machine_id = "m2";
  f.schedule("a.service", "m2");
  f.inspector.set_status("a.service", "m2", {"● a.service\n", 0});
  f.inspector.set_journal("a.service", "m2", {"l1\n", "l2\n"});
  // m1's API: same registry, LocalInspector in front.
  auto m1_inspector = f.inspector_for("m1");
  ApiContext m1_ctx{f.reg, ApiOptions{api::kPageTokenLimit, "test"}};
  m1_ctx.inspector = &m1_inspector;
  m1_ctx.machine_id = "m1";

  auto st =
      run_sync(f.io, handle(Request::make("GET", "/fleet/v1/units/a.service/status"), m1_ctx));
  CHECK(st.status == 200);
  CHECK(st.body == "● a.service\n");
  REQUIRE(st.header("Fleet-Exit-Code"));
  CHECK(*st.header("Fleet-Exit-Code") == "0");

  auto j = run_sync(
      f.io, handle(Request::make("GET", "/fleet/v1/units/a.service/journal?lines=3"), m1_ctx));
  CHECK(j.status == 200);
  REQUIRE(j.stream);
  CHECK(drain(f.io, *j.stream) == "l1\nl2\n");
  CHECK(
      f.inspector.calls() ==
      std::vector<std::string>{"status a.service m2", "journal a.service m2 lines=3 output=short"});
}
