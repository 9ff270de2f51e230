// EtcdKv with etcd's user/password auth and with TLS (private CA, client certificates).
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/integration/etcd/etcd_fixture.h"

using namespace fleet;
using namespace fleet::registry;
using namespace fleet::testing;
using namespace std::chrono_literals;

namespace {

HttpResult post_ok(const std::string& ep, const std::string& path, const std::string& body,
                   std::vector<std::string> headers = {}) {
  auto r = http_request(ep, "POST", path, body, 5s, headers);
  INFO(path, " -> ", r.status, " ", r.body);
  REQUIRE(r.status == 200);
  return r;
}

Task<Result<WatchBatch>> first_event(KvStore& kv, std::string key, Revision from) {
  WatchRequest wr;
  wr.key = std::move(key);
  wr.start_revision = from;
  auto w = kv.watch(wr);
  co_return co_await w->next();
}

RangeRequest key(std::string k) {
  RangeRequest r;
  r.key = std::move(k);
  return r;
}

}  // namespace

TEST_CASE("auth: EtcdKv logs in, sends its token and logs in again when etcd drops it") {
  EtcdOptions o;
  o.label = "auth";
  EtcdFixture f(o);
  auto ep = f.etcd.endpoint(0);
  post_ok(ep, "/v3/auth/user/add", R"({"name":"root","password":"rootpw"})");
  post_ok(ep, "/v3/auth/role/add", R"({"name":"root"})");
  post_ok(ep, "/v3/auth/user/grant", R"({"user":"root","role":"root"})");
  post_ok(ep, "/v3/auth/enable", "{}");

  CHECK_FALSE(f.run(f.kv->put("/a", "anonymous")));  // f.kv has no credentials

  EtcdConfig wrong;
  wrong.endpoints = {ep};
  wrong.username = "root";
  wrong.password = "nope";
  auto bad = make_etcd_kv(f.ioc, wrong);
  auto denied = f.run(bad->put("/a", "x"));
  REQUIRE_FALSE(denied);
  CHECK(denied.error().message.find("authentication failed") != std::string::npos);

  EtcdConfig cfg = wrong;
  cfg.password = "rootpw";
  auto kv = make_etcd_kv(f.ioc, cfg);
  auto rev = f.run(kv->put("/a", "1"));
  REQUIRE(rev);
  auto ev = f.run(first_event(*kv, "/a", rev.value()));  // watches carry the token too
  REQUIRE(ev);
  CHECK(ev.value().events.at(0).kv.value == "1");

  // Disabling and re-enabling auth forgets every token etcd has handed out.
  auto login = post_ok(ep, "/v3/auth/authenticate", R"({"name":"root","password":"rootpw"})");
  auto token = nlohmann::json::parse(login.body).at("token").get<std::string>();
  post_ok(ep, "/v3/auth/disable", "{}", {"Authorization: " + token});
  post_ok(ep, "/v3/auth/enable", "{}");
  CHECK(
      http_request(ep, "POST", "/v3/kv/range", R"({"key":"L2E="})", 5s, {"Authorization: " + token})
          .status == 401);
  auto again = f.run(kv->put("/a", "2"));
  if (!again) MESSAGE(again.error().describe());
  REQUIRE(again);
  CHECK(f.run(kv->range(key("/a"))).value().kvs.at(0).value == "2");
}

TEST_CASE("TLS: https endpoints verified against a private CA, with a client certificate") {
  auto dir = test_data_dir() + "/etcd/certs-" + std::to_string(::getpid());
  auto certs = make_test_certs(dir);
  EtcdOptions o;
  o.label = "tls";
  o.cert_file = certs.server_cert;
  o.key_file = certs.server_key;
  o.client_ca_file = certs.ca_file;
  EtcdCluster etcd(o);
  boost::asio::io_context ioc;
  REQUIRE(etcd.endpoint(0).starts_with("https://"));

  EtcdConfig cfg;
  cfg.endpoints = etcd.endpoints();
  cfg.ca_file = certs.ca_file;
  cfg.cert_file = certs.client_cert;
  cfg.key_file = certs.client_key;
  {
    auto kv = make_etcd_kv(ioc, cfg);
    auto rev = run_sync(ioc, kv->put("/tls", "secret"));
    REQUIRE(rev);
    CHECK(run_sync(ioc, kv->range(key("/tls"))).value().kvs.at(0).value == "secret");
    auto ev = run_sync(ioc, first_event(*kv, "/tls", rev.value()));
    REQUIRE(ev);
    CHECK(ev.value().events.at(0).kv.value == "secret");
  }

  EtcdConfig anonymous = cfg;  // the member requires a client certificate
  anonymous.cert_file.clear();
  anonymous.key_file.clear();
  anonymous.request_timeout = 1s;
  auto no_cert = make_etcd_kv(ioc, anonymous);
  CHECK_FALSE(run_sync(ioc, no_cert->range(key("/tls"))));

  EtcdConfig untrusted = cfg;  // a CA that did not sign the server's certificate
  untrusted.ca_file = certs.client_cert;
  untrusted.request_timeout = 1s;
  auto wrong_ca = make_etcd_kv(ioc, untrusted);
  auto r = run_sync(ioc, wrong_ca->range(key("/tls")));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::unavailable);

  EtcdConfig missing = cfg;
  missing.ca_file = dir + "/does-not-exist.crt";
  CHECK(EtcdKv::create(ioc, missing).error().code == Errc::invalid_argument);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}
