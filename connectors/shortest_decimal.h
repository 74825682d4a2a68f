#pragma once

// The shortest decimal that reads back as a given double, for the doubles of
// metrics lines (drawdowns and changes: 1e-4 <= |v| < 1e7), in exact 128-bit
// integer arithmetic.

#include <cstdint>
#include <cstring>

namespace ebb {

// 10^0 ... 10^19: every power of ten a uint64_t holds.
inline constexpr uint64_t kPowersOf10[] = {1ULL,
                                           10ULL,
                                           100ULL,
                                           1000ULL,
                                           10000ULL,
                                           100000ULL,
                                           1000000ULL,
                                           10000000ULL,
                                           100000000ULL,
                                           1000000000ULL,
                                           10000000000ULL,
                                           100000000000ULL,
                                           1000000000000ULL,
                                           10000000000000ULL,
                                           100000000000000ULL,
                                           1000000000000000ULL,
                                           10000000000000000ULL,
                                           100000000000000000ULL,
                                           1000000000000000000ULL,
                                           10000000000000000000ULL};

// digits x 10^exponent, digits without trailing zeros.
struct ShortestDecimal {
  uint64_t digits = 0;
  int exponent = 0;
};

// The decimal std::to_chars(a) prints (its shortest round trip form): of the
// decimals with the fewest significant digits that round to `a` (ties to an
// even mantissa, as strtod reads them), the one nearest to `a`, ties to an
// even last digit. Returns false, leaving *out unchanged, unless
// 1e-4 <= a < 1e7.
//
// How: a = m x 2^e. With k = 16 - floor(log10(2^E)), E = floor(log2 a), the
// scaled value V = a x 10^k lies in [1e16, 1e18) and its rounding interval
// (half an ulp each side, a quarter below at a power of two) holds at least
// one integer, so every candidate decimal is an integer near V. V and the
// interval's ends are (4m + d) x 10^k / 2^(2 - e): products below 2^125 for
// the range above, shifted exactly. Then the largest power 10^j with a
// multiple inside the interval gives the fewest digits, and the multiple
// nearest to V is chosen.
inline bool ShortestDecimalOf(double a, ShortestDecimal* out) {
  if (!(a >= 1e-4 && a < 1e7)) return false;
  __extension__ typedef unsigned __int128 u128;
  uint64_t bits;
  std::memcpy(&bits, &a, sizeof(bits));
  const uint64_t fraction = bits & ((uint64_t{1} << 52) - 1);
  const int biased = static_cast<int>(bits >> 52);  // a > 0: no sign bit
  const uint64_t m = fraction | (uint64_t{1} << 52);
  const int e2 = biased - 1023;  // floor(log2 a), in [-14, 23]
  // floor(e2 x log10(2)), exact for |e2| < 1650.
  const int k = 16 - ((e2 * 315653) >> 20);  // in [10, 21]
  // 10^k = small x big, with 4m x small < 2^62: one 64 x 64 -> 128 product.
  const uint64_t small = kPowersOf10[k > 19 ? k - 19 : 0];
  const uint64_t big = kPowersOf10[k > 19 ? 19 : k];
  const u128 pow10k = u128{small} * big;
  const int shift = 54 - e2;  // 2 - e, e = e2 - 52: in [31, 68]
  const u128 mask = (u128{1} << shift) - 1;
  const bool include_ends = (m & 1) == 0;  // strtod's ties go to even
  const u128 value = u128{4 * m * small} * big;
  const u128 lower = value - (fraction == 0 ? pow10k : 2 * pow10k);
  const u128 upper = value + 2 * pow10k;

  // The integers of the interval: [lo, hi].
  uint64_t lo = static_cast<uint64_t>(lower >> shift);
  if ((lower & mask) != 0 || !include_ends) ++lo;
  uint64_t hi = static_cast<uint64_t>(upper >> shift);
  if ((upper & mask) == 0 && !include_ends) --hi;

  // Remove digits while a multiple of the next power of ten stays inside:
  // at 10^j the multiples inside are c x 10^j for c in (below, hi].
  uint64_t below = lo - 1;
  uint64_t v = static_cast<uint64_t>(value >> shift);
  const u128 rest = value & mask;
  const u128 half = u128{1} << (shift - 1);
  int removed = 0;
  uint32_t last_digit = 0;     // the last digit removed from v
  bool rest_zero = rest == 0;  // everything removed before it is zero
  while (hi / 10 > below / 10) {
    hi /= 10;
    below /= 10;
    rest_zero = rest_zero && last_digit == 0;
    last_digit = static_cast<uint32_t>(v % 10);
    v /= 10;
    ++removed;
  }
  // Round v to nearest, ties to even.
  bool up;
  if (removed == 0) {
    up = rest > half || (rest == half && (v & 1) != 0);
  } else {
    up = last_digit > 5 || (last_digit == 5 && (!rest_zero || (v & 1) != 0));
  }
  if (up) ++v;
  // The nearest inside the interval (the candidates are contiguous).
  if (v <= below) v = below + 1;
  if (v > hi) v = hi;
  out->digits = v;
  out->exponent = removed - k;
  return true;
}

}  // namespace ebb
