#pragma once

// Memory for the state that thousands of windows touch at random (ring blocks,
// the symbol map's table), carved from 2 MiB-aligned mappings that the kernel
// is asked, with madvise(MADV_HUGEPAGE), to back with transparent huge pages.
//
// With 50,000 instruments the windows hold about a gigabyte, and each event
// touches a few lines on unrelated pages: with 4 KiB pages almost every access
// also misses the TLB and walks the page table. The same gigabyte in 2 MiB
// pages needs about 500 TLB entries instead of 250,000. Debian's default
// transparent-huge-page mode is `madvise`: only memory that asks gets them,
// which is why ebb asks instead of relying on the system default.
//
// Where huge pages cannot be had (THP set to `never`, no free 2 MiB pages) the
// regions are ordinary pages and nothing else changes. EBB_HUGE_PAGES=0 in the
// environment turns the advice off. Under AddressSanitizer every allocation
// goes to operator new instead, so ASan still sees each block.

#include <cstddef>
#include <cstdint>
#include <new>

namespace ebb {

// A huge page: the alignment of the pools' regions and of large arrays.
inline constexpr size_t kHugePageBytes = size_t{2} << 20;

// A process-wide pool of equal-sized blocks. Thread-safe. Freed blocks are
// kept for reuse by any later Allocate() of the same pool; the regions are
// never returned to the system (a streaming engine's windows grow to a
// steady size and stay there).
class BlockPool {
 public:
  // The pool for blocks of `bytes` bytes, aligned to `align` (a power of two,
  // at most 4096). Created on first use and never destroyed, so blocks may be
  // freed from static destructors.
  static BlockPool& For(size_t bytes, size_t align);

  // A block of the pool's size; its contents are unspecified. Never null (as
  // operator new, it throws std::bad_alloc only when the system has no memory).
  void* Allocate();
  // REQUIRES: `block` came from this pool's Allocate() and is not used after.
  void Free(void* block);

  // Makes sure the next `blocks` Allocate() calls return memory that is
  // already backed by pages: takes that many blocks (reused ones first),
  // writes to every page of each, and frees them again. The kernel's
  // first-touch cost (zeroing a page, setting up its mapping: for a 2 MiB
  // page in a virtual machine, up to milliseconds) is then paid here instead
  // of inside whichever event takes the block. For a caller that knows how
  // many blocks it will need: a service at start-up, a benchmark between its
  // timed phases.
  void Prefault(size_t blocks);

  // The memory one block takes: its size, plus the cache line between blocks
  // of 1 KiB or more (see Allocate in huge_pages.cc).
  size_t Footprint() const;
  // Bytes taken from the system for this pool's blocks so far.
  size_t ReservedBytes() const;
  // Allocate() calls of every pool so far, reuses of freed blocks included
  // (the benchmarks count each as an allocation).
  static uint64_t TotalAllocations();
  // The footprints of the blocks taken and not yet freed, over every pool of
  // the process: the memory the windows hold (Pipeline::PrefetchAhead gives
  // its hints only once it is large).
  static size_t LiveBytes();

  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

 private:
  struct State;
  BlockPool(size_t bytes, size_t align);
  State* state_;
};

// Storage for a large array: at least kHugePageBytes / 2 bytes come from their
// own advised, 2 MiB-aligned mapping; smaller ones from operator new.
void* AllocateLarge(size_t bytes, size_t align);
// REQUIRES: `bytes` and `align` as given to the AllocateLarge that returned p.
void FreeLarge(void* p, size_t bytes, size_t align) noexcept;

// A standard allocator over AllocateLarge, for containers whose one big table
// is read at random on every event (the symbol map).
template <typename T>
struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}  // NOLINT
  T* allocate(size_t n) {
    return static_cast<T*>(AllocateLarge(n * sizeof(T), alignof(T)));
  }
  void deallocate(T* p, size_t n) noexcept {
    FreeLarge(p, n * sizeof(T), alignof(T));
  }
  template <typename U>
  friend bool operator==(const HugePageAllocator&,
                         const HugePageAllocator<U>&) {
    return true;
  }
  template <typename U>
  friend bool operator!=(const HugePageAllocator&,
                         const HugePageAllocator<U>&) {
    return false;
  }
};

}  // namespace ebb
