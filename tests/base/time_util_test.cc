// Durations, RFC 3339 formatting, bucket flooring and the protobuf time types.

#include "base/time_util.h"

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace ebb {
namespace {

constexpr TimeNs kHour = 60 * kNanosPerMinute;

TEST(TimeUtilTest, ParseDuration) {
  const std::vector<std::pair<std::string, TimeNs>> cases = {
      {"30d", 30 * kNanosPerDay},
      {"1m", kNanosPerMinute},
      {"90s", 90 * kNanosPerSecond},
      {"250ms", 250'000'000},
      {"1h30m", 90 * kNanosPerMinute},
      {"0s", 0},
      {"7ns", 7},
      {"15us", 15'000},
      {"1d2h3m4s5ms6us7ns", kNanosPerDay + 2 * kHour + 3 * kNanosPerMinute +
                                4 * kNanosPerSecond + 5'000'000 + 6'000 + 7},
      {"2m30s", 150 * kNanosPerSecond},
      {"1m1ms",
       kNanosPerMinute + 1'000'000},       // "ms" is not "m" followed by "s..."
      {"106751d", 106751 * kNanosPerDay},  // the largest whole number of days
      {"9223372036854775ns", 9'223'372'036'854'775},
  };
  for (const auto& [text, want] : cases) {
    absl::StatusOr<TimeNs> got = ParseDuration(text, "window.length");
    ASSERT_TRUE(got.ok()) << text << ": " << got.status();
    EXPECT_EQ(*got, want) << text;
  }
}

TEST(TimeUtilTest, ParseDurationErrorsNameTheField) {
  const std::vector<std::string> bad = {
      "",    "abc",    "10",  "-1s", "1x",   "1.5h",    "s",
      "1 d", "30days", "1h-", "+1s", "1e3s", "106752d", "9999999999999999999ns",
      "1s1", "m1"};
  for (const std::string& text : bad) {
    absl::StatusOr<TimeNs> got = ParseDuration(text, "rules[3].window");
    ASSERT_FALSE(got.ok()) << "\"" << text << "\" parsed as " << *got;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_TRUE(absl::StrContains(got.status().message(), "rules[3].window"))
        << text << ": " << got.status();
  }
}

TEST(TimeUtilTest, FormatDuration) {
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(30 * kNanosPerDay), "30d");
  EXPECT_EQ(FormatDuration(2'592'000'000'000'000), "30d");
  EXPECT_EQ(FormatDuration(kNanosPerMinute), "1m");
  EXPECT_EQ(FormatDuration(90 * kNanosPerSecond), "90s");
  EXPECT_EQ(FormatDuration(25 * kHour), "25h");
  EXPECT_EQ(FormatDuration(1500 * 1'000'000), "1500ms");
  EXPECT_EQ(FormatDuration(1), "1ns");
  EXPECT_EQ(FormatDuration(1'001), "1001ns");
  EXPECT_EQ(FormatDuration(2'000), "2us");
}

TEST(TimeUtilTest, DurationRoundTrip) {
  std::mt19937_64 rng(3);
  const TimeNs kScales[] = {
      1,     1'000,       1'000'000, kNanosPerSecond, kNanosPerMinute,
      kHour, kNanosPerDay};
  for (int i = 0; i < 20000; ++i) {
    const TimeNs scale = kScales[rng() % std::size(kScales)];
    const TimeNs d = static_cast<TimeNs>(rng() % 100'000) * scale;
    const std::string text = FormatDuration(d);
    absl::StatusOr<TimeNs> back = ParseDuration(text, "d");
    ASSERT_TRUE(back.ok()) << d << " -> " << text;
    ASSERT_EQ(*back, d) << text;
    // The formatted unit is the largest that divides d exactly.
    if (d != 0 && d % kNanosPerDay == 0) {
      ASSERT_TRUE(absl::EndsWith(text, "d")) << text;
    }
  }
}

TEST(TimeUtilTest, FormatTime) {
  EXPECT_EQ(FormatTime(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatTime(1'763'683'200LL * kNanosPerSecond),
            "2025-11-21T00:00:00Z");
  EXPECT_EQ(FormatTime(1), "1970-01-01T00:00:00.000000001Z");
  EXPECT_EQ(FormatTime(1'500'000'000), "1970-01-01T00:00:01.5Z");
  EXPECT_EQ(FormatTime(-1), "1969-12-31T23:59:59.999999999Z");
  EXPECT_EQ(FormatTime(-2'208'988'800LL * kNanosPerSecond),
            "1900-01-01T00:00:00Z");
  EXPECT_EQ(FormatTime(951'782'400LL * kNanosPerSecond + 123'000'000),
            "2000-02-29T00:00:00.123Z");
}

TEST(TimeUtilTest, FloorTo) {
  EXPECT_EQ(FloorTo(0, 60), 0);
  EXPECT_EQ(FloorTo(59, 60), 0);
  EXPECT_EQ(FloorTo(60, 60), 60);
  EXPECT_EQ(FloorTo(-1, 60), -60);
  EXPECT_EQ(FloorTo(-60, 60), -60);
  EXPECT_EQ(FloorTo(-61, 60), -120);
  EXPECT_EQ(FloorTo(-kNanosPerDay - 1, kNanosPerDay), -2 * kNanosPerDay);
  std::mt19937_64 rng(5);
  for (int i = 0; i < 100000; ++i) {
    const TimeNs r =
        1 + static_cast<TimeNs>(rng() % (i % 2 == 0 ? 100 : kNanosPerDay));
    const TimeNs t = static_cast<TimeNs>(rng() % 4'000'000'000'000'000'000ull) -
                     2'000'000'000'000'000'000;
    const TimeNs f = FloorTo(t, r);
    // The floor: a multiple of r, at most t, and more than t - r.
    ASSERT_EQ(f % r, 0) << t << " " << r;
    ASSERT_LE(f, t);
    ASSERT_GT(f, t - r);
  }
}

TEST(TimeUtilTest, Timestamps) {
  google::protobuf::Timestamp ts;
  ToTimestamp(-1, &ts);
  EXPECT_EQ(ts.seconds(), -1);
  EXPECT_EQ(ts.nanos(), 999'999'999);
  ToTimestamp(1'500'000'001, &ts);
  EXPECT_EQ(ts.seconds(), 1);
  EXPECT_EQ(ts.nanos(), 500'000'001);
  ToTimestamp(-2'208'988'800LL * kNanosPerSecond, &ts);
  EXPECT_EQ(ts.seconds(), -2'208'988'800LL);
  EXPECT_EQ(ts.nanos(), 0);

  std::mt19937_64 rng(8);
  for (int i = 0; i < 100000; ++i) {
    const TimeNs t = static_cast<TimeNs>(rng());
    ToTimestamp(t, &ts);
    ASSERT_GE(ts.nanos(), 0);
    ASSERT_LT(ts.nanos(), 1'000'000'000);
    absl::StatusOr<TimeNs> back = FromTimestamp(ts);
    if (back.ok()) {
      ASSERT_EQ(*back, t);
    } else {
      // Only the last second at either end of the range may be refused.
      ASSERT_TRUE(ts.seconds() >=
                      std::numeric_limits<TimeNs>::max() / kNanosPerSecond -
                          1 ||
                  ts.seconds() <=
                      std::numeric_limits<TimeNs>::min() / kNanosPerSecond + 1)
          << t;
    }
  }

  google::protobuf::Timestamp bad;
  bad.set_seconds(10);
  bad.set_nanos(-1);
  EXPECT_FALSE(FromTimestamp(bad).ok());
  bad.set_nanos(1'000'000'000);
  EXPECT_FALSE(FromTimestamp(bad).ok());
  bad.set_nanos(0);
  bad.set_seconds(std::numeric_limits<int64_t>::max());
  EXPECT_FALSE(FromTimestamp(bad).ok());
  bad.set_seconds(-10'000'000'000'000LL);  // year -315,000: outside int64 ns
  EXPECT_FALSE(FromTimestamp(bad).ok());
  bad.set_seconds(10'000'000'000LL);  // year 2286: beyond int64 ns (2262)
  EXPECT_FALSE(FromTimestamp(bad).ok());
  bad.set_seconds(9'000'000'000LL);  // year 2255: still representable
  bad.set_nanos(999'999'999);
  ASSERT_TRUE(FromTimestamp(bad).ok());
  EXPECT_EQ(*FromTimestamp(bad),
            9'000'000'000LL * kNanosPerSecond + 999'999'999);
}

TEST(TimeUtilTest, Durations) {
  google::protobuf::Duration d;
  ToDuration(30 * kNanosPerDay, &d);
  EXPECT_EQ(d.seconds(), 2'592'000);
  EXPECT_EQ(d.nanos(), 0);
  ToDuration(1'500'000'001, &d);
  EXPECT_EQ(d.seconds(), 1);
  EXPECT_EQ(d.nanos(), 500'000'001);
  ToDuration(-1'500'000'000,
             &d);  // proto Duration: seconds and nanos share the sign
  EXPECT_EQ(d.seconds(), -1);
  EXPECT_EQ(d.nanos(), -500'000'000);
}

}  // namespace
}  // namespace ebb
