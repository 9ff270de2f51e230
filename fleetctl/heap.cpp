#include "fleetctl/heap.h"

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

namespace fleet::fleetctl {

namespace {

// What the main arena grows by at once beyond a request.
constexpr std::size_t kTopPad = 32u << 20;
constexpr std::uintptr_t kHugePage = 2u << 20;

}  // namespace

void prepare_heap() {
  // Blocks up to 64 MiB come from the heap instead of a fresh mmap each, and freed memory stays
  // in the process until it exits (fleetctl's longest runs, waits on many units, reuse it).
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_TOP_PAD, static_cast<int>(kTopPad));
  // Growing the heap by a block of kTopPad (obtained, not touched) puts twice that above the
  // current break; the whole 2 MiB pages of it are offered to the kernel as huge pages, as
  // glibc's own glibc.malloc.hugetlb=1 tunable would (which only the process's environment can
  // set). Freed at once, the block stays in the heap for what follows.
  void* first = std::malloc(kTopPad);
  if (first == nullptr) return;
  const auto start = (reinterpret_cast<std::uintptr_t>(first) + kHugePage - 1) & ~(kHugePage - 1);
  const auto end = reinterpret_cast<std::uintptr_t>(sbrk(0)) & ~(kHugePage - 1);
  if (end > start) (void)madvise(reinterpret_cast<void*>(start), end - start, MADV_HUGEPAGE);
  std::free(first);
}

}  // namespace fleet::fleetctl
