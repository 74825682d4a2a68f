// The sinks' hand-written JSON against protobuf's own JSON mapping.

#include "connectors/file_sink.h"

#include <cmath>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

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

// libprotobuf's line for an alert: the oracle for AppendAlertJson.
std::string ProtobufJson(const ebb::v1::Alert& alert) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  EXPECT_TRUE(
      google::protobuf::util::MessageToJsonString(alert, &json, options).ok());
  return json;
}

// Random alerts: every field present or absent, doubles of every magnitude
// (including ones whose shortest form has 16 digits), times with 0-9
// fractional digits, Kafka and file provenance.
ebb::v1::Alert RandomAlert(std::mt19937_64& rng) {
  auto pick = [&rng](int n) { return static_cast<int>(rng() % n); };
  auto number = [&]() -> double {
    switch (pick(6)) {
      case 0:
        return pick(2) == 0 ? 0.0 : -0.0;
      case 1:
        return static_cast<double>(pick(100000)) / 100.0;
      case 2:
        return std::ldexp(static_cast<double>(rng() >> 11), -pick(80));
      case 3:
        return -std::ldexp(static_cast<double>(rng() >> 11), -53 - pick(20));
      case 4:
        return 1.0 / static_cast<double>(pick(999) + 1);
      default:
        return std::ldexp(static_cast<double>(rng() >> 11), pick(40));
    }
  };
  auto time = [&](google::protobuf::Timestamp* ts) {
    const int64_t nanos_choices[] = {0, pick(1000) * 1'000'000LL,
                                     pick(1000000) * 1'000LL, pick(1000000000)};
    // 1685-2255: most of what TimeNs holds.
    const int64_t seconds =
        static_cast<int64_t>(rng() % 18'000'000'000ULL) - 9'000'000'000LL;
    ToTimestamp(seconds * kNanosPerSecond + nanos_choices[pick(4)], ts);
  };
  auto word = [&](int max_length) {
    std::string out;
    const int n = pick(max_length + 1);
    for (int i = 0; i < n; ++i) {
      out.push_back("abcXYZ019-_./:@ "[pick(16)]);
    }
    return out;
  };
  ebb::v1::Alert a;
  a.set_id(word(32));
  a.set_symbol(word(12));
  a.set_rule(word(10));
  a.set_transition(static_cast<ebb::v1::Transition>(pick(4)));
  a.set_level(number());
  a.set_severity(static_cast<ebb::v1::Severity>(pick(4)));
  a.set_metric(word(12));
  a.set_value(number());
  a.set_price(number());
  if (pick(4) != 0) time(a.mutable_event_time());
  if (pick(4) != 0) time(a.mutable_episode_start());
  for (ebb::v1::PricePoint* point : {a.mutable_peak(), a.mutable_trough()}) {
    point->set_price(number());
    if (pick(5) != 0) time(point->mutable_time());
  }
  if (pick(3) == 0) a.clear_peak();
  if (pick(2) == 0) a.clear_trough();
  if (pick(4) != 0) {
    a.mutable_window()->set_seconds(pick(3) == 0 ? 0 : rng() % 100'000'000);
    const int32_t nanos[] = {0, pick(1000) * 1'000'000, pick(1000000) * 1'000,
                             pick(1000000000)};
    a.mutable_window()->set_nanos(nanos[pick(4)]);
  }
  if (pick(2) == 0) a.set_change(number());
  a.set_full_window(pick(2) == 0);
  if (pick(5) != 0) {
    ebb::v1::Provenance* p = a.mutable_provenance();
    p->set_source(word(20));
    if (pick(2) == 0) p->set_partition(pick(3) == 0 ? 0 : pick(1000));
    p->set_offset(pick(3) == 0 ? 0 : static_cast<int64_t>(rng() >> 1));
    p->set_config_hash(word(16));
    p->set_event_id(word(8));
  }
  return a;
}

TEST(AppendAlertJsonTest, ByteForByteWhatLibprotobufPrints) {
  std::mt19937_64 rng(23);
  for (int i = 0; i < 20000; ++i) {
    const ebb::v1::Alert alert = RandomAlert(rng);
    std::string got = "prefix";
    ASSERT_TRUE(AppendAlertJson(alert, &got)) << alert.DebugString();
    ASSERT_EQ(got, "prefix" + ProtobufJson(alert)) << alert.DebugString();
  }
}

TEST(AppendAlertJsonTest, LeavesWhatItDoesNotPrintToLibprotobuf) {
  std::mt19937_64 rng(29);
  std::vector<std::function<void(ebb::v1::Alert*)>> cases = {
      [](ebb::v1::Alert* a) { a->set_symbol("say \"hi\""); },
      [](ebb::v1::Alert* a) { a->set_rule("back\\slash"); },
      [](ebb::v1::Alert* a) { a->set_id("<tag>"); },
      [](ebb::v1::Alert* a) { a->set_metric("tab\there"); },
      [](ebb::v1::Alert* a) {
        a->mutable_provenance()->set_source("caf\xc3\xa9");
      },
      [](ebb::v1::Alert* a) {
        a->mutable_provenance()->set_event_id("a&b=c'");
      },
      [](ebb::v1::Alert* a) { a->add_related_news()->set_id("n1"); },
      [](ebb::v1::Alert* a) { a->set_value(std::nan("")); },
      [](ebb::v1::Alert* a) { a->set_price(HUGE_VAL); },
      [](ebb::v1::Alert* a) {
        a->set_transition(static_cast<ebb::v1::Transition>(7));
      },
      [](ebb::v1::Alert* a) {
        a->mutable_event_time()->set_seconds(-20'000'000'000LL);  // year 1336
      },
      [](ebb::v1::Alert* a) {  // over 10,000 years: libprotobuf refuses it
        a->mutable_window()->set_seconds(315'576'000'001LL);
      },
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    ebb::v1::Alert alert = RandomAlert(rng);
    cases[i](&alert);
    std::string got = "prefix";
    EXPECT_FALSE(AppendAlertJson(alert, &got)) << i;
    EXPECT_EQ(got, "prefix") << i;  // nothing appended
  }
}

TEST(MessageWriterTest, AlertLinesEqualLibprotobufOnBothPaths) {
  const std::string path = ::testing::TempDir() + "/alerts_writer.jsonl";
  std::mt19937_64 rng(31);
  std::vector<ebb::v1::Alert> alerts;
  for (int i = 0; i < 200; ++i) alerts.push_back(RandomAlert(rng));
  alerts[7].set_symbol("quote\"d");  // the libprotobuf path
  alerts[9].add_related_news()->set_headline("news \xe2\x80\x94 dash");
  {
    absl::StatusOr<std::unique_ptr<MessageWriter>> writer =
        MessageWriter::Open(path);
    ASSERT_TRUE(writer.ok()) << writer.status();
    for (const ebb::v1::Alert& a : alerts) (*writer)->Write(a);
    ASSERT_TRUE((*writer)->Close().ok());
  }
  std::ifstream in(path);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    ASSERT_LT(n, alerts.size());
    EXPECT_EQ(line, ProtobufJson(alerts[n])) << n;
    ++n;
  }
  EXPECT_EQ(n, alerts.size());
}

}  // namespace
}  // namespace ebb
