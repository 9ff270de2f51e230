#pragma once
// Folder-private: the HTTP side of EtcdKv. All Boost.Beast/Asio-heavy code lives in
// etcd_transport.cpp behind this header so that only one translation unit pays for it.

#include <chrono>
#include <memory>
#include <string>

#include "registry/etcd/etcd_kv.h"

namespace fleet::registry::etcd {

struct CallOptions {
  // Safe to send twice (reads, keep-alives): retried on another member after any failure.
  // Otherwise only retried when the request certainly did not reach a member.
  bool idempotent = false;
  // Sends Grpc-Metadata-hasleader so that a member without a leader fails fast with 503.
  bool require_leader = true;
  // Not queued behind other calls for one of EtcdConfig::max_in_flight slots: lease keep-alives,
  // whose delay past the TTL would cost a failover. Bounded by their own lane instead
  // (keepalive_lane.h).
  bool urgent = false;
};

struct HttpReply {
  unsigned status = 0;
  std::string body;
};

// One long-lived POST whose response is an endless stream of JSON lines (/v3/watch).
class LineStream {
 public:
  virtual ~LineStream() = default;
  // Connects (rotating through the endpoints, backing off; waits as long as it takes until
  // close()) and sends `body`. Resolves once the response header says 200.
  virtual Task<Status> open(std::string path, std::string body) = 0;
  // Next non-empty line of the response body; an error when the stream broke or ended.
  virtual Task<Result<std::string>> next_line() = 0;
  // Drops the connection; when `failed`, later calls and streams avoid this endpoint.
  virtual void reset(bool failed) = 0;
  // Ends everything pending (open, next_line, backoff) with Errc::cancelled; final.
  virtual void close() = 0;
  // Waits `d` (cut short by close()).
  virtual Task<Status> sleep(std::chrono::milliseconds d) = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // POSTs `body` to `path` with the configured deadline; returns the member's reply (any status)
  // or Errc::unavailable/timeout when no member answered.
  virtual Task<Result<HttpReply>> post(std::string path, std::string body, CallOptions opts) = 0;
  virtual std::shared_ptr<LineStream> open_stream() = 0;
};

Result<std::shared_ptr<Transport>> make_transport(boost::asio::io_context& ioc,
                                                  const EtcdConfig& config);

}  // namespace fleet::registry::etcd
