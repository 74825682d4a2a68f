// The sinks' hand-written JSON against protobuf's own JSON mapping.

#include "connectors/file_sink.h"

#include <random>
#include <string>

#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace ebb {
namespace {

TEST(AppendRfc3339Test, EqualsProtobufTimeUtil) {
  std::mt19937_64 rng(7);
  const TimeNs fixed[] = {
      0,
      1,
      -1,
      1'000'000,
      1'000,
      1763683200LL * kNanosPerSecond,
      -2'208'988'800LL * kNanosPerSecond,                // 1900-01-01
      7'258'118'399LL * kNanosPerSecond + 999'999'999};  // 2199-12-31
  std::vector<TimeNs> times(std::begin(fixed), std::end(fixed));
  for (int i = 0; i < 20000; ++i) {
    // Seconds between 1900 and 2200 (int64 nanoseconds end in 2262), nanos that
    // exercise 0, 3, 6 and 9 digits.
    const int64_t seconds =
        -2'208'988'800LL + static_cast<int64_t>(rng() % 9'467'107'200ULL);
    const int64_t nanos_choices[] = {
        0, static_cast<int64_t>(rng() % 1000) * 1'000'000,
        static_cast<int64_t>(rng() % 1'000'000) * 1'000,
        static_cast<int64_t>(rng() % 1'000'000'000)};
    times.push_back(seconds * kNanosPerSecond + nanos_choices[rng() % 4]);
  }
  for (TimeNs t : times) {
    google::protobuf::Timestamp ts;
    ToTimestamp(t, &ts);
    std::string got;
    AppendRfc3339(t, &got);
    ASSERT_EQ(got, google::protobuf::util::TimeUtil::ToString(ts)) << t;
  }
}

TEST(AppendMetricsJsonTest, ParsesToExactlyTheProtoOfTheView) {
  std::mt19937_64 rng(11);
  auto price = [&] {
    return std::ldexp(static_cast<double>(rng() % 100000000 + 1),
                      -(int)(rng() % 30));
  };
  auto time = [&] {
    return static_cast<TimeNs>(rng() % (4'000'000'000ULL)) * kNanosPerSecond +
           static_cast<TimeNs>(rng() % 3 == 0 ? rng() % 1'000'000'000 : 0);
  };
  for (int i = 0; i < 20000; ++i) {
    WindowMetrics m;
    m.peak = {price(), time()};
    m.drawdown = static_cast<double>(rng() % 1000000) / 1e6 +
                 1e-17 * static_cast<double>(rng() % 7);
    m.max_drawdown = i % 5 == 0 ? 0.0 : 1.0 - price() / (price() + 1.0);
    m.mdd_peak = {price(), time()};
    m.mdd_trough = {price(), time()};
    if (rng() % 2) m.change = -1.0 + price() / 1e3;
    m.full_window = rng() % 2;
    m.entries = static_cast<uint32_t>(rng());
    const MetricsView view{"BTC-USD", time(), price(), &m,
                           i % 7 == 0 ? 1'500'000'000 : 30 * kNanosPerDay};
    std::string line;
    AppendMetricsJson(view, &line);
    ASSERT_EQ(line.back(), '\n');
    ebb::v1::DrawdownMetrics parsed, expected;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    ASSERT_TRUE(
        google::protobuf::util::JsonStringToMessage(line, &parsed, options)
            .ok())
        << line;
    ToProto(view, &expected);
    ASSERT_EQ(parsed.SerializeAsString(), expected.SerializeAsString()) << line;
    ASSERT_EQ(parsed.has_change(), m.change.has_value());
  }
}

}  // namespace
}  // namespace ebb
