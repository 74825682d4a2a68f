#include "connectors/shortest_decimal.h"

#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace ebb {
namespace {

// std::to_chars' shortest form of a, as digits x 10^exponent.
ShortestDecimal ToChars(double a) {
  char buf[40];
  const auto r =
      std::to_chars(buf, buf + sizeof(buf), a, std::chars_format::scientific);
  ShortestDecimal d;
  int fraction_digits = 0;
  const char* s = buf;
  bool after_point = false;
  for (; *s != 'e'; ++s) {
    if (*s == '.') {
      after_point = true;
      continue;
    }
    d.digits = d.digits * 10 + static_cast<uint64_t>(*s - '0');
    if (after_point) ++fraction_digits;
  }
  int exp10 = 0;
  std::from_chars(s + 1 + (s[1] == '+'), r.ptr, exp10);
  d.exponent = exp10 - fraction_digits;
  return d;
}

void ExpectSame(double a) {
  ShortestDecimal got;
  ASSERT_TRUE(ShortestDecimalOf(a, &got)) << a;
  const ShortestDecimal want = ToChars(a);
  ASSERT_EQ(got.digits, want.digits) << std::hexfloat << a;
  ASSERT_EQ(got.exponent, want.exponent) << std::hexfloat << a;
}

double FromBits(uint64_t bits) {
  double a;
  std::memcpy(&a, &bits, sizeof(a));
  return a;
}

uint64_t BitsOf(double a) {
  uint64_t bits;
  std::memcpy(&bits, &a, sizeof(bits));
  return bits;
}

TEST(ShortestDecimalTest, RandomBitPatternsInRangeAreToChars) {
  // Every double of [1e-4, 1e7) is a bit pattern between these two.
  const uint64_t first = BitsOf(1e-4), last = BitsOf(std::nextafter(1e7, 0));
  std::mt19937_64 rng(41);
  std::uniform_int_distribution<uint64_t> pattern(first, last);
  for (int i = 0; i < 2'000'000; ++i) ExpectSame(FromBits(pattern(rng)));
}

TEST(ShortestDecimalTest, DrawdownsAndChangesOfFourDecimalPricesAreToChars) {
  // What metrics lines hold: 1 - price / peak and price / old - 1.
  std::mt19937_64 rng(43);
  std::uniform_int_distribution<int64_t> ticks(1, 100'000'000);
  int checked = 0;
  while (checked < 1'000'000) {
    const double p = static_cast<double>(ticks(rng)) / 1e4;
    const double q = static_cast<double>(ticks(rng)) / 1e4;
    for (const double v : {1 - p / q, p / q - 1, p / q}) {
      const double a = std::fabs(v);
      if (a >= 1e-4 && a < 1e7) {
        ExpectSame(a);
        ++checked;
      }
    }
  }
}

TEST(ShortestDecimalTest, ShortDyadicValuesAreToChars) {
  // x / 2^q with few significant bits: exact decimals of 17-19 digits, where
  // the nearest shortest candidates can be equally near (ties to even).
  std::mt19937_64 rng(47);
  int checked = 0;
  for (int q = 0; q <= 70; ++q) {
    for (int i = 0; i < 20'000; ++i) {
      const uint64_t x = (rng() >> (11 + rng() % 53)) | 1;  // < 2^53: exact
      const double a = std::ldexp(static_cast<double>(x), -q);
      if (a >= 1e-4 && a < 1e7) {
        ExpectSame(a);
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 500'000);
}

TEST(ShortestDecimalTest, EdgesAreToChars) {
  std::vector<double> values = {
      1e-4, 1e-3,     0.1, 0.2,        0.3,       1.0 / 3, 0.5,          1.0,
      2.0,  9999999., 1e6, 123456.789, 0.2 + 0.1, 1 - 0.8, 5e-324 + 1e-4};
  // Powers of two, where the interval below is half as wide as above, and
  // their neighbours.
  for (int e = -13; e <= 23; ++e) {
    const double two = std::ldexp(1.0, e);
    values.insert(values.end(),
                  {two, std::nextafter(two, 0), std::nextafter(two, 1e300)});
  }
  // Short decimals and the doubles next to them, from 1e-4 up.
  for (int digits = 1; digits <= 17; ++digits) {
    for (int exp10 = -4; exp10 <= 6; ++exp10) {
      const double d = std::stod("1." + std::string(digits - 1, '3') + "e" +
                                 std::to_string(exp10));
      values.insert(values.end(),
                    {d, std::nextafter(d, 0), std::nextafter(d, 1e300)});
    }
  }
  values.push_back(std::nextafter(1e7, 0));
  for (const double v : values) {
    if (v >= 1e-4 && v < 1e7) ExpectSame(v);
  }
}

TEST(ShortestDecimalTest, OutsideTheRangeLeavesOutUnchanged) {
  for (const double v : {0.0, -1.0, std::nextafter(1e-4, 0), 1e7, 1e300, 5e-324,
                         HUGE_VAL, std::nan("")}) {
    ShortestDecimal d{7, 3};
    EXPECT_FALSE(ShortestDecimalOf(v, &d)) << v;
    EXPECT_EQ(d.digits, 7u);
    EXPECT_EQ(d.exponent, 3);
  }
}

}  // namespace
}  // namespace ebb
