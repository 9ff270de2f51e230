// The KvStore contract suite on MemoryKv.

#include <boost/asio/io_context.hpp>

#include "registry/memory_kv.h"
#include "registry/testing/kv_contract.h"

// At global scope so test names read "...<MemoryKvFixture>".
struct MemoryKvFixture {
  boost::asio::io_context io_;
  fleet::registry::MemoryKv kv_{io_.get_executor()};

  boost::asio::io_context& io() { return io_; }
  fleet::registry::KvStore& kv() { return kv_; }
  fleet::registry::Task<fleet::Status> compact(fleet::registry::Revision rev) {
    co_return kv_.compact(rev);
  }
};

FLEET_KV_CONTRACT(MemoryKvFixture);
