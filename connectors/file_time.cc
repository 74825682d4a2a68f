// Time parsing for the file sources: ParseFileTime (file_source.h) and
// ParseTimeText (file_source_internal.h), which the CSV reader calls with its
// date cache.

#include <cstring>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/short_bytes.h"
#include "connectors/file_source.h"
#include "connectors/file_source_internal.h"

namespace ebb {
namespace source_internal {
namespace {

constexpr int64_t kMaxSeconds =
    std::numeric_limits<TimeNs>::max() / kNanosPerSecond;
constexpr int64_t kMinSeconds =
    std::numeric_limits<TimeNs>::min() / kNanosPerSecond;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads `n` digits at s[pos]; false if any is not a digit.
bool Digits(absl::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!IsDigit(s[i])) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

bool IsLeapYear(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int DaysInMonth(int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  return (m == 2 && IsLeapYear(y)) ? 29 : kDays[m - 1];
}

// Howard Hinnant's days_from_civil: days since 1970-01-01 of a proleptic
// Gregorian date.
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;  // [0, 399]
  const int64_t doy =
      (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;        // [0, 365]
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;  // [0, 146096]
  return era * 146097 + doe - 719468;
}

// seconds * 1e9 + nanos, or nullptr-free failure when out of the TimeNs range.
const char* CombineTime(int64_t seconds, int64_t nanos, TimeNs* out) {
  if (seconds > kMaxSeconds || seconds < kMinSeconds - 1) return "out of range";
  TimeNs t;
  if (__builtin_mul_overflow(seconds, kNanosPerSecond, &t) ||
      __builtin_add_overflow(t, nanos, &t)) {
    return "out of range";
  }
  *out = t;
  return nullptr;
}

// Parses epoch digits (with an optional '-' for seconds). Returns nullptr or
// why it failed.
const char* ParseEpoch(absl::string_view s, TimeNs* out) {
  const bool negative = s[0] == '-';
  if (negative) s.remove_prefix(1);
  const size_t n = s.size();
  if (n > 19) return "too many digits for an epoch time";
  if (negative && n > 11) return "a negative epoch time must be in seconds";
  uint64_t v = 0;
  for (char c : s) v = v * 10 + static_cast<uint64_t>(c - '0');
  uint64_t scale = n <= 11   ? 1'000'000'000
                   : n <= 14 ? 1'000'000
                   : n <= 17 ? 1'000
                             : 1;
  if (v > static_cast<uint64_t>(std::numeric_limits<TimeNs>::max()) / scale) {
    return "out of range";
  }
  const TimeNs t = static_cast<TimeNs>(v * scale);
  *out = negative ? -t : t;
  return nullptr;
}

}  // namespace

const char* ParseTimeText(absl::string_view s, TimeNs* out, DateCache* cache) {
  s = absl::StripAsciiWhitespace(s);
  if (s.empty()) return "empty";
  const bool date_like = s.size() >= 10 && s[4] == '-';
  if (!date_like) {
    const size_t first = s[0] == '-' ? 1 : 0;
    if (s.size() > first) {
      bool all_digits = true;
      for (size_t i = first; i < s.size(); ++i) {
        if (!IsDigit(s[i])) {
          all_digits = false;
          break;
        }
      }
      if (all_digits) return ParseEpoch(s, out);
    }
  }
  int64_t days;
  if (cache != nullptr && cache->valid &&
      SameBytes(absl::string_view(cache->text, 10), s.substr(0, 10))) {
    days = cache->days;  // the same text was validated before
  } else {
    int year, month, day;
    if (s.size() < 10 || !Digits(s, 0, 4, &year) || s[4] != '-' ||
        !Digits(s, 5, 2, &month) || s[7] != '-' || !Digits(s, 8, 2, &day)) {
      return "expected YYYY-MM-DD[THH:MM[:SS[.frac]][Z|+HH:MM]] or epoch "
             "digits";
    }
    if (month < 1 || month > 12) return "month out of range";
    if (day < 1 || day > DaysInMonth(year, month)) return "day out of range";
    days = DaysFromCivil(year, month, day);
    if (cache != nullptr) {
      std::memcpy(cache->text, s.data(), 10);
      cache->days = days;
      cache->valid = true;
    }
  }
  // A date alone is the end of that UTC day.
  if (s.size() == 10) return CombineTime((days + 1) * 86400, 0, out);

  if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
    return "expected 'T' or ' ' after the date";
  int hour, minute, second = 0;
  if (!Digits(s, 11, 2, &hour) || s.size() < 14 || s[13] != ':' ||
      !Digits(s, 14, 2, &minute)) {
    return "expected HH:MM after the date";
  }
  size_t pos = 16;
  if (pos < s.size() && s[pos] == ':') {
    if (!Digits(s, pos + 1, 2, &second))
      return "expected two digits of seconds";
    pos += 3;
  }
  int64_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t digits = 0;
    while (pos < s.size() && IsDigit(s[pos])) {
      if (++digits > 9) return "more than 9 fractional digits";
      nanos = nanos * 10 + (s[pos] - '0');
      ++pos;
    }
    if (digits == 0) return "expected digits after '.'";
    for (size_t i = digits; i < 9; ++i) nanos *= 10;
  }
  if (hour > 23) return "hour out of range";
  if (minute > 59) return "minute out of range";
  if (second > 59) return "second out of range";
  int64_t offset = 0;
  if (pos < s.size() && s[pos] == ' ') ++pos;  // "16:39:00 +00:00"
  if (pos < s.size()) {
    const char c = s[pos];
    if (c == 'Z' || c == 'z') {
      ++pos;
    } else if (c == '+' || c == '-') {
      int oh, om = 0;
      if (!Digits(s, pos + 1, 2, &oh)) return "expected a UTC offset +HH:MM";
      pos += 3;
      if (pos < s.size() && s[pos] == ':') {
        if (!Digits(s, pos + 1, 2, &om)) return "expected a UTC offset +HH:MM";
        pos += 3;
      } else if (pos < s.size()) {
        if (!Digits(s, pos, 2, &om)) return "expected a UTC offset +HH:MM";
        pos += 2;
      }
      if (oh > 23 || om > 59) return "UTC offset out of range";
      offset = (c == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    } else {
      return "expected Z or a UTC offset after the time";
    }
    if (pos != s.size()) return "unexpected characters after the time";
  }
  const int64_t seconds =
      days * 86400 + hour * 3600 + minute * 60 + second - offset;
  return CombineTime(seconds, nanos, out);
}

std::string TimeError(absl::string_view text, const char* why) {
  return absl::StrCat("time \"", text, "\": ", why);
}

}  // namespace source_internal

absl::StatusOr<TimeNs> ParseFileTime(absl::string_view text) {
  TimeNs t = 0;
  const char* why = source_internal::ParseTimeText(text, &t);
  if (why != nullptr) {
    return absl::InvalidArgumentError(source_internal::TimeError(text, why));
  }
  return t;
}

}  // namespace ebb
