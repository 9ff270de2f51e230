#include "registry/kv.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <iterator>
#include <optional>

namespace fleet::registry {

// etcd's clientv3.GetPrefixRangeEnd: increment the last byte below 0xff and drop what follows;
// a prefix of only 0xff bytes (or empty) has no upper bound, which etcd spells "\0".
std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  for (std::size_t i = end.size(); i-- > 0;) {
    auto c = static_cast<unsigned char>(end[i]);
    if (c < 0xff) {
      end[i] = static_cast<char>(c + 1);
      end.resize(i + 1);
      return end;
    }
  }
  return std::string(1, '\0');
}

Task<Status> write_in_chunks(KvStore& kv, std::vector<Op> ops) {
  const std::size_t per_txn = std::max<std::size_t>(1, kv.max_txn_ops());
  std::vector<TxnRequest> txns;
  for (std::size_t i = 0; i < ops.size(); i += per_txn) {
    TxnRequest txn;
    const auto end = std::min(ops.size(), i + per_txn);
    txn.success.assign(std::make_move_iterator(ops.begin() + static_cast<std::ptrdiff_t>(i)),
                       std::make_move_iterator(ops.begin() + static_cast<std::ptrdiff_t>(end)));
    txns.push_back(std::move(txn));
  }
  for (auto& r : co_await run_txns(kv, std::move(txns)))
    if (!r) co_return r.error();
  co_return ok();
}

Task<std::vector<Result<TxnResponse>>> run_txns(KvStore& kv, std::vector<TxnRequest> txns,
                                                std::size_t in_flight) {
  namespace asio = boost::asio;
  std::vector<std::optional<Result<TxnResponse>>> done(txns.size());
  std::size_t next = 0;
  auto worker = [&]() -> Task<void> {
    while (next < txns.size()) {
      const std::size_t i = next++;
      TxnRequest txn = std::move(txns[i]);
      done[i].emplace(co_await kv.txn(std::move(txn)));
    }
  };
  if (txns.size() <= 1 || in_flight <= 1) {
    co_await worker();
  } else {
    auto ex = co_await asio::this_coro::executor;
    std::vector<decltype(asio::co_spawn(ex, worker(), asio::deferred))> workers;
    for (std::size_t i = 0; i < std::min(in_flight, txns.size()); ++i)
      workers.push_back(asio::co_spawn(ex, worker(), asio::deferred));
    // wait_for_all: the workers' state lives in this frame.
    (void)co_await asio::experimental::make_parallel_group(std::move(workers))
        .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  }
  // A cancelled wait (the engine's term ended: `pass || lost`) ends the workers early, and the
  // txns after theirs were never sent. Reading those empty slots handed callers garbage
  // results, and the engine crashed destroying them right after losing its lease (issue #14).
  std::vector<Result<TxnResponse>> out;
  out.reserve(done.size());
  for (auto& r : done) {
    if (r) {
      out.push_back(std::move(*r));
    } else {
      Result<TxnResponse> unsent = fail(Errc::cancelled, "txn not sent: the wait was cancelled");
      out.push_back(std::move(unsent));
    }
  }
  co_return out;
}

}  // namespace fleet::registry
