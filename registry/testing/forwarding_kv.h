#pragma once
// Test support: a KvStore that passes every call to another one. A test's store that changes one
// call (holds watches, refuses some txns) derives from it and overrides only that call.

#include <memory>
#include <string>

#include "registry/kv.h"

namespace fleet::registry {

class ForwardingKv : public KvStore {
 public:
  explicit ForwardingKv(KvStore& inner) : inner_(inner) {}

  Task<Result<RangeResponse>> range(RangeRequest req) override {
    return inner_.range(std::move(req));
  }
  Task<Result<TxnResponse>> txn(TxnRequest req) override { return inner_.txn(std::move(req)); }
  Task<Result<Revision>> put(std::string key, std::string value, LeaseId lease = 0) override {
    return inner_.put(std::move(key), std::move(value), lease);
  }
  Task<Result<std::int64_t>> del(std::string key, std::string range_end = {}) override {
    return inner_.del(std::move(key), std::move(range_end));
  }
  Task<Result<LeaseId>> lease_grant(std::chrono::seconds ttl) override {
    return inner_.lease_grant(ttl);
  }
  Task<Result<std::chrono::seconds>> lease_keepalive(LeaseId id) override {
    return inner_.lease_keepalive(id);
  }
  Task<Status> lease_revoke(LeaseId id) override { return inner_.lease_revoke(id); }
  std::unique_ptr<Watcher> watch(WatchRequest req) override { return inner_.watch(std::move(req)); }
  std::size_t max_txn_ops() const override { return inner_.max_txn_ops(); }

 private:
  KvStore& inner_;
};

}  // namespace fleet::registry
