#include "registry/kv.h"

#include <algorithm>
#include <iterator>

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
  for (std::size_t i = 0; i < ops.size(); i += per_txn) {
    TxnRequest txn;
    const auto end = std::min(ops.size(), i + per_txn);
    txn.success.assign(std::make_move_iterator(ops.begin() + static_cast<std::ptrdiff_t>(i)),
                       std::make_move_iterator(ops.begin() + static_cast<std::ptrdiff_t>(end)));
    auto r = co_await kv.txn(std::move(txn));
    if (!r) co_return r.error();
  }
  co_return ok();
}

}  // namespace fleet::registry
