#include "registry/kv.h"

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

}  // namespace fleet::registry
