#pragma once

// Parsing decimal numbers from text records.

#include <cstdint>

#include "absl/strings/string_view.h"

namespace ebb {

// The fast path for the prices of text files: `text` made only of digits with
// at most one '.' between digits ("21.7297", "100", "0.015") and at most 15
// digits in all. Such a number is m / 10^f with m < 10^15 < 2^53 and f <= 14,
// both exact doubles, so the one correctly rounded division gives exactly what
// std::from_chars gives. Anything else (signs, exponents, "inf", ".5", "5.",
// more digits, other characters) returns false and leaves *out unchanged: the
// caller then parses with std::from_chars, which also reports the error.
inline bool ParsePlainDecimal(absl::string_view text, double* out) {
  static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,
                                      1e5,  1e6,  1e7,  1e8,  1e9,
                                      1e10, 1e11, 1e12, 1e13, 1e14};
  if (text.empty() || text.size() > 16) return false;
  uint64_t mantissa = 0;
  int digits = 0;
  int point = -1;  // digits before the '.', when there is one
  for (const char c : text) {
    const unsigned d = static_cast<unsigned char>(c) - '0';
    if (d < 10) {
      mantissa = mantissa * 10 + d;
      ++digits;
    } else if (c == '.' && point < 0 && digits > 0) {
      point = digits;
    } else {
      return false;
    }
  }
  if (digits > 15 || point == digits) return false;
  const int fraction = point < 0 ? 0 : digits - point;
  *out = static_cast<double>(mantissa) / kPow10[fraction];
  return true;
}

}  // namespace ebb
