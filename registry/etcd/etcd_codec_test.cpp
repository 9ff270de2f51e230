#include "registry/etcd/etcd_codec.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

using namespace fleet;
using namespace fleet::registry;
using namespace fleet::registry::etcd;
using json = nlohmann::json;

namespace {
const char* kHeader =
    R"("header":{"cluster_id":"12101053776118486841","member_id":"15985099378392235387","revision":"4","raft_term":"2"})";
std::string b64(std::string_view s) { return base64_encode(s); }
}  // namespace

TEST_CASE("base64 matches the RFC 4648 vectors and round-trips raw bytes") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  CHECK(base64_encode("/fleet/job/web.service") == "L2ZsZWV0L2pvYi93ZWIuc2VydmljZQ==");
  std::string raw;
  for (int i = 0; i < 256; ++i) raw += static_cast<char>(i);
  for (std::size_t n = 0; n <= raw.size(); n += 37) {
    auto back = base64_decode(base64_encode(raw.substr(0, n)));
    REQUIRE(back.has_value());
    CHECK(back.value() == raw.substr(0, n));
  }
  CHECK(base64_decode("AA==").value() == std::string(1, '\0'));
}

TEST_CASE("base64 rejects bad alphabet, length and padding") {
  CHECK_FALSE(base64_decode("Zg=").has_value());
  CHECK_FALSE(base64_decode("Z===").has_value());
  CHECK_FALSE(base64_decode("Zm9v!A==").has_value());
  CHECK_FALSE(base64_decode("Zg==Zg==").has_value());
  CHECK_FALSE(base64_decode("Z=g=").has_value());
}

TEST_CASE("prefix_end increments the last byte below 0xff") {
  CHECK(prefix_end("/fleet/job/") == "/fleet/job0");
  CHECK(prefix_end("a\xff") == "b");
  CHECK(prefix_end("\xff\xff") == std::string(1, '\0'));
  CHECK(prefix_end("") == std::string(1, '\0'));
}

TEST_CASE("range requests carry base64 keys, string int64s and omit defaults") {
  auto j = json::parse(encode_range({.key = "/a/", .range_end = "/a0", .limit = 5, .revision = 7}));
  CHECK(j["key"] == b64("/a/"));
  CHECK(j["range_end"] == b64("/a0"));
  CHECK(j["limit"] == "5");
  CHECK(j["revision"] == "7");
  CHECK_FALSE(j.contains("keys_only"));
  RangeRequest one;
  one.key = "k";
  one.serializable = true;
  auto single = json::parse(encode_range(one));
  CHECK_FALSE(single.contains("range_end"));
  CHECK_FALSE(single.contains("revision"));
  CHECK(single["serializable"] == true);
}

TEST_CASE("txn requests encode compares and ops as the gateway expects") {
  TxnRequest req;
  req.compare = {Compare::absent("/lock"), Compare::mod_revision_is("/job", 4),
                 Compare::value_is("/v", "x"), Compare::lease_is("/l", 9041998809732502554)};
  req.success = {Op::put("/lock", "me", 9041998809732502554), Op::del("/a/", "/a0")};
  req.failure = {Op::get("/lock")};
  auto j = json::parse(encode_txn(req));
  CHECK(j["compare"][0] ==
        json::parse(
            R"({"key":"L2xvY2s=","target":"CREATE","result":"EQUAL","create_revision":"0"})"));
  CHECK(j["compare"][1]["target"] == "MOD");
  CHECK(j["compare"][1]["mod_revision"] == "4");
  CHECK(j["compare"][2]["value"] == b64("x"));
  CHECK(j["compare"][3]["lease"] == "9041998809732502554");
  CHECK(j["success"][0]["request_put"]["lease"] == "9041998809732502554");
  CHECK(j["success"][1]["request_delete_range"]["range_end"] == b64("/a0"));
  CHECK(j["failure"][0]["request_range"]["key"] == b64("/lock"));
  auto empty = json::parse(encode_txn({}));
  CHECK(empty["compare"].is_array());
}

TEST_CASE("a range reply without kvs or count is an empty result") {
  auto r = decode_range(200, std::string("{") + kHeader + "}");
  REQUIRE(r);
  CHECK(r.value().kvs.empty());
  CHECK(r.value().count == 0);
  CHECK(r.value().revision == 4);
}

TEST_CASE("a range reply decodes keys, values, revisions and big lease ids") {
  auto body =
      std::string("{") + kHeader +
      R"(,"kvs":[{"key":"L2E=","create_revision":"3","mod_revision":"4","version":"2","value":"djI=","lease":"9041998809732502554"}],"more":true,"count":"2"})";
  auto r = decode_range(200, body);
  REQUIRE(r);
  REQUIRE(r.value().kvs.size() == 1);
  CHECK(r.value().kvs[0] == KeyValue{"/a", "v2", 3, 4, 2, 9041998809732502554});
  CHECK(r.value().more);
  CHECK(r.value().count == 2);
}

TEST_CASE("a txn whose compare failed has no succeeded field and returns the failure branch") {
  TxnRequest req;
  req.compare = {Compare::absent("/lock")};
  req.success = {Op::put("/lock", "me")};
  req.failure = {Op::get("/lock")};
  auto body =
      std::string("{") + kHeader +
      R"(,"responses":[{"response_range":{"header":{"revision":"8"},"kvs":[{"key":"L2xvY2s=","create_revision":"8","mod_revision":"8","version":"1","value":"eA=="}],"count":"1"}}]})";
  auto r = decode_txn(200, body, req);
  REQUIRE(r);
  CHECK_FALSE(r.value().succeeded);
  CHECK(r.value().revision == 4);
  REQUIRE(r.value().results.size() == 1);
  CHECK(r.value().results[0].kind == Op::Kind::range);
  CHECK(r.value().results[0].range.kvs.at(0).value == "x");
  CHECK(r.value().results[0].range.revision == 8);

  auto won = decode_txn(
      200,
      std::string("{") + kHeader +
          R"(,"succeeded":true,"responses":[{"response_put":{"header":{"revision":"8"}}}]})",
      req);
  REQUIRE(won);
  CHECK(won.value().succeeded);
  CHECK(won.value().results.at(0).kind == Op::Kind::put);
  CHECK_FALSE(decode_txn(200, std::string("{") + kHeader + "}", req));  // result count mismatch
}

TEST_CASE("unary errors map gRPC codes and HTTP statuses to Errc") {
  CHECK(
      error_from_reply(
          400,
          R"({"error":"etcdserver: key is not provided","message":"etcdserver: key is not provided","code":3})")
          .code == Errc::invalid_argument);
  auto compacted = error_from_reply(
      400, R"({"error":"etcdserver: mvcc: required revision has been compacted","code":11})");
  CHECK(compacted.code == Errc::invalid_argument);
  CHECK(compacted.message.find("compacted") != std::string::npos);
  CHECK(
      error_from_reply(404, R"({"error":"etcdserver: requested lease not found","code":5})").code ==
      Errc::not_found);
  CHECK(error_from_reply(503, R"({"error":"etcdserver: no leader","code":14})").code ==
        Errc::unavailable);
  CHECK(error_from_reply(500, R"({"error":"context deadline exceeded","code":2})").code ==
        Errc::timeout);
  CHECK(error_from_reply(404, "404 page not found\n").code == Errc::not_found);
  CHECK(error_from_reply(503, "").code == Errc::unavailable);
  CHECK(decode_put(400, R"({"error":"etcdserver: key is not provided","code":3})").error().code ==
        Errc::invalid_argument);
  CHECK(decode_put(200, "garbage").error().code == Errc::internal);
  CHECK(decode_range(200, R"({"kvs":[{"key":"!!"}]})").error().code == Errc::internal);
}

TEST_CASE("keepalive: TTL means alive, a missing TTL means the lease is gone") {
  auto alive = decode_keepalive(200, R"({"result":{"header":{"revision":"3"},"ID":"7","TTL":"10"}})"
                                     "\n");
  REQUIRE(alive);
  CHECK(alive.value().count() == 10);
  auto gone = decode_keepalive(200, R"({"result":{"header":{"revision":"3"},"ID":"7"}})"
                                    "\n");
  REQUIRE_FALSE(gone);
  CHECK(gone.error().code == Errc::not_found);
  auto err = decode_keepalive(
      200, R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader"}})");
  REQUIRE_FALSE(err);
  CHECK(err.error().code == Errc::unavailable);
  CHECK(decode_lease_grant(200, R"({"header":{},"ID":"9041998809732502554","TTL":"10"})").value() ==
        9041998809732502554);
  CHECK(decode_empty(404, R"({"error":"etcdserver: requested lease not found","code":5})")
            .error()
            .code == Errc::not_found);
}

TEST_CASE("keepalives: one result per answered lease in order, a gone lease, a cut-off stream") {
  CHECK(encode_lease_ids({7, 9}) == "{\"ID\":\"7\"}\n{\"ID\":\"9\"}\n");
  auto r = decode_keepalives(200,
                             R"({"result":{"header":{},"ID":"7","TTL":"10"}})"
                             "\n"
                             R"({"result":{"header":{},"ID":"8"}})"
                             "\n"
                             R"({"result":{"header":{},"ID":"9","TTL":"30"}})"
                             "\n",
                             3);
  REQUIRE(r.size() == 3);
  CHECK(r[0].value().count() == 10);
  CHECK(r[1].error().code == Errc::not_found);
  CHECK(r[2].value().count() == 30);
  // The gateway stopped reading after the first answer: two leases left unanswered.
  auto cut = decode_keepalives(200, R"({"result":{"header":{},"ID":"7","TTL":"10"}})", 3);
  REQUIRE(cut.size() == 1);
  CHECK(cut[0].value().count() == 10);
  auto failed = decode_keepalives(
      200,
      R"({"result":{"header":{},"ID":"7","TTL":"10"}})"
      "\n"
      R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader"}})",
      3);
  REQUIRE(failed.size() == 2);
  CHECK(failed[1].error().code == Errc::unavailable);
  auto refused = decode_keepalives(503, R"({"error":"etcdserver: no leader","code":14})", 2);
  REQUIRE(refused.size() == 1);
  CHECK(refused[0].error().code == Errc::unavailable);
  CHECK(decode_keepalives(503, "", 2).at(0).error().code == Errc::unavailable);
}

TEST_CASE("watch lines: created, events, progress, compaction and in-stream errors") {
  auto created = decode_watch_line(R"({"result":{"header":{"revision":"9"},"created":true}})");
  REQUIRE(created);
  CHECK(created.value().kind == WatchMessage::Kind::created);
  CHECK(created.value().header_revision == 9);

  auto events = decode_watch_line(
      R"({"result":{"header":{"revision":"12"},"events":[{"kv":{"key":"L2E=","create_revision":"10","mod_revision":"10","version":"1","value":"eA=="}},{"type":"DELETE","kv":{"key":"L2E=","mod_revision":"12"},"prev_kv":{"key":"L2E=","create_revision":"10","mod_revision":"10","version":"1","value":"eA=="}}]}})");
  REQUIRE(events);
  CHECK(events.value().kind == WatchMessage::Kind::events);
  REQUIRE(events.value().events.size() == 2);
  CHECK(events.value().events[0].type == Event::Type::put);
  CHECK(events.value().events[0].kv.value == "x");
  CHECK_FALSE(events.value().events[0].prev_kv.has_value());
  CHECK(events.value().events[1].type == Event::Type::del);
  CHECK(events.value().events[1].kv.mod_revision == 12);
  CHECK(events.value().events[1].prev_kv->value == "x");

  auto progress = decode_watch_line(R"({"result":{"header":{"revision":"15"}}})");
  REQUIRE(progress);
  CHECK(progress.value().kind == WatchMessage::Kind::progress);

  auto compacted =
      decode_watch_line(R"({"result":{"header":{},"canceled":true,"compact_revision":"11"}})");
  REQUIRE(compacted);
  CHECK(compacted.value().kind == WatchMessage::Kind::canceled);
  CHECK(compacted.value().compact_revision == 11);

  auto error = decode_watch_line(
      R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}})");
  REQUIRE(error);
  CHECK(error.value().kind == WatchMessage::Kind::error);
  CHECK(error.value().message.find("no leader") != std::string::npos);

  CHECK_FALSE(decode_watch_line("{\"result\":"));
  CHECK_FALSE(decode_watch_line(R"({"something":1})"));
}

TEST_CASE("watch create requests resume from a revision and ask for progress") {
  auto j =
      json::parse(encode_watch_create({.key = "/f/", .range_end = "/f0", .prev_kv = true}, 42));
  CHECK(j["create_request"]["start_revision"] == "42");
  CHECK(j["create_request"]["prev_kv"] == true);
  CHECK(j["create_request"]["progress_notify"] == true);
  WatchRequest from_now;
  from_now.key = "/f/";
  auto now = json::parse(encode_watch_create(from_now, 0));
  CHECK_FALSE(now["create_request"].contains("start_revision"));
}
