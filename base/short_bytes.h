#pragma once

// Equality of short byte strings (symbols, timestamps) without a library call.
//
// Comparing a symbol with std::string's operator== calls libc's memcmp, which
// costs more than the compare for the 3-12 byte keys of a symbol table, and
// the table's probes and the per-record lookup checks compare keys on every
// record (docs/performance.md, "Reading files"). Up to 32 bytes are compared
// in overlapping words here; longer strings go to memcmp.

#include <cstdint>
#include <cstring>

#include "absl/strings/string_view.h"

namespace ebb {

namespace short_bytes_internal {
inline uint64_t Load64(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}
inline uint32_t Load32(const char* p) {
  uint32_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}
}  // namespace short_bytes_internal

inline bool SameBytes(absl::string_view a, absl::string_view b) {
  using short_bytes_internal::Load32;
  using short_bytes_internal::Load64;
  const size_t n = a.size();
  if (n != b.size()) return false;
  const char* p = a.data();
  const char* q = b.data();
  if (n >= 8) {
    if (n > 32) return std::memcmp(p, q, n) == 0;
    // Words at 0, 8, 16 below n - 8, and the last one at n - 8 (overlapping).
    uint64_t diff = Load64(p + n - 8) ^ Load64(q + n - 8);
    for (size_t i = 0; i + 8 < n; i += 8) diff |= Load64(p + i) ^ Load64(q + i);
    return diff == 0;
  }
  if (n >= 4) {
    return ((Load32(p) ^ Load32(q)) |
            (Load32(p + n - 4) ^ Load32(q + n - 4))) == 0;
  }
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != q[i]) return false;
  }
  return true;
}

// The equality of a hash table keyed by std::string and looked up by
// string_view (transparent, like absl's default).
struct SameBytesEq {
  using is_transparent = void;
  bool operator()(absl::string_view a, absl::string_view b) const {
    return SameBytes(a, b);
  }
};

}  // namespace ebb
