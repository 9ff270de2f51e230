#pragma once
// A real etcd (one or more members) plus an EtcdKv on a test-owned io_context.

#include <boost/asio/io_context.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/testing/run.h"
#include "registry/etcd/etcd_kv.h"
#include "tests/harness/etcd/etcd_cluster.h"

namespace fleet::testing {

inline std::unique_ptr<registry::EtcdKv> make_etcd_kv(boost::asio::io_context& ioc,
                                                      registry::EtcdConfig config) {
  auto kv = registry::EtcdKv::create(ioc, std::move(config));
  if (!kv) throw std::runtime_error(kv.error().describe());
  return std::move(kv).value();
}

inline std::unique_ptr<registry::EtcdKv> make_etcd_kv(boost::asio::io_context& ioc,
                                                      std::vector<std::string> endpoints) {
  registry::EtcdConfig config;
  config.endpoints = std::move(endpoints);
  return make_etcd_kv(ioc, std::move(config));
}

struct EtcdFixture {
  explicit EtcdFixture(EtcdOptions opts = {}) : etcd(std::move(opts)) {}

  template <class T>
  T run(registry::Task<T> task, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    return run_sync(ioc, std::move(task), timeout);
  }

  EtcdCluster etcd;
  boost::asio::io_context ioc;  // declared after etcd, destroyed before it
  std::unique_ptr<registry::EtcdKv> kv = make_etcd_kv(ioc, etcd.endpoints());
};

}  // namespace fleet::testing
