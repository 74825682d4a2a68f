// ChunkedRing against std::deque: random pushes and pops across block
// boundaries, tables that grow from their inline storage to the heap, and
// moves (construction and assignment) of rings in both states, including onto
// a ring that owns blocks. Run under ASan+UBSan too, for leaks and dangling
// table pointers.

#include "window/chunked_ring.h"

#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <utility>

#include "gtest/gtest.h"
#include "window/huge_pages.h"

namespace ebb {
namespace {

struct Cold {
  uint64_t twice;
};

using Ring = ChunkedRing<uint64_t, Cold>;

void Push(Ring& ring, std::deque<uint64_t>& model, uint64_t value) {
  ring.push_back() = value;
  ring.cold(ring.tail() - 1) = {2 * value};
  model.push_back(value);
}

// Every held position holds the model's value, hot and cold.
void ExpectSame(const Ring& ring, const std::deque<uint64_t>& model) {
  ASSERT_EQ(ring.size(), model.size());
  for (uint32_t i = 0; i < model.size(); ++i) {
    const uint32_t pos = ring.head() + i;
    ASSERT_EQ(ring[pos], model[i]) << "position " << i;
    ASSERT_EQ(ring.cold(pos).twice, 2 * model[i]) << "position " << i;
  }
}

// Random pushes and pops in phases that grow and shrink by `net` entries
// per 100 operations; after each round the ring moves to a new object (by
// construction, or by assignment over a ring that owns blocks), the old one
// is destroyed, and the new one carries on.
void RunAgainstDeque(uint64_t seed, int rounds, int grow_percent,
                     int shrink_percent, uint64_t* pushed) {
  std::mt19937_64 rng(seed);
  auto ring = std::make_unique<Ring>();
  std::deque<uint64_t> model;
  uint64_t next = 1;
  for (int round = 0; round < rounds; ++round) {
    const bool grow = (round / 50) % 2 == 0;
    const int ops = static_cast<int>(rng() % 300);
    for (int k = 0; k < ops; ++k) {
      const uint64_t push_percent = grow ? grow_percent : shrink_percent;
      if (model.empty() || rng() % 100 < push_percent) {
        Push(*ring, model, next++);
      } else {
        ring->pop_front();
        model.pop_front();
      }
    }
    ExpectSame(*ring, model);
    if (::testing::Test::HasFatalFailure()) return;
    if (rng() % 2 == 0) {
      auto moved = std::make_unique<Ring>(std::move(*ring));
      EXPECT_TRUE(ring->empty());
      ring = std::move(moved);  // the moved-from ring is destroyed
    } else {
      auto other = std::make_unique<Ring>();
      std::deque<uint64_t> ignored;
      const int fill = static_cast<int>(rng() % 2000);
      for (int k = 0; k < fill; ++k) Push(*other, ignored, 0);
      *other = std::move(*ring);  // other's blocks go to *ring, freed below
      ring = std::move(other);
    }
    ExpectSame(*ring, model);
    if (::testing::Test::HasFatalFailure()) return;
  }
  *pushed = next;
}

// Tables that grow from inline storage to the heap (~40 blocks) and rings
// that shrink again.
TEST(ChunkedRingTest, MatchesADequeThroughGrowthAndMoves) {
  uint64_t pushed = 0;
  RunAgainstDeque(17, 400, 70, 30, &pushed);
  EXPECT_GT(pushed, 10000u);
}

// Rings that stay within the inline table (at most a few blocks).
TEST(ChunkedRingTest, MatchesADequeWithAnInlineTable) {
  uint64_t pushed = 0;
  RunAgainstDeque(23, 400, 52, 48, &pushed);
  EXPECT_GT(pushed, 10000u);
}

TEST(ChunkedRingTest, MemoryCountsBlocksAndTheTable) {
  Ring ring;
  std::deque<uint64_t> model;
  const size_t empty = ring.MemoryBytes();
  for (uint32_t k = 0; k < 20 * Ring::kBlockSize; ++k) Push(ring, model, k);
  // 20 blocks: a heap table of 32 entries.
  EXPECT_GE(ring.MemoryBytes(),
            20 * Ring::kBlockSize * (sizeof(uint64_t) + sizeof(Cold)) +
                32 * sizeof(void*));
  EXPECT_GT(ring.MemoryBytes(), empty);
  ExpectSame(ring, model);
}

// A ring starts with a short block (kFirstCapacity slots, here 8: 64 bytes of
// hot slots and 64 of cold), doubled as the tail reaches its end, until it is
// a whole block; the elements keep their values, hot and cold, throughout.
TEST(ChunkedRingTest, ShortFirstBlockGrowsToAWholeBlock) {
  static_assert(Ring::kFirstCapacity == 8);
  constexpr size_t kTable = 8 * sizeof(void*);  // the inline table
  constexpr size_t kSlot = sizeof(uint64_t) + sizeof(Cold);
  Ring ring;
  std::deque<uint64_t> model;
  EXPECT_EQ(ring.MemoryBytes(), kTable);
  Push(ring, model, 1);
  EXPECT_EQ(ring.MemoryBytes(), 8 * kSlot + kTable);
  // Popping leaves the short block in place; pushing fills it to its end.
  ring.pop_front();
  model.pop_front();
  for (uint64_t k = 2; k <= 8; ++k) Push(ring, model, k);
  EXPECT_EQ(ring.MemoryBytes(), 8 * kSlot + kTable);
  EXPECT_FALSE(ring.CanPushWithinBlock());
  Push(ring, model, 9);  // 16 slots
  EXPECT_EQ(ring.MemoryBytes(), 16 * kSlot + kTable);
  ExpectSame(ring, model);
  for (uint64_t k = 10; k <= 64; ++k) Push(ring, model, k);
  // 1,024 bytes: from here blocks have a cache line's gap after them (none
  // under ASan, where each block is its own allocation).
  const size_t gap = BlockPool::For(64 * kSlot, 8).Footprint() - 64 * kSlot;
  EXPECT_EQ(ring.MemoryBytes(), 64 * kSlot + gap + kTable);
  Push(ring, model, 65);  // a whole block
  EXPECT_EQ(ring.MemoryBytes(), Ring::kBlockSize * kSlot + gap + kTable);
  ExpectSame(ring, model);
  for (uint64_t k = 66; k <= 300; ++k) Push(ring, model, k);
  ExpectSame(ring, model);
}

}  // namespace
}  // namespace ebb
