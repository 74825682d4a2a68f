// BlockPool and AllocateLarge: blocks are aligned, distinct and keep what is
// written to them while others come and go; freed blocks are reused; large
// arrays are 2 MiB-aligned; and the kernel really was asked for huge pages
// (the mapping is THP-eligible in /proc/self/smaps) unless THP is off here.

#include "window/huge_pages.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

#if defined(__SANITIZE_ADDRESS__)
#define EBB_TEST_ASAN 1
#endif

namespace ebb {
namespace {

constexpr size_t kBlock = 5120;  // an exact-mode ring block (128 x 40 bytes)

uint64_t Stamp(size_t block, size_t word) {
  return (uint64_t{block} << 32) ^ (word * 0x9E3779B97F4A7C15ull);
}

void Fill(void* p, size_t id) {
  auto* words = static_cast<uint64_t*>(p);
  for (size_t w = 0; w < kBlock / 8; ++w) words[w] = Stamp(id, w);
}

bool Holds(const void* p, size_t id) {
  const auto* words = static_cast<const uint64_t*>(p);
  for (size_t w = 0; w < kBlock / 8; ++w) {
    if (words[w] != Stamp(id, w)) return false;
  }
  return true;
}

TEST(BlockPoolTest, OnePoolPerSizeAndAlignment) {
  EXPECT_EQ(&BlockPool::For(kBlock, 64), &BlockPool::For(kBlock, 64));
  EXPECT_NE(&BlockPool::For(kBlock, 64), &BlockPool::For(kBlock + 64, 64));
  EXPECT_NE(&BlockPool::For(kBlock, 64), &BlockPool::For(kBlock, 128));
}

// 3,000 blocks, freed and taken again at random: live blocks never overlap
// and never lose their contents.
TEST(BlockPoolTest, LiveBlocksAreDistinctAlignedAndKeepTheirContents) {
  BlockPool& pool = BlockPool::For(kBlock, 64);
  std::mt19937_64 rng(7);
  struct Live {
    void* p;
    size_t id;
  };
  std::vector<Live> live;
  size_t next_id = 0;
  const uint64_t allocations0 = BlockPool::TotalAllocations();
  uint64_t allocated = 0;
  for (int step = 0; step < 20000; ++step) {
    if (live.size() < 3000 && (live.empty() || rng() % 3 != 0)) {
      void* p = pool.Allocate();
      ++allocated;
      ASSERT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
      Fill(p, next_id);
      live.push_back({p, next_id++});
    } else {
      const size_t i = rng() % live.size();
      ASSERT_TRUE(Holds(live[i].p, live[i].id)) << "block " << live[i].id;
      pool.Free(live[i].p);
      live[i] = live.back();
      live.pop_back();
    }
  }
  std::set<uintptr_t> starts;
  for (const Live& b : live) {
    ASSERT_TRUE(Holds(b.p, b.id)) << "block " << b.id;
    starts.insert(reinterpret_cast<uintptr_t>(b.p));
  }
  ASSERT_EQ(starts.size(), live.size());
  uintptr_t previous_end = 0;
  for (uintptr_t start : starts) {  // sorted: no block overlaps the next
    EXPECT_GE(start, previous_end);
    previous_end = start + kBlock;
  }
  EXPECT_EQ(BlockPool::TotalAllocations() - allocations0, allocated);
  for (const Live& b : live) pool.Free(b.p);
}

#ifndef EBB_TEST_ASAN
// (Under ASan every block is its own operator new, so ASan sees each one.)
TEST(BlockPoolTest, FreedBlocksAreReusedBeforeNewMemoryIsTaken) {
  BlockPool& pool = BlockPool::For(kBlock * 3, 64);
  std::vector<void*> blocks;
  for (int i = 0; i < 1000; ++i) blocks.push_back(pool.Allocate());
  const size_t reserved = pool.ReservedBytes();
  EXPECT_EQ(reserved % kHugePageBytes, 0u);
  EXPECT_GE(reserved, 1000 * kBlock * 3);
  std::set<void*> freed(blocks.begin(), blocks.end());
  for (void* p : blocks) pool.Free(p);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(freed.count(pool.Allocate()), 1u) << "allocation " << i;
  }
  EXPECT_EQ(pool.ReservedBytes(), reserved);
}

// LiveBytes counts what is taken and not freed, over every pool, by
// footprint; Prefault takes and frees, so it leaves the count as it was.
TEST(BlockPoolTest, LiveBytesFollowsAllocateAndFree) {
  BlockPool& a = BlockPool::For(kBlock * 5, 64);
  BlockPool& b = BlockPool::For(kBlock * 7, 128);
  const size_t before = BlockPool::LiveBytes();
  std::vector<void*> from_a, from_b;
  for (int i = 0; i < 10; ++i) from_a.push_back(a.Allocate());
  for (int i = 0; i < 3; ++i) from_b.push_back(b.Allocate());
  EXPECT_EQ(BlockPool::LiveBytes(),
            before + 10 * a.Footprint() + 3 * b.Footprint());
  a.Prefault(4);
  EXPECT_EQ(BlockPool::LiveBytes(),
            before + 10 * a.Footprint() + 3 * b.Footprint());
  for (void* p : from_a) a.Free(p);
  EXPECT_EQ(BlockPool::LiveBytes(), before + 3 * b.Footprint());
  for (void* p : from_b) b.Free(p);
  EXPECT_EQ(BlockPool::LiveBytes(), before);
}

// Blocks of a power-of-two size are coloured: the same slot of 1,024 blocks
// falls in many different sets of a 64 KiB cache way, not in the 4 that
// blocks laid end to end would give.
TEST(BlockPoolTest, BlocksAreSpreadOverCacheSets) {
  BlockPool& pool = BlockPool::For(16384, 64);
  std::vector<void*> blocks;
  std::set<uintptr_t> sets;
  for (int i = 0; i < 1024; ++i) {
    blocks.push_back(pool.Allocate());
    sets.insert((reinterpret_cast<uintptr_t>(blocks.back()) % 65536) / 64);
  }
  EXPECT_GE(sets.size(), 512u);
  for (void* p : blocks) pool.Free(p);
}

// A pool's regions are used to their end and no further: with 1,024-byte
// blocks (and a line's gap after each) a 64 MiB region ends 1,024 bytes after
// its last whole stride, room for a block but not for its gap. A fresh pool
// hands out a region's blocks in address order, so each block either follows
// the previous one at the stride or starts a new, 2 MiB-aligned region.
TEST(BlockPoolTest, BlocksStayInsideTheirRegions) {
  constexpr size_t kRegion = size_t{64} << 20, kSize = 1024, kStride = 1088;
  BlockPool& pool = BlockPool::For(kSize, 64);
  std::vector<char*> blocks;
  uintptr_t region = 0;
  int regions = 0;
  while (regions < 3) {
    char* b = static_cast<char*>(pool.Allocate());
    const uintptr_t a = reinterpret_cast<uintptr_t>(b);
    if (!blocks.empty() &&
        a == reinterpret_cast<uintptr_t>(blocks.back()) + kStride) {
      ASSERT_LE(a + kSize, region + kRegion)
          << "block " << blocks.size() << " runs past its region";
    } else {
      ASSERT_EQ(a % kHugePageBytes, 0u) << "block " << blocks.size();
      region = a;
      ++regions;
    }
    b[0] = 1;
    b[kSize - 1] = 2;
    blocks.push_back(b);
  }
  EXPECT_GT(blocks.size(), kRegion / kStride);
  for (char* b : blocks) pool.Free(b);
}

// Whether every page of [p, p + bytes) is resident (mincore).
bool Resident(const void* p, size_t bytes) {
  const uintptr_t page = 4096;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(p) & ~(page - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(p) + bytes;
  std::vector<unsigned char> in((end - begin + page - 1) / page);
  if (mincore(reinterpret_cast<void*>(begin), end - begin, in.data()) != 0) {
    return false;
  }
  for (unsigned char c : in) {
    if ((c & 1) == 0) return false;
  }
  return true;
}

// Prefault(n): the next n blocks come from memory already taken and touched,
// in address order, and every page of them is resident.
TEST(BlockPoolTest, PrefaultedBlocksAreResidentAndTakenNext) {
  constexpr size_t kSize = (size_t{1} << 20) + 4096;  // a pool of its own
  constexpr int kBlocks = 6;
  BlockPool& pool = BlockPool::For(kSize, 64);
  pool.Prefault(kBlocks);
  const size_t reserved = pool.ReservedBytes();
  EXPECT_GE(reserved, kBlocks * kSize);
  std::vector<char*> blocks;
  for (int i = 0; i < kBlocks; ++i) {
    blocks.push_back(static_cast<char*>(pool.Allocate()));
    EXPECT_TRUE(Resident(blocks.back(), kSize)) << "block " << i;
    if (i > 0) {
      EXPECT_LT(blocks[i - 1], blocks[i]) << "block " << i;
    }
  }
  EXPECT_EQ(pool.ReservedBytes(), reserved);
  for (char* b : blocks) pool.Free(b);
}
#endif

// The smaps entry of the mapping that holds `p`, or "" if none.
std::string SmapsEntryOf(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line, entry;
  bool inside = false;
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  while (std::getline(smaps, line)) {
    uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> begin >> dash >> end && dash == '-' &&
        line.find(':') > line.find(' ')) {
      if (inside) return entry;
      inside = begin <= a && a < end;
      entry.clear();
    }
    if (inside) entry += line + "\n";
  }
  return inside ? entry : "";
}

bool TransparentHugePagesOff() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  std::getline(f, modes);
  return !f || modes.find("[never]") != std::string::npos;
}

TEST(AllocateLargeTest, LargeArraysAreAlignedAndAdvised) {
  constexpr size_t kBytes = 3 * kHugePageBytes + 12345;
  auto* big = static_cast<unsigned char*>(AllocateLarge(kBytes, 64));
  std::memset(big, 0xAB, kBytes);  // all of it is writable
  void* small = AllocateLarge(1000, 16);
  std::memset(small, 1, 1000);
#ifndef EBB_TEST_ASAN
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big) % kHugePageBytes, 0u);
  const std::string entry = SmapsEntryOf(big);
  ASSERT_NE(entry, "") << "no mapping holds the array";
  if (TransparentHugePagesOff()) {
    GTEST_LOG_(INFO) << "transparent huge pages are off here: advice unchecked";
  } else {
    const size_t at = entry.find("THPeligible:");
    ASSERT_NE(at, std::string::npos) << entry;
    int eligible = -1;
    std::istringstream(entry.substr(at + 12)) >> eligible;
    const char* opt_out = std::getenv("EBB_HUGE_PAGES");
    const bool wanted =
        opt_out == nullptr ||
        (std::strcmp(opt_out, "0") != 0 && std::strcmp(opt_out, "off") != 0 &&
         std::strcmp(opt_out, "false") != 0);
    EXPECT_EQ(eligible, wanted ? 1 : 0) << entry;
  }
#endif
  FreeLarge(small, 1000, 16);
  FreeLarge(big, kBytes, 64);
}

TEST(HugePageAllocatorTest, WorksAsAContainerAllocator) {
  std::vector<uint64_t, HugePageAllocator<uint64_t>> v;
  for (uint64_t i = 0; i < 1'000'000; ++i) v.push_back(i * i);  // 8 MB
  for (uint64_t i = 0; i < v.size(); i += 9973) ASSERT_EQ(v[i], i * i);
}

}  // namespace
}  // namespace ebb
