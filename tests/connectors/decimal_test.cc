#include "connectors/decimal.h"

#include <charconv>
#include <cstdint>
#include <cstring>
#include <random>
#include <regex>
#include <string>

#include "gtest/gtest.h"

namespace ebb {
namespace {

// What CsvSource falls back to: std::from_chars over the whole text.
bool FromChars(const std::string& text, double* out) {
  const auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

uint64_t Bits(double d) {
  uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}

// Every text the fast path accepts parses to the same bits as std::from_chars;
// the ones it declines are left to from_chars.
void ExpectAgrees(const std::string& text, bool fast_expected) {
  double fast = -7.0;
  const bool taken = ParsePlainDecimal(text, &fast);
  EXPECT_EQ(taken, fast_expected) << '"' << text << '"';
  if (!taken) {
    EXPECT_EQ(fast, -7.0) << "declined but wrote: \"" << text << '"';
    return;
  }
  double slow = 0;
  ASSERT_TRUE(FromChars(text, &slow)) << '"' << text << '"';
  EXPECT_EQ(Bits(fast), Bits(slow)) << '"' << text << '"';
}

TEST(ParsePlainDecimalTest, PlainDecimalsAreTakenAndExact) {
  for (const char* text :
       {"0", "7", "21.7297", "100", "0.015", "0.1", "0.3", "99999.99999",
        "123456789012345", "1.23456789012345", "0.00000000000001", "0.0", "00",
        "0.000", "5.0", "00000000000000.5", "9007199254740.99",
        "43210.9876543210"}) {
    ExpectAgrees(text, true);
  }
}

TEST(ParsePlainDecimalTest, EverythingElseIsLeftToFromChars) {
  for (const char* text : {"",
                           ".",
                           ".5",
                           "5.",
                           "1.2.3",
                           "-1",
                           "+1",
                           "1e5",
                           "1E-3",
                           "inf",
                           "nan",
                           "0x10",
                           " 1",
                           "1 ",
                           "1,5",
                           "12a",
                           "1234567890123456",
                           "1.234567890123456",
                           "0000000000000000.1",
                           "1..2",
                           "1:0",
                           "1/0",
                           "/",
                           ":",
                           "1\xc2\xb7"
                           "2",
                           "\xff",
                           "1.5\xe2\x80\x8b"}) {
    ExpectAgrees(text, false);
  }
}

// The definition the fast path must agree with, written independently of it:
// the pattern digits[.digits] (a regex), at most 16 bytes and 15 digits; the
// value m / 10^f, with m the digits as one integer and f the digits after the
// point.
bool ReferenceAccepts(const std::string& text, uint64_t* mantissa,
                      int* fraction) {
  static const std::regex kPlain("[0-9]+(\\.[0-9]+)?");
  if (text.size() > 16 || !std::regex_match(text, kPlain)) return false;
  std::string digits = text;
  const size_t point = text.find('.');
  if (point != std::string::npos) digits.erase(point, 1);
  if (digits.size() > 15) return false;
  *mantissa = std::stoull(digits);
  *fraction = point == std::string::npos
                  ? 0
                  : static_cast<int>(text.size() - point - 1);
  return true;
}

// Random byte strings of every length to 18 from digits, points and bytes
// next to them in value ('/', ':', '-', 0x00, 0x80, 0xAE, 0xB0, 0xFF), so that
// the word-wise checks see every near miss at every position: the fast path
// accepts exactly what the definition accepts, with exactly its value.
TEST(ParsePlainDecimalTest, RandomBytesAgreeWithTheDefinition) {
  std::mt19937_64 rng(20261204);
  const char kNearMisses[] = {'/',    ':',    '-', '\0', '\x80', '\xAE',
                              '\xB0', '\xFF', ' ', '+',  'e'};
  int accepted = 0;
  for (int i = 0; i < 500'000; ++i) {
    const size_t n = rng() % 19;
    std::string text(n, '0');
    for (char& c : text) {
      const uint64_t r = rng() % 40;
      c = r < 30   ? static_cast<char>('0' + r % 10)
          : r < 34 ? '.'
                   : kNearMisses[rng() % sizeof kNearMisses];
    }
    uint64_t m = 0;
    int f = 0;
    const bool want = ReferenceAccepts(text, &m, &f);
    double got = -7.0;
    ASSERT_EQ(ParsePlainDecimal(text, &got), want)
        << '"' << text << "\" (" << n << " bytes)";
    if (!want) {
      ASSERT_EQ(got, -7.0);
      continue;
    }
    ++accepted;
    double slow = 0;
    ASSERT_TRUE(FromChars(text, &slow)) << '"' << text << '"';
    ASSERT_EQ(Bits(got), Bits(slow)) << '"' << text << '"';
    static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,
                                        1e5,  1e6,  1e7,  1e8,  1e9,
                                        1e10, 1e11, 1e12, 1e13, 1e14};
    ASSERT_EQ(Bits(got), Bits(static_cast<double>(m) / kPow10[f]))
        << '"' << text << '"';
  }
  EXPECT_GT(accepted, 25'000);
}

TEST(ParsePlainDecimalTest, RandomDecimalsMatchFromChars) {
  std::mt19937_64 rng(5);
  int taken = 0;
  for (int i = 0; i < 200000; ++i) {
    const int digits = 1 + static_cast<int>(rng() % 17);
    std::string text;
    for (int d = 0; d < digits; ++d) {
      text.push_back(static_cast<char>('0' + rng() % 10));
    }
    if (rng() % 4 != 0) {  // a point somewhere, sometimes at an edge
      text.insert(text.begin() + static_cast<long>(rng() % (text.size() + 1)),
                  '.');
    }
    double fast = 0;
    if (!ParsePlainDecimal(text, &fast)) {
      double slow = 0;
      // Declined texts are the ones outside the fast path's pattern.
      const size_t point = text.find('.');
      const size_t digit_count =
          text.size() - (point == std::string::npos ? 0 : 1);
      EXPECT_TRUE(digit_count > 15 || point == 0 || point == text.size() - 1)
          << '"' << text << '"';
      (void)FromChars(text, &slow);
      continue;
    }
    ++taken;
    double slow = 0;
    ASSERT_TRUE(FromChars(text, &slow)) << '"' << text << '"';
    ASSERT_EQ(Bits(fast), Bits(slow)) << '"' << text << '"';
  }
  EXPECT_GT(taken, 100000);
}

}  // namespace
}  // namespace ebb
