#pragma once

// ChunkedRing<T, Cold, kShift>: a FIFO of T addressed by a 32-bit position
// that wraps around, optionally with a second, "cold" slot of type Cold per
// position, in blocks of 2^kShift slots (128 by default).
//
// The cold slots live in the same block as the hot ones but in their own array,
// so code that walks the hot slots never pulls cold bytes into the cache.
//
// Storage is fixed-size blocks found through a small power-of-two table of
// block pointers, so growing never copies elements (only the table: one pointer
// per block), and freed blocks are kept for reuse: after warm-up, push and pop
// never allocate, and no operation stalls. Blocks come from a BlockPool
// (pipeline/huge_pages.h): 64 MiB regions aligned to 2 MiB, backed by huge
// pages where the system has them, shared by every ring of the same type.
// REQUIRES: at most kMaxSize elements at once. Not thread-safe (the pool is).

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "pipeline/huge_pages.h"
#include "pipeline/prefetch.h"

namespace ebb {

namespace ring_internal {
template <typename T, typename Cold, uint32_t kSize>
struct Block {
  T hot[kSize];
  Cold cold[kSize];
};
template <typename T, uint32_t kSize>
struct Block<T, void, kSize> {
  T hot[kSize];
};
}  // namespace ring_internal

template <typename T, typename Cold = void, uint32_t kShift = 7>
class ChunkedRing {
 public:
  // Blocks of 2^kBlockShift slots.
  static constexpr uint32_t kBlockShift = kShift;
  static constexpr uint32_t kBlockSize = 1u << kBlockShift;
  static constexpr uint32_t kMaxSize = 1u << 30;

  ChunkedRing() = default;
  // Moves leave the source empty (it owns no blocks afterwards).
  ChunkedRing(ChunkedRing&& other) noexcept { Swap(other); }
  ChunkedRing& operator=(ChunkedRing&& other) noexcept {
    Swap(other);  // our old blocks are freed with `other`
    return *this;
  }
  ~ChunkedRing() {
    for (uint32_t i = 0; i <= table_mask_; ++i) {
      if (blocks_[i] != nullptr) FreeBlock(blocks_[i]);
    }
    if (spare_ != nullptr) FreeBlock(spare_);
    if (blocks_ != inline_) delete[] blocks_;
  }

  uint32_t head() const { return head_; }  // position of the oldest element
  uint32_t tail() const { return tail_; }  // position one past the newest
  uint32_t size() const { return tail_ - head_; }
  bool empty() const { return head_ == tail_; }

  // REQUIRES: pos in [head(), tail()) (modulo 2^32).
  T& operator[](uint32_t pos) { return BlockOf(pos)->hot[pos & kMask]; }
  const T& operator[](uint32_t pos) const {
    return BlockOf(pos)->hot[pos & kMask];
  }
  // The cold slot at `pos`. REQUIRES: Cold is not void; as operator[].
  template <typename C = Cold>
  C& cold(uint32_t pos) {
    return BlockOf(pos)->cold[pos & kMask];
  }
  template <typename C = Cold>
  const C& cold(uint32_t pos) const {
    return BlockOf(pos)->cold[pos & kMask];
  }

  // Starts loading the hot (or cold) slot at `pos` into the cache, if `pos`
  // is held; a hint only.
  void PrefetchHot(uint32_t pos) const {
    if (pos - head_ < size()) PrefetchSlot(&(*this)[pos]);
  }
  template <typename C = Cold>
  void PrefetchCold(uint32_t pos) const {
    if (pos - head_ < size()) PrefetchLine(&cold<C>(pos));
  }

  // Starts loading the block-table entry that locates `pos` (for windows of
  // more than 8 blocks the table is a separate array: one more line per
  // distant position).
  void PrefetchTableEntry(uint32_t pos) const {
    PrefetchLine(&blocks_[(pos >> kBlockShift) & table_mask_]);
  }

  // The same for the slot the next push_back() returns, if its block is held.
  void PrefetchNextPush() const {
    if ((tail_ & kMask) != 0) PrefetchSlot(&(*this)[tail_]);
  }

  // Every line of a slot (slots are at most one line long): a slot that is
  // not line-aligned (a 40-byte summary in exact mode's DABA ring) straddles
  // two lines half of the time.
  static void PrefetchSlot(const T* slot) {
    static_assert(sizeof(T) <= 64);
    PrefetchLine(slot);
    if constexpr (alignof(T) < 64) {
      PrefetchLine(reinterpret_cast<const char*>(slot) + sizeof(T) - 1);
    }
  }

  T& front() { return (*this)[head_]; }
  T& back() { return (*this)[tail_ - 1]; }

  // Appends a slot (holding whatever it held before) and returns it. REQUIRES:
  // size() < kMaxSize.
  T& push_back() {
    // A position on a block boundary is the first of a block nobody holds yet.
    if ((tail_ & kMask) == 0) AcquireBlock(tail_ >> kBlockShift);
    T& slot = (*this)[tail_];
    ++tail_;
    return slot;
  }

  // Removes the oldest element. REQUIRES: !empty().
  void pop_front() {
    ++head_;
    if ((head_ & kMask) == 0) ReleaseBlock((head_ - 1) >> kBlockShift);
  }

  // push_back() and pop_front() for callers that have checked that no block
  // changes hands: the tail is inside a held block, or the oldest element is
  // not the last of its block. REQUIRES: tail() % kBlockSize != 0;
  // (head() + 1) % kBlockSize != 0 and !empty().
  T& push_back_within_block() { return (*this)[tail_++]; }
  void pop_front_within_block() { ++head_; }

  // BlockPool::Prefault for the blocks of this ring type (shared by every
  // ring of the type): the next `blocks` blocks taken are already backed.
  static void PrefaultBlocks(size_t blocks) { Pool().Prefault(blocks); }

  // Bytes held: live and spare blocks (each with the pool's spacing), and the
  // table.
  size_t MemoryBytes() const {
    return (size_t{live_blocks_} + (spare_ != nullptr ? 1 : 0)) *
               Pool().Footprint() +
           (size_t{table_mask_} + 1) * sizeof(Block*);
  }

 private:
  static constexpr uint32_t kMask = kBlockSize - 1;
  using Block = ring_internal::Block<T, Cold, kBlockSize>;
  // Blocks live in pool memory and are never destroyed, only returned.
  static_assert(std::is_trivially_destructible_v<Block>);

  static BlockPool& Pool() {
    static BlockPool& pool = BlockPool::For(sizeof(Block), alignof(Block));
    return pool;
  }
  static Block* NewBlock() { return new (Pool().Allocate()) Block; }
  static void FreeBlock(Block* block) { Pool().Free(block); }

  Block* BlockOf(uint32_t pos) const {
    return blocks_[(pos >> kBlockShift) & table_mask_];
  }

  void AcquireBlock(uint32_t block) {
    if (live_blocks_ == table_mask_ + 1) GrowTable();
    Block* storage;
    if (spare_ != nullptr) {
      storage = spare_;
      spare_ = nullptr;
    } else {
      storage = NewBlock();
    }
    blocks_[block & table_mask_] = storage;
    ++live_blocks_;
  }

  void ReleaseBlock(uint32_t block) {
    Block*& slot = blocks_[block & table_mask_];
    // One spare is enough for a window that slides at a steady size.
    if (spare_ == nullptr) {
      spare_ = slot;
    } else {
      FreeBlock(slot);
    }
    slot = nullptr;
    --live_blocks_;
  }

  void Swap(ChunkedRing& other) noexcept {
    // An inline table moves with the object; a heap table is handed over.
    const bool mine_inline = blocks_ == inline_;
    const bool theirs_inline = other.blocks_ == other.inline_;
    std::swap(inline_, other.inline_);
    Block** const mine = blocks_;
    blocks_ = theirs_inline ? inline_ : other.blocks_;
    other.blocks_ = mine_inline ? other.inline_ : mine;
    std::swap(spare_, other.spare_);
    std::swap(table_mask_, other.table_mask_);
    std::swap(head_, other.head_);
    std::swap(tail_, other.tail_);
    std::swap(live_blocks_, other.live_blocks_);
  }

  void GrowTable() {
    const size_t new_size = (size_t{table_mask_} + 1) * 2;
    const uint32_t new_mask = static_cast<uint32_t>(new_size - 1);
    Block** grown = new Block*[new_size]();
    // Live blocks are consecutive, starting with the head's; re-place each by
    // its number.
    const uint32_t first = head_ >> kBlockShift;
    for (uint32_t i = 0; i < live_blocks_; ++i) {
      const uint32_t block = first + i;
      grown[block & new_mask] = blocks_[block & table_mask_];
    }
    if (blocks_ != inline_) {
      delete[] blocks_;
    } else {
      std::fill(std::begin(inline_), std::end(inline_), nullptr);
    }
    blocks_ = grown;
    table_mask_ = new_mask;
  }

  // The block table: a power-of-two array of block pointers, inline for
  // windows of up to kInlineBlocks blocks (no separate heap line on the
  // per-event path), on the heap beyond. blocks_ points at whichever holds
  // it, so a slot access is two loads; absl::InlinedVector, which this
  // replaces at the same object size, first tested where its data was.
  static constexpr uint32_t kInlineBlocks = 8;
  uint32_t table_mask_ = kInlineBlocks - 1;
  uint32_t head_ = 0;
  uint32_t tail_ = 0;
  uint32_t live_blocks_ = 0;  // at most kMaxSize / kBlockSize
  Block** blocks_ = inline_;
  Block* inline_[kInlineBlocks] = {};
  Block* spare_ = nullptr;
};

}  // namespace ebb
