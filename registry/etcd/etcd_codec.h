#pragma once
// Folder-private: etcd v3 JSON gateway encoding (proto3 JSON: base64 bytes, int64 as strings,
// zero fields omitted) and error mapping. Pure functions, no I/O, unit-tested byte by byte.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "registry/kv.h"

namespace fleet::registry::etcd {

std::string base64_encode(std::string_view raw);
// std::nullopt on characters outside the standard alphabet or bad padding.
std::optional<std::string> base64_decode(std::string_view text);

// Request bodies.
std::string encode_range(const RangeRequest& req);
std::string encode_put(std::string_view key, std::string_view value, LeaseId lease);
std::string encode_delete(std::string_view key, std::string_view range_end);
std::string encode_txn(const TxnRequest& req);
std::string encode_lease_grant(std::chrono::seconds ttl);
std::string encode_lease_id(LeaseId id);  // keepalive, revoke
// Several keep-alives in one request: LeaseKeepAlive is a stream, and the gateway reads one
// message per line of the body and answers each with one line, in order.
std::string encode_lease_ids(const std::vector<LeaseId>& ids);
std::string encode_compaction(Revision rev);
std::string encode_authenticate(std::string_view user, std::string_view password);
// `start` 0 = from now.
std::string encode_watch_create(const WatchRequest& req, Revision start);

// Maps a non-200 reply (or an in-stream error object) to an Error: gRPC code first, HTTP status
// as the fallback (400 invalid_argument, 404 not_found, 503 unavailable, 504 timeout).
Error error_from_reply(unsigned status, std::string_view body);

// Reply bodies; each takes the HTTP status and maps non-200 through error_from_reply.
Result<RangeResponse> decode_range(unsigned status, std::string_view body);
Result<Revision> decode_put(unsigned status, std::string_view body);
Result<std::int64_t> decode_delete(unsigned status, std::string_view body);
Result<TxnResponse> decode_txn(unsigned status, std::string_view body, const TxnRequest& req);
Result<LeaseId> decode_lease_grant(unsigned status, std::string_view body);
// Errc::not_found for an expired/revoked lease (HTTP 200 without TTL).
Result<std::chrono::seconds> decode_keepalive(unsigned status, std::string_view body);
// The reply to encode_lease_ids(): one result per line, in the order asked, at most `leases`.
// Fewer lines than leases: the stream ended early, on an error (the last result) or because
// the gateway stopped reading the body once it sent the first answer (Go's HTTP/1 server
// discards the rest of a request body when the response starts): those leases were not renewed.
std::vector<Result<std::chrono::seconds>> decode_keepalives(unsigned status, std::string_view body,
                                                            std::size_t leases);
Status decode_empty(unsigned status, std::string_view body);  // revoke, compaction
Result<std::string> decode_authenticate(unsigned status, std::string_view body);

// One line of a /v3/watch response stream.
struct WatchMessage {
  enum class Kind { created, events, progress, canceled, error };
  Kind kind = Kind::progress;
  Revision header_revision = 0;
  Revision compact_revision = 0;  // canceled because the start revision was compacted
  std::vector<Event> events;
  std::string message;  // canceled reason or error text
};
Result<WatchMessage> decode_watch_line(std::string_view line);

}  // namespace fleet::registry::etcd
