#pragma once
// CutProxy: a TCP relay on a free loopback port that a test can cut and heal, put between one
// host's fleetd and one etcd member to partition that host from the registry. Cut: no byte passes
// either way and connections stay open, as when packets are lost on a broken link (new
// connections are accepted and go nowhere). Heal: every connection from before (its streams lost
// bytes) is reset, new ones are relayed again. Loopback only.
//
// Runs on a thread of its own; cut(), heal() and the accessors may be called from any thread and
// take effect before they return.

#include <cstddef>
#include <memory>
#include <string>

namespace fleet::testing {

class CutProxy {
 public:
  // Relays 127.0.0.1:<free port> to `target_port` on 127.0.0.1. Throws std::runtime_error when it
  // cannot listen.
  explicit CutProxy(int target_port);
  ~CutProxy();
  CutProxy(const CutProxy&) = delete;
  CutProxy& operator=(const CutProxy&) = delete;

  int port() const;
  void cut();
  void heal();
  bool is_cut() const;
  // Connections open now (relayed or held while cut).
  std::size_t connections() const;
  // Connections accepted so far, open or not.
  std::size_t accepted() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace fleet::testing
