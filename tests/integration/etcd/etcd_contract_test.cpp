// The KvStore contract suite (registry/testing/kv_contract.h) on EtcdKv against one real etcd
// member.

#include <boost/asio/io_context.hpp>

#include "registry/testing/kv_contract.h"
#include "tests/integration/etcd/etcd_fixture.h"

// At global scope so test names read "...<EtcdKvFixture>". One etcd per process: the suite
// clears /contract/ at the start of every case, and ctest runs each case in its own process.
struct EtcdKvFixture {
  static fleet::testing::EtcdCluster& etcd() {
    static fleet::testing::EtcdCluster cluster([] {
      fleet::testing::EtcdOptions o;
      o.label = "contract";
      return o;
    }());
    return cluster;
  }

  boost::asio::io_context io_;
  std::unique_ptr<fleet::registry::EtcdKv> kv_ =
      fleet::testing::make_etcd_kv(io_, etcd().endpoints());

  boost::asio::io_context& io() { return io_; }
  fleet::registry::KvStore& kv() { return *kv_; }
  fleet::registry::Task<fleet::Status> compact(fleet::registry::Revision rev) {
    return kv_->compact(rev);
  }
};

FLEET_KV_CONTRACT(EtcdKvFixture);
