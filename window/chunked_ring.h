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
// (window/huge_pages.h): 64 MiB regions aligned to 2 MiB, backed by huge
// pages where the system has them, shared by every ring of the same type.
//
// A ring that holds no block starts with a short one: the first slots of a
// block, kFirstCapacity of them (at least 64 bytes of hot slots), doubled
// (copying the few elements it holds) each time the tail reaches its end,
// until it is a whole block. Slots are still found as in a whole block, so
// only a push at that end and the cold slots' offset (cold()) know about it:
// a window of a few entries takes a few hundred bytes, not a whole block.
// REQUIRES: at most kMaxSize elements at once. Not thread-safe (the pool is).

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "window/huge_pages.h"
#include "window/prefetch.h"

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
  // The slots of the first short block: the fewest whose hot slots fill a
  // cache line.
  static constexpr uint32_t kFirstCapacity = [] {
    uint32_t capacity = 1;
    while (capacity < kBlockSize && capacity * sizeof(T) < 64) capacity *= 2;
    return capacity;
  }();

  ChunkedRing() = default;
  // Moves leave the source empty (it owns no blocks afterwards).
  ChunkedRing(ChunkedRing&& other) noexcept { Swap(other); }
  ChunkedRing& operator=(ChunkedRing&& other) noexcept {
    Swap(other);  // our old blocks are freed with `other`
    return *this;
  }
  ~ChunkedRing() {
    for (uint32_t i = 0; i <= table_mask_; ++i) {
      if (blocks_[i] == nullptr) continue;
      if (short_end_ != 0) {
        ShortPool(short_end_).Free(blocks_[i]);
      } else {
        FreeBlock(blocks_[i]);
      }
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
    return ColdSlots<C>(BlockOf(pos))[pos & kMask];
  }
  template <typename C = Cold>
  const C& cold(uint32_t pos) const {
    return ColdSlots<C>(BlockOf(pos))[pos & kMask];
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
    if (CanPushWithinBlock()) PrefetchSlot(&(*this)[tail_]);
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
    // A position on a block boundary is the first of a block nobody holds yet;
    // one at the end of a short block needs a longer one.
    if (!CanPushWithinBlock()) MakeRoomAtTail();
    T& slot = (*this)[tail_];
    ++tail_;
    return slot;
  }

  // Removes the oldest element. REQUIRES: !empty().
  void pop_front() {
    ++head_;
    if ((head_ & kMask) == 0) ReleaseBlock((head_ - 1) >> kBlockShift);
  }

  // Whether the next push_back() writes a slot of a block already held (and
  // takes no block).
  bool CanPushWithinBlock() const { return (tail_ & kMask) != short_end_; }

  // push_back() and pop_front() for callers that have checked that no block
  // changes hands: the tail is inside a held block, or the oldest element is
  // not the last of its block. REQUIRES: CanPushWithinBlock();
  // (head() + 1) % kBlockSize != 0 and !empty().
  T& push_back_within_block() { return (*this)[tail_++]; }
  void pop_front_within_block() { ++head_; }

  // BlockPool::Prefault for the blocks of this ring type (shared by every
  // ring of the type): the next `blocks` blocks taken are already backed.
  static void PrefaultBlocks(size_t blocks) { Pool().Prefault(blocks); }

  // Bytes held: live and spare blocks (each with the pool's spacing), or the
  // short block, and the table.
  size_t MemoryBytes() const {
    const size_t table = (size_t{table_mask_} + 1) * sizeof(Block*);
    if (short_end_ != 0) return ShortPool(short_end_).Footprint() + table;
    return (size_t{live_blocks_} + (spare_ != nullptr ? 1 : 0)) *
               Pool().Footprint() +
           table;
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

  // The bytes of a short block of `capacity` slots: hot slots, then as many
  // cold ones.
  static constexpr size_t kSlotBytes =
      sizeof(T) +
      (std::is_void_v<Cold>
           ? 0
           : sizeof(std::conditional_t<std::is_void_v<Cold>, char, Cold>));
  // The pool of short blocks of `capacity` (a power of two below kBlockSize)
  // slots.
  static BlockPool& ShortPool(uint32_t capacity) {
    static BlockPool* const* const pools = [] {
      static BlockPool* by_shift[kBlockShift];
      for (uint32_t shift = 0; shift < kBlockShift; ++shift) {
        by_shift[shift] =
            &BlockPool::For((size_t{1} << shift) * kSlotBytes, alignof(Block));
      }
      return by_shift;
    }();
    return *pools[__builtin_ctz(capacity)];
  }

  // The cold slots of `block`: after its hot ones, of which a short block has
  // short_end_.
  template <typename C>
  C* ColdSlots(Block* block) const {
    const uint32_t capacity = short_end_ != 0 ? short_end_ : kBlockSize;
    return reinterpret_cast<C*>(reinterpret_cast<char*>(block) +
                                size_t{capacity} * sizeof(T));
  }

  // push_back() at a block boundary or at the end of a short block.
  void MakeRoomAtTail() {
    if (short_end_ == 0) {
      if (live_blocks_ == 0 && spare_ == nullptr &&
          kFirstCapacity < kBlockSize) {
        // A ring without blocks starts short: the first slots of the block.
        blocks_[(tail_ >> kBlockShift) & table_mask_] =
            static_cast<Block*>(ShortPool(kFirstCapacity).Allocate());
        live_blocks_ = 1;
        short_end_ = kFirstCapacity;
        return;
      }
      AcquireBlock(tail_ >> kBlockShift);
      return;
    }
    // The short block is full up to its end: double it. Its elements keep
    // their slots (a short block holds the first positions of a block).
    const uint32_t capacity = short_end_ * 2;
    Block*& slot = blocks_[(tail_ >> kBlockShift) & table_mask_];
    Block* const old = slot;
    Block* grown = capacity == kBlockSize
                       ? NewBlock()
                       : static_cast<Block*>(ShortPool(capacity).Allocate());
    const uint32_t from = head_ & kMask, to = tail_ & kMask;
    std::copy(&old->hot[from], &old->hot[to], &grown->hot[from]);
    if constexpr (!std::is_void_v<Cold>) {
      Cold* const old_cold = ColdSlots<Cold>(old);
      const uint32_t old_end = short_end_;
      short_end_ = capacity == kBlockSize ? 0 : capacity;
      std::copy(old_cold + from, old_cold + to, ColdSlots<Cold>(grown) + from);
      ShortPool(old_end).Free(old);
    } else {
      ShortPool(short_end_).Free(old);
      short_end_ = capacity == kBlockSize ? 0 : capacity;
    }
    slot = grown;
  }

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
    std::swap(short_end_, other.short_end_);
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
  // it, so a slot access is two loads (absl::InlinedVector, at the same
  // object size, would first test where its data is).
  static constexpr uint32_t kInlineBlocks = 8;
  uint32_t table_mask_ = kInlineBlocks - 1;
  uint32_t head_ = 0;
  uint32_t tail_ = 0;
  uint32_t live_blocks_ = 0;  // at most kMaxSize / kBlockSize
  // While the ring's one block is short: its slots (the tail's offset in the
  // block at which it must grow); 0 otherwise.
  uint32_t short_end_ = 0;
  Block** blocks_ = inline_;
  Block* inline_[kInlineBlocks] = {};
  Block* spare_ = nullptr;
};

}  // namespace ebb
