#include "base/time_util.h"

#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace ebb {
namespace {

struct Unit {
  absl::string_view name;
  TimeNs nanos;
};

// Longest names first so "ms" is not read as "m".
constexpr Unit kUnits[] = {{"ns", 1},
                           {"us", 1'000},
                           {"ms", 1'000'000},
                           {"s", kNanosPerSecond},
                           {"m", kNanosPerMinute},
                           {"h", 60 * kNanosPerMinute},
                           {"d", kNanosPerDay}};

}  // namespace

absl::StatusOr<TimeNs> ParseDuration(absl::string_view text,
                                     absl::string_view field) {
  auto error = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": invalid duration \"", text, "\": ", why,
                     " (use e.g. \"30d\", \"1m\", \"90s\")"));
  };
  absl::string_view rest = absl::StripAsciiWhitespace(text);
  if (rest.empty()) return error("empty");
  TimeNs total = 0;
  while (!rest.empty()) {
    size_t digits = 0;
    while (digits < rest.size() && absl::ascii_isdigit(rest[digits])) ++digits;
    if (digits == 0) return error("expected a number");
    if (digits > 18) return error("number too large");
    TimeNs value = 0;
    for (size_t i = 0; i < digits; ++i) value = value * 10 + (rest[i] - '0');
    rest.remove_prefix(digits);
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (rest.substr(0, u.name.size()) == u.name) {
        // "m" must not swallow the "m" of "ms": kUnits lists "ms" before "m".
        unit = &u;
        break;
      }
    }
    if (unit == nullptr)
      return error("expected a unit (ns, us, ms, s, m, h, d)");
    rest.remove_prefix(unit->name.size());
    if (value > std::numeric_limits<TimeNs>::max() / unit->nanos ||
        total > std::numeric_limits<TimeNs>::max() - value * unit->nanos) {
      return error("too long");
    }
    total += value * unit->nanos;
  }
  return total;
}

std::string FormatDuration(TimeNs ns) {
  if (ns == 0) return "0s";
  for (int i = static_cast<int>(std::size(kUnits)) - 1; i >= 0; --i) {
    if (ns % kUnits[i].nanos == 0)
      return absl::StrCat(ns / kUnits[i].nanos, kUnits[i].name);
  }
  return absl::StrCat(ns, "ns");
}

std::string FormatTime(TimeNs t) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", absl::FromUnixNanos(t),
                          absl::UTCTimeZone());
}

namespace {

char* PutTwo(char* p, uint32_t v) {  // REQUIRES: v < 100
  *p++ = static_cast<char>('0' + v / 10);
  *p++ = static_cast<char>('0' + v % 10);
  return p;
}

}  // namespace

char* WriteCivilDate(int64_t days, char* p) {
  // civil_from_days (H. Hinnant).
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const auto d = static_cast<uint32_t>(doy - (153 * mp + 2) / 5 + 1);
  const auto m = static_cast<uint32_t>(mp < 10 ? mp + 3 : mp - 9);
  const auto y = static_cast<uint32_t>(yoe + era * 400 + (m <= 2));
  p = PutTwo(p, y / 100);
  p = PutTwo(p, y % 100);
  *p++ = '-';
  p = PutTwo(p, m);
  *p++ = '-';
  return PutTwo(p, d);
}

char* WriteRfc3339(int64_t seconds, int32_t nanos, char* p) {
  int64_t days = seconds / 86400;
  int64_t sod = seconds % 86400;
  if (sod < 0) {
    --days;
    sod += 86400;
  }
  p = WriteCivilDate(days, p);
  *p++ = 'T';
  const auto s = static_cast<uint32_t>(sod);
  p = PutTwo(p, s / 3600);
  *p++ = ':';
  p = PutTwo(p, s / 60 % 60);
  *p++ = ':';
  p = PutTwo(p, s % 60);
  p = WriteNanosFraction(nanos, p);
  *p++ = 'Z';
  return p;
}

void AppendRfc3339(TimeNs t, std::string* out) {
  TimeNs seconds = t / kNanosPerSecond;
  TimeNs nanos = t % kNanosPerSecond;
  if (nanos < 0) {
    --seconds;
    nanos += kNanosPerSecond;
  }
  char buf[40];
  const char* end = WriteRfc3339(seconds, static_cast<int32_t>(nanos), buf);
  out->append(buf, static_cast<size_t>(end - buf));
}

absl::StatusOr<TimeNs> FromTimestamp(const google::protobuf::Timestamp& ts) {
  return FromSecondsAndNanos(ts.seconds(), ts.nanos());
}

absl::StatusOr<TimeNs> FromSecondsAndNanos(int64_t seconds, int32_t nanos) {
  if (nanos < 0 || nanos >= kNanosPerSecond) {
    return absl::InvalidArgumentError(
        absl::StrCat("nanos ", nanos, " outside [0, 1e9)"));
  }
  constexpr int64_t kMaxSeconds =
      std::numeric_limits<TimeNs>::max() / kNanosPerSecond - 1;
  if (seconds > kMaxSeconds || seconds < -kMaxSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat("seconds ", seconds, " out of range"));
  }
  return seconds * kNanosPerSecond + nanos;
}

void ToTimestamp(TimeNs t, google::protobuf::Timestamp* ts) {
  // Division first, so no intermediate overflows even near the int64 limits.
  TimeNs seconds = t / kNanosPerSecond;
  TimeNs nanos = t % kNanosPerSecond;
  if (nanos < 0) {
    --seconds;
    nanos += kNanosPerSecond;
  }
  ts->set_seconds(seconds);
  ts->set_nanos(static_cast<int32_t>(nanos));
}

void ToDuration(TimeNs d, google::protobuf::Duration* out) {
  out->set_seconds(d / kNanosPerSecond);
  out->set_nanos(static_cast<int32_t>(d % kNanosPerSecond));
}

}  // namespace ebb
