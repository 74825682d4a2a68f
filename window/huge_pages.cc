#include "window/huge_pages.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define EBB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EBB_ASAN 1
#endif
#endif

namespace ebb {
namespace {

bool HugePagesWanted() {
  static const bool wanted = [] {
    const char* v = std::getenv("EBB_HUGE_PAGES");
    return v == nullptr ||
           !(std::strcmp(v, "0") == 0 || std::strcmp(v, "off") == 0 ||
             std::strcmp(v, "false") == 0);
  }();
  return wanted;
}

// `bytes` (a multiple of kHugePageBytes) of fresh, zero pages at a 2 MiB
// boundary, advised for huge pages. Throws std::bad_alloc when the system has
// no memory left, as operator new does. (Unused under ASan, where every
// allocation is an operator new.)
[[maybe_unused]] void* MapAligned(size_t bytes) {
  const size_t span = bytes + kHugePageBytes;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const uintptr_t begin = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned =
      (begin + kHugePageBytes - 1) & ~(uintptr_t{kHugePageBytes} - 1);
  if (aligned > begin) munmap(raw, aligned - begin);
  const uintptr_t end = begin + span;
  if (end > aligned + bytes) {
    munmap(reinterpret_cast<void*>(aligned + bytes), end - (aligned + bytes));
  }
  void* p = reinterpret_cast<void*>(aligned);
#ifdef MADV_HUGEPAGE
  // Advice only: it fails harmlessly where THP is compiled out.
  if (HugePagesWanted()) madvise(p, bytes, MADV_HUGEPAGE);
#endif
  return p;
}

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

// The address space a pool maps at a time (memory only as it is touched).
constexpr size_t kRegionBytes = size_t{64} << 20;

// Blocks of this size or more get a cache line's gap after them (cache
// colouring, see Allocate). Smaller blocks laid end to end already spread the
// same slot of consecutive blocks over many sets, and a line's gap would be a
// large part of them (short ring blocks, symbol states).
constexpr size_t kColouredBytes = 1024;

std::atomic<uint64_t> g_block_allocations{0};
// Footprints of the blocks taken and not yet freed, over every pool.
std::atomic<int64_t> g_live_bytes{0};

}  // namespace

struct BlockPool::State {
  size_t bytes;
  size_t align;
  // The distance between consecutive blocks of a region: one cache line more
  // than a block of kColouredBytes or more (see Allocate), a block otherwise.
  size_t stride;
  std::mutex mu;
  // Freed blocks, each holding the next one's address in its first bytes.
  void* free_list = nullptr;
  // The unused rest of the newest region.
  char* next = nullptr;
  char* limit = nullptr;
  size_t reserved = 0;
};

BlockPool::BlockPool(size_t bytes, size_t align) : state_(new State) {
  state_->bytes = bytes;
  state_->align = align;
  state_->stride = bytes >= kColouredBytes ? bytes + RoundUp(64, align) : bytes;
}

BlockPool& BlockPool::For(size_t bytes, size_t align) {
  // Each block holds a free-list link while it is free.
  const size_t size =
      RoundUp(bytes < sizeof(void*) ? sizeof(void*) : bytes, align);
  // A handful of sizes exist (one per ring type); a list is enough.
  static std::mutex mu;
  static std::vector<BlockPool*>* pools = new std::vector<BlockPool*>;
  std::lock_guard<std::mutex> lock(mu);
  for (BlockPool* pool : *pools) {
    if (pool->state_->bytes == size && pool->state_->align == align) {
      return *pool;
    }
  }
  pools->push_back(new BlockPool(size, align));
  return *pools->back();
}

void* BlockPool::Allocate() {
  State& s = *state_;
  g_block_allocations.fetch_add(1, std::memory_order_relaxed);
  g_live_bytes.fetch_add(static_cast<int64_t>(Footprint()),
                         std::memory_order_relaxed);
#ifdef EBB_ASAN
  return ::operator new (s.bytes, std::align_val_t{s.align});
#else
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.free_list != nullptr) {
    void* block = s.free_list;
    std::memcpy(&s.free_list, block, sizeof(void*));
    return block;
  }
  // Blocks are placed a cache line apart more than their size (cache
  // colouring): in a huge page, virtual and physical offsets agree, so
  // blocks at multiples of their (power-of-two) size would put the same slot
  // of every ring in the same set of the physically indexed caches. Windows
  // fed in step (every symbol's bar each minute) sit at the same slot of
  // their blocks, and would all evict each other: measured, the Kafka
  // latency run's service-time p99 went from 3.7-4.2 to 6.5-8 us with
  // uncoloured blocks on huge pages. A region is large enough for the
  // colours to go round every set of a 64 KiB cache way before they repeat
  // (1,024 blocks or more); only the huge pages it touches take memory.
  // (next may lie up to a gap past limit: compare signed.)
  if (s.limit - s.next < static_cast<ptrdiff_t>(s.bytes)) {
    const size_t region =
        RoundUp(std::max(kRegionBytes, 1024 * s.stride), kHugePageBytes);
    s.next = static_cast<char*>(MapAligned(region));
    s.limit = s.next + region;
    s.reserved += region;
  }
  void* block = s.next;
  s.next += s.stride;
  return block;
#endif
}

void BlockPool::Free(void* block) {
  State& s = *state_;
  g_live_bytes.fetch_sub(static_cast<int64_t>(Footprint()),
                         std::memory_order_relaxed);
#ifdef EBB_ASAN
  ::operator delete (block, std::align_val_t{s.align});
#else
  std::lock_guard<std::mutex> lock(s.mu);
  std::memcpy(block, &s.free_list, sizeof(void*));
  s.free_list = block;
#endif
}

void BlockPool::Prefault(size_t blocks) {
  std::vector<void*> taken;
  taken.reserve(blocks);
  for (size_t i = 0; i < blocks; ++i) {
    char* block = static_cast<char*>(Allocate());
    for (size_t at = 0; at < state_->bytes; at += 4096) block[at] = 0;
    block[state_->bytes - 1] = 0;
    taken.push_back(block);
  }
  // Freed in reverse, so that the free list hands them out in the order they
  // were taken (address order, for fresh memory). Each take is counted by
  // TotalAllocations().
  for (auto it = taken.rbegin(); it != taken.rend(); ++it) Free(*it);
}

size_t BlockPool::Footprint() const {
#ifdef EBB_ASAN
  return state_->bytes;
#else
  return state_->stride;
#endif
}

uint64_t BlockPool::TotalAllocations() {
  return g_block_allocations.load(std::memory_order_relaxed);
}

size_t BlockPool::LiveBytes() {
  const int64_t live = g_live_bytes.load(std::memory_order_relaxed);
  return live > 0 ? static_cast<size_t>(live) : 0;
}

size_t BlockPool::ReservedBytes() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->reserved;
}

void* AllocateLarge(size_t bytes, size_t align) {
#ifndef EBB_ASAN
  if (bytes >= kHugePageBytes / 2 && align <= kHugePageBytes) {
    return MapAligned(RoundUp(bytes, kHugePageBytes));
  }
#endif
  return ::operator new (bytes, std::align_val_t{align});
}

void FreeLarge(void* p, size_t bytes, size_t align) noexcept {
#ifndef EBB_ASAN
  if (bytes >= kHugePageBytes / 2 && align <= kHugePageBytes) {
    munmap(p, RoundUp(bytes, kHugePageBytes));
    return;
  }
#endif
  ::operator delete (p, std::align_val_t{align});
}

}  // namespace ebb
