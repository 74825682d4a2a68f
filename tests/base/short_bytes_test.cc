#include "base/short_bytes.h"

#include <cstring>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "gtest/gtest.h"

namespace ebb {
namespace {

// Every length up to 40 (both sides of the word and memcmp thresholds), equal
// strings at different addresses, and a difference at every position, in
// every bit of the byte: SameBytes agrees with memcmp each time.
TEST(SameBytesTest, AgreesWithMemcmpAtEveryLengthAndPosition) {
  for (size_t n = 0; n <= 40; ++n) {
    // Copies at offsets 0-7 of their buffers, so the loads are unaligned.
    for (size_t shift = 0; shift < 8; ++shift) {
      std::string a_buf(n + 8, '#'), b_buf(n + 16, '%');
      char* a = &a_buf[shift];
      char* b = &b_buf[7 - shift];
      for (size_t i = 0; i < n; ++i) a[i] = b[i] = static_cast<char>('A' + i);
      const absl::string_view av(a, n), bv(b, n);
      ASSERT_TRUE(SameBytes(av, bv)) << n;
      for (size_t pos = 0; pos < n; ++pos) {
        for (int bit = 0; bit < 8; ++bit) {
          b[pos] = static_cast<char>(b[pos] ^ (1 << bit));
          ASSERT_EQ(SameBytes(av, bv), std::memcmp(a, b, n) == 0)
              << "n " << n << " pos " << pos << " bit " << bit;
          ASSERT_FALSE(SameBytes(av, bv));
          b[pos] = a[pos];
        }
      }
      if (n > 0) {  // a prefix is not equal
        ASSERT_FALSE(SameBytes(av, absl::string_view(b, n - 1))) << n;
      }
    }
  }
}

TEST(SameBytesTest, TableLooksUpByStringView) {
  absl::flat_hash_map<std::string, int,
                      absl::container_internal::hash_default_hash<std::string>,
                      SameBytesEq>
      table;
  for (int i = 0; i < 1000; ++i) table[std::to_string(i * 7919)] = i;
  for (int i = 0; i < 1000; ++i) {
    const std::string key = std::to_string(i * 7919);
    auto it = table.find(absl::string_view(key));
    ASSERT_NE(it, table.end()) << key;
    EXPECT_EQ(it->second, i);
  }
  EXPECT_EQ(table.find(absl::string_view("7918")), table.end());
  EXPECT_EQ(table.find(absl::string_view("")), table.end());
}

}  // namespace
}  // namespace ebb
