#pragma once

// Event time in ebb: int64 nanoseconds since the Unix epoch (UTC), about +-292
// years.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace ebb {

using TimeNs = int64_t;

inline constexpr TimeNs kNanosPerSecond = 1'000'000'000;
inline constexpr TimeNs kNanosPerMinute = 60 * kNanosPerSecond;
inline constexpr TimeNs kNanosPerDay = 86'400 * kNanosPerSecond;

// Parses "30d", "1m", "90s", "250ms", "1h30m", "0s" (units ns, us, ms, s, m, h,
// d). Returns InvalidArgument naming `field` when the text is not a
// non-negative duration.
absl::StatusOr<TimeNs> ParseDuration(absl::string_view text,
                                     absl::string_view field);

// Formats a duration in the largest exact unit: 2592000000000000 -> "30d".
std::string FormatDuration(TimeNs ns);

// RFC 3339 UTC, with as many fractional digits as needed:
// "2025-11-21T00:00:00Z".
std::string FormatTime(TimeNs t);

// Appends t as RFC 3339 UTC the way the protobuf JSON mapping prints a
// Timestamp: no fraction, or 3, 6 or 9 fractional digits. Fast (no time-zone
// library); for output hot paths.
void AppendRfc3339(TimeNs t, std::string* out);

// The pieces of AppendRfc3339, writing into a buffer and returning the end:
// "YYYY-MM-DD" of `days` since 1970-01-01 (10 bytes; REQUIRES: years 0-9999);
// "" or "." and 3, 6 or 9 digits of `nanos` (REQUIRES: 0 <= nanos < 1e9);
// "YYYY-MM-DDTHH:MM:SS[.fff]Z" (REQUIRES: years 1-9999, 0 <= nanos < 1e9).
char* WriteCivilDate(int64_t days, char* p);
inline char* WriteNanosFraction(int32_t nanos, char* p) {
  if (nanos == 0) return p;
  *p++ = '.';
  auto v = static_cast<uint32_t>(nanos);
  int digits = 9;
  if (v % 1'000'000 == 0) {
    v /= 1'000'000;
    digits = 3;
  } else if (v % 1'000 == 0) {
    v /= 1'000;
    digits = 6;
  }
  for (int i = digits - 1; i >= 0; --i, v /= 10) {
    p[i] = static_cast<char>('0' + v % 10);
  }
  return p + digits;
}
char* WriteRfc3339(int64_t seconds, int32_t nanos, char* p);

// Converts to and from protobuf well-known types. FromTimestamp fails when the
// timestamp is outside the representable range or its nanos are outside [0,
// 1e9).
absl::StatusOr<TimeNs> FromTimestamp(const google::protobuf::Timestamp& ts);
absl::StatusOr<TimeNs> FromSecondsAndNanos(int64_t seconds, int32_t nanos);
void ToTimestamp(TimeNs t, google::protobuf::Timestamp* ts);
void ToDuration(TimeNs d, google::protobuf::Duration* out);

// Floor division for bucket starts (correct for negative times too).
inline TimeNs FloorTo(TimeNs t, TimeNs resolution) {
  TimeNs q = t / resolution;
  if ((t % resolution) != 0 && t < 0) --q;
  return q * resolution;
}

}  // namespace ebb
