// The direct JSON writer against libprotobuf's own JSON mapping: every line
// parses with JsonStringToMessage to the message it was written from, and is
// byte for byte what MessageToJsonString prints, except where
// connectors/json_mapping.h says otherwise (invalid UTF-8; metrics doubles
// whose shortest form has 16 digits).

#include "connectors/json_mapping.h"

#include <algorithm>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "connectors/file_sink.h"
#include "google/protobuf/util/field_comparator.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace ebb {
namespace {

using google::protobuf::util::MessageDifferencer;

// Equal field by field, doubles exactly (NaN equal to NaN), -0.0 and 0.0
// told apart by presence (proto3 writes -0.0, not 0.0).
bool SameMessage(const google::protobuf::Message& a,
                 const google::protobuf::Message& b) {
  google::protobuf::util::DefaultFieldComparator comparator;
  comparator.set_float_comparison(
      google::protobuf::util::DefaultFieldComparator::EXACT);
  comparator.set_treat_nan_as_equal(true);
  MessageDifferencer differencer;
  differencer.set_field_comparator(&comparator);
  std::string report;
  differencer.ReportDifferencesToString(&report);
  const bool same = differencer.Compare(a, b);
  if (!same) ADD_FAILURE() << report;
  return same;
}

// libprotobuf's line, with its one number that does not read back changed:
// -0.0 is "-0.0", not "-0".
std::string Libprotobuf(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  const auto status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  EXPECT_TRUE(status.ok()) << status.ToString();
  std::string fixed;
  for (size_t i = 0; i < json.size(); ++i) {
    fixed.push_back(json[i]);
    if (json.compare(i, 3, ":-0") == 0 && i + 3 < json.size() &&
        (json[i + 3] == ',' || json[i + 3] == '}')) {
      fixed += "-0.0";
      i += 2;
    }
  }
  return fixed;
}

template <typename M>
M Parse(const std::string& json) {
  M m;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status =
      google::protobuf::util::JsonStringToMessage(json, &m, options);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in " << json;
  return m;
}

bool ValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<uint8_t>(s[i]);
    int n = b < 0x80                 ? 1
            : b >= 0xc2 && b <= 0xdf ? 2
            : b >= 0xe0 && b <= 0xef ? 3
            : b >= 0xf0 && b <= 0xf4 ? 4
                                     : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? b : b & (0x7f >> n);
    for (int k = 1; k < n; ++k) {
      const auto c = static_cast<uint8_t>(s[i + k]);
      if ((c & 0xc0) != 0x80) return false;
      cp = cp << 6 | (c & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
      return false;
    }
    i += n;
  }
  return true;
}

// Random doubles of every kind the mapping meets: zeros, short decimals,
// 16- and 17-digit values, denormals, the extremes, NaN and infinities.
double RandomDouble(std::mt19937_64& rng, bool finite_only = false) {
  const int pick = static_cast<int>(rng() % (finite_only ? 11 : 13));
  switch (pick) {
    case 0:
      return rng() % 2 ? 0.0 : -0.0;
    case 1:
      return static_cast<double>(rng() % 10'000'000) / 1e4;  // a price
    case 2:
      return std::ldexp(static_cast<double>(rng() >> 11), -(int)(rng() % 80));
    case 3:
      return -std::ldexp(static_cast<double>(rng() >> 11),
                         -53 - (int)(rng() % 1000));  // down to denormals
    case 4:
      return 1.0 / static_cast<double>(rng() % 999 + 1);
    case 5:
      return std::ldexp(static_cast<double>(rng() >> 11),
                        (int)(rng() % 970));  // up to 1e308
    case 6: {
      const double fixed[] = {DBL_MAX,
                              -DBL_MAX,
                              DBL_MIN,
                              DBL_TRUE_MIN,
                              1e21,
                              1e-7,
                              0.1,
                              1e15,
                              1e16,
                              1e17,
                              123456789012345680.0,
                              1e-4,
                              9.999e-5,
                              1e7,
                              0.30000000000000004,
                              5e-324,
                              1e308,
                              1e-308};
      return fixed[rng() % (sizeof(fixed) / sizeof(fixed[0]))];
    }
    case 7: {  // any bit pattern that is a finite double
      double d;
      do {
        const uint64_t bits = rng();
        std::memcpy(&d, &bits, sizeof(d));
      } while (!std::isfinite(d));
      return d;
    }
    case 8:
      return 1.0 - static_cast<double>(rng() % 100000 + 1) /
                       static_cast<double>(rng() % 100000 + 100001);
    case 9:
      return static_cast<double>(static_cast<int64_t>(rng() % 2'000'000'000) -
                                 1'000'000'000) *
             std::pow(10.0, static_cast<double>(rng() % 40) - 20);
    case 10:
      return -static_cast<double>(rng() % 100'000'000) / 1e8;
    case 11:
      return std::numeric_limits<double>::quiet_NaN();
    default:
      return rng() % 2 ? HUGE_VAL : -HUGE_VAL;
  }
}

std::string RandomString(std::mt19937_64& rng, int max_length) {
  static const char* const kPieces[] = {"a",
                                        "Z",
                                        "0",
                                        " ",
                                        "-",
                                        "_",
                                        ".",
                                        "/",
                                        ":",
                                        "\"",
                                        "\\",
                                        "<",
                                        ">",
                                        "&",
                                        "'",
                                        "=",
                                        "\t",
                                        "\n",
                                        "\r",
                                        "\b",
                                        "\f",
                                        "\x01",
                                        "\x1f",
                                        "\x7f",
                                        "\xc2\x85",
                                        "\xc2\xa0",
                                        "\xc2\xad",
                                        "\xc3\xa9",
                                        "\xe2\x80\x94",
                                        "\xe2\x80\xa8",
                                        "\xe2\x80\x8b",
                                        "\xef\xbb\xbf",
                                        "\xef\xbf\xbd",
                                        "\xd8\x80",
                                        "\xf0\x9f\x98\x80",
                                        "\xf3\xa0\x80\x81",
                                        "\xf0\x9d\x85\xb3",
                                        "\xe4\xb8\xad"};
  std::string out;
  const int n = static_cast<int>(rng() % (max_length + 1));
  for (int i = 0; i < n; ++i) {
    out += kPieces[rng() % (sizeof(kPieces) / sizeof(kPieces[0]))];
  }
  return out;
}

void RandomTimestamp(std::mt19937_64& rng, google::protobuf::Timestamp* ts) {
  constexpr int64_t kMin = -62'135'596'800, kMax = 253'402'300'799;
  int64_t seconds;
  switch (rng() % 4) {
    case 0:
      seconds = rng() % 2 ? kMin + (int64_t)(rng() % 100000)
                          : kMax - (int64_t)(rng() % 100000);
      break;
    case 1:
      seconds = static_cast<int64_t>(rng() % 4'000'000'000ULL);
      break;
    default:
      seconds =
          kMin + static_cast<int64_t>(rng() % (uint64_t)(kMax - kMin + 1));
  }
  const int32_t nanos[] = {0,
                           (int32_t)(rng() % 1000) * 1'000'000,
                           (int32_t)(rng() % 1'000'000) * 1'000,
                           (int32_t)(rng() % 1'000'000'000),
                           999'999'999,
                           1};
  ts->set_seconds(seconds);
  ts->set_nanos(nanos[rng() % 6]);
}

ebb::v1::Alert RandomAlert(std::mt19937_64& rng) {
  auto pick = [&rng](int n) { return static_cast<int>(rng() % n); };
  ebb::v1::Alert a;
  a.set_id(RandomString(rng, 8));
  a.set_symbol(RandomString(rng, 6));
  a.set_rule(RandomString(rng, 4));
  a.set_transition(static_cast<ebb::v1::Transition>(pick(6)));  // 4, 5 unknown
  a.set_level(RandomDouble(rng));
  a.set_severity(static_cast<ebb::v1::Severity>(pick(5)));
  a.set_metric(RandomString(rng, 4));
  a.set_value(RandomDouble(rng));
  a.set_price(RandomDouble(rng));
  if (pick(4) != 0) RandomTimestamp(rng, a.mutable_event_time());
  if (pick(4) != 0) RandomTimestamp(rng, a.mutable_episode_start());
  for (ebb::v1::PricePoint* point : {a.mutable_peak(), a.mutable_trough()}) {
    point->set_price(RandomDouble(rng));
    if (pick(5) != 0) RandomTimestamp(rng, point->mutable_time());
  }
  if (pick(3) == 0) a.clear_peak();
  if (pick(2) == 0) a.clear_trough();
  if (pick(4) != 0) {
    const int64_t seconds = pick(3) == 0 ? 0
                            : pick(4) == 0
                                ? 315'576'000'000LL - pick(1000)
                                : static_cast<int64_t>(rng() % 100'000'000);
    const int32_t nanos[] = {0, pick(1000) * 1'000'000, pick(1000000) * 1'000,
                             pick(1000000000)};
    const bool negative = pick(4) == 0;
    a.mutable_window()->set_seconds(negative ? -seconds : seconds);
    a.mutable_window()->set_nanos(negative ? -nanos[pick(4)] : nanos[pick(4)]);
  }
  if (pick(2) == 0) a.set_change(RandomDouble(rng));
  a.set_full_window(pick(2) == 0);
  for (int i = pick(3) == 0 ? pick(3) : 0; i > 0; --i) {
    ebb::v1::NewsRef* news = a.add_related_news();
    news->set_id(RandomString(rng, 4));
    news->set_headline(RandomString(rng, 12));
    news->set_source(RandomString(rng, 4));
    news->set_url(RandomString(rng, 6));
    if (pick(2) == 0) RandomTimestamp(rng, news->mutable_event_time());
  }
  if (pick(5) != 0) {
    ebb::v1::Provenance* p = a.mutable_provenance();
    p->set_source(RandomString(rng, 6));
    if (pick(2) == 0) p->set_partition(pick(3) == 0 ? 0 : pick(1000) - 10);
    p->set_offset(pick(3) == 0   ? 0
                  : pick(5) == 0 ? -static_cast<int64_t>(rng() >> 1)
                                 : static_cast<int64_t>(rng() >> 1));
    p->set_config_hash(RandomString(rng, 4));
    p->set_event_id(RandomString(rng, 4));
  }
  return a;
}

ebb::v1::DeadLetter RandomDeadLetter(std::mt19937_64& rng) {
  ebb::v1::DeadLetter d;
  d.set_reason(static_cast<ebb::v1::RejectReason>(rng() % 14));
  d.set_detail(RandomString(rng, 10));
  d.set_source(RandomString(rng, 4));
  if (rng() % 2) d.set_partition(static_cast<int32_t>(rng() % 100));
  d.set_offset(static_cast<int64_t>(rng() >> (rng() % 64)));
  std::string original;
  for (int i = static_cast<int>(rng() % 40); i > 0; --i) {
    original.push_back(static_cast<char>(rng()));
  }
  d.set_original(original);
  d.set_symbol(RandomString(rng, 3));
  return d;
}

TEST(AppendJsonDoubleTest, IsLibprotobufsSimpleDtoa) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 200000; ++i) {
    const double v = RandomDouble(rng, /*finite_only=*/true);
    char expected[32];
    std::snprintf(expected, sizeof(expected), "%.15g", v);
    if (std::strtod(expected, nullptr) != v) {
      std::snprintf(expected, sizeof(expected), "%.17g", v);
    }
    std::string got;
    AppendJsonDouble(v, &got);
    ASSERT_EQ(got, v == 0 && std::signbit(v) ? "-0.0" : expected) << i;
  }
  std::string special;
  AppendJsonDouble(std::nan(""), &special);
  AppendJsonDouble(HUGE_VAL, &special);
  AppendJsonDouble(-HUGE_VAL, &special);
  EXPECT_EQ(special, "\"NaN\"\"Infinity\"\"-Infinity\"");
}

TEST(AppendAlertJsonTest, ByteForByteLibprotobufAndParsesBack) {
  std::mt19937_64 rng(23);
  for (int i = 0; i < 20000; ++i) {
    const ebb::v1::Alert alert = RandomAlert(rng);
    std::string got = "prefix";
    const absl::Status status = AppendAlertJson(alert, &got);
    ASSERT_TRUE(status.ok()) << status << alert.DebugString();
    ASSERT_EQ(got, "prefix" + Libprotobuf(alert)) << alert.DebugString();
    const auto parsed = Parse<ebb::v1::Alert>(got.substr(6));
    ASSERT_TRUE(SameMessage(parsed, alert)) << got << "\n"
                                            << alert.DebugString();
  }
}

TEST(AppendDeadLetterJsonTest, ByteForByteLibprotobufAndParsesBack) {
  std::mt19937_64 rng(41);
  for (int i = 0; i < 20000; ++i) {
    const ebb::v1::DeadLetter dead_letter = RandomDeadLetter(rng);
    std::string got;
    AppendDeadLetterJson(dead_letter, &got);
    ASSERT_EQ(got, Libprotobuf(dead_letter)) << dead_letter.DebugString();
    ASSERT_TRUE(SameMessage(Parse<ebb::v1::DeadLetter>(got), dead_letter))
        << got;
  }
}

TEST(AppendAlertJsonTest, NoJsonFormIsAnErrorAndAppendsNothing) {
  std::mt19937_64 rng(29);
  const std::vector<std::function<void(ebb::v1::Alert*)>> cases = {
      [](ebb::v1::Alert* a) {  // year 0
        a->mutable_event_time()->set_seconds(-62'135'596'801LL);
      },
      [](ebb::v1::Alert* a) {  // year 10000
        a->mutable_episode_start()->set_seconds(253'402'300'800LL);
      },
      [](ebb::v1::Alert* a) {
        a->mutable_peak()->mutable_time()->set_nanos(-1);
      },
      [](ebb::v1::Alert* a) {
        a->mutable_trough()->mutable_time()->set_nanos(1'000'000'000);
      },
      [](ebb::v1::Alert* a) {
        a->add_related_news()->mutable_event_time()->set_seconds(-(1LL << 60));
      },
      [](ebb::v1::Alert* a) {  // over 10,000 years
        a->mutable_window()->set_seconds(315'576'000'001LL);
      },
      [](ebb::v1::Alert* a) {  // signs differ
        a->mutable_window()->set_seconds(5);
        a->mutable_window()->set_nanos(-5);
      },
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    ebb::v1::Alert alert = RandomAlert(rng);
    cases[i](&alert);
    std::string got = "prefix";
    const absl::Status status = AppendAlertJson(alert, &got);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << i;
    EXPECT_NE(status.message().find("has no JSON form"), std::string::npos);
    EXPECT_EQ(got, "prefix") << i;
    // libprotobuf has no form for them either (it fails or prints nonsense
    // that does not parse back to the alert).
    google::protobuf::util::JsonPrintOptions options;
    std::string theirs;
    if (google::protobuf::util::MessageToJsonString(alert, &theirs, options)
            .ok()) {
      ebb::v1::Alert back;
      EXPECT_FALSE(
          google::protobuf::util::JsonStringToMessage(theirs, &back).ok() &&
          MessageDifferencer::Equals(back, alert))
          << i;
    }
  }
}

// Any bytes in a string field: the line is valid UTF-8 and parses; valid
// UTF-8 comes back as it was, each invalid byte as U+FFFD.
TEST(AppendJsonStringTest, AnyBytesGiveValidUtf8) {
  std::mt19937_64 rng(43);
  // The same replacement, written independently: a byte that does not start
  // a valid sequence becomes U+FFFD.
  auto replaced = [](const std::string& s) {
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
      size_t n = 1;
      for (; n <= 4 && i + n <= s.size(); ++n) {
        if (ValidUtf8(s.substr(i, n))) break;
      }
      if (n <= 4 && i + n <= s.size()) {
        out += s.substr(i, n);
        i += n;
      } else {
        out += "\xef\xbf\xbd";
        ++i;
      }
    }
    return out;
  };
  for (int i = 0; i < 20000; ++i) {
    std::string bytes;
    const int n = static_cast<int>(rng() % 24);
    for (int k = 0; k < n; ++k) {
      // Mostly high bytes: lead and continuation bytes in every combination.
      bytes.push_back(static_cast<char>(rng() % 4 == 0 ? rng() % 0x80
                                                       : 0x80 + rng() % 0x80));
    }
    if (i % 3 == 0) bytes += RandomString(rng, 3);
    ebb::v1::DeadLetter d;
    d.set_detail(bytes);
    d.set_symbol(bytes);
    std::string line;
    AppendDeadLetterJson(d, &line);
    ASSERT_TRUE(ValidUtf8(line)) << line;
    const auto parsed = Parse<ebb::v1::DeadLetter>(line);
    ASSERT_EQ(parsed.detail(), replaced(bytes)) << line;
    ASSERT_EQ(parsed.symbol(), replaced(bytes)) << line;
    if (ValidUtf8(bytes)) {
      ASSERT_EQ(parsed.detail(), bytes);
    }
  }
  std::string line;
  AppendJsonString(
      "a\xff"
      "b\xc3(\xed\xa0\x80\xc0\x80\xf4\x90\x80\x80\xe2\x82",
      &line);
  EXPECT_EQ(line,
            "\"a\\ufffdb\\ufffd(\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd"
            "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");
}

// Doubles whose shortest form libprotobuf does not print: 16 digits (it
// prints 17) or subnormal (it prints "%.15g", longer).
bool HasSixteenDigitDouble(const std::vector<double>& values) {
  for (const double v : values) {
    if (!std::isfinite(v) || v == 0) continue;
    if (std::fabs(v) < DBL_MIN) return true;
    char buf[40];
    const auto r =
        std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
    int digits = 0;
    for (char* c = buf; c < r.ptr && *c != 'e'; ++c) digits += std::isdigit(*c);
    if (digits == 16) return true;
  }
  return false;
}

TEST(MetricsJsonWriterTest, ParsesToToProtoAndIsLibprotobufsBytes) {
  std::mt19937_64 rng(11);
  MetricsJsonWriter writer;  // one writer throughout: its memos are exercised
  std::vector<double> recent = {1.0};
  std::vector<TimeNs> recent_times = {0};
  auto value = [&] {
    // Often a value seen before (the memos), else a new one.
    if (rng() % 3 == 0) return recent[rng() % recent.size()];
    const double v = RandomDouble(rng, /*finite_only=*/rng() % 50 != 0);
    recent.push_back(v);
    return v;
  };
  auto time = [&]() -> TimeNs {
    if (rng() % 3 == 0) return recent_times[rng() % recent_times.size()];
    TimeNs t;
    switch (rng() % 4) {
      case 0:
        t = rng() % 2
                ? std::numeric_limits<TimeNs>::min() + (TimeNs)(rng() % 1000)
                : std::numeric_limits<TimeNs>::max() - (TimeNs)(rng() % 1000);
        break;
      case 1: {
        // A little after the last time (before it, near the end of the
        // range, so that nothing overflows).
        const TimeNs step = (TimeNs)(rng() % 120) * kNanosPerSecond;
        const TimeNs last = recent_times.back();
        t = last <= std::numeric_limits<TimeNs>::max() - step ? last + step
                                                              : last - step;
        break;
      }
      default:
        t = static_cast<TimeNs>(rng());
    }
    recent_times.push_back(t);
    return t;
  };
  std::vector<PricePoint> recent_points = {{1.0, 0}};
  auto point = [&]() -> PricePoint {
    // Often a point of the last few hundred (as a window's peak and
    // max-drawdown pair repeat), sometimes an older one, else a new one.
    const size_t n = recent_points.size();
    switch (rng() % 6) {
      case 0:
      case 1:
        return recent_points[n - 1 - rng() % std::min<size_t>(n, 300)];
      case 2:
        return recent_points[rng() % n];
      default:
        recent_points.push_back({value(), time()});
        return recent_points.back();
    }
  };
  int identical = 0;
  for (int i = 0; i < 50000; ++i) {
    WindowMetrics m;
    m.peak = point();
    m.drawdown = value();
    m.max_drawdown = value();
    m.mdd_peak = point();
    m.mdd_trough = point();
    if (rng() % 2) m.change = value();
    m.full_window = rng() % 2;
    m.entries = static_cast<uint32_t>(rng());
    const std::string symbol =
        rng() % 10 == 0 ? RandomString(rng, 4) : "BTC-USD";
    const TimeNs lengths[] = {30 * kNanosPerDay, 1'500'000'000, 1,
                              kNanosPerSecond,
                              std::numeric_limits<TimeNs>::max()};
    const MetricsView view{symbol, time(), value(), &m, lengths[rng() % 5]};
    std::string line = "x";
    writer.Append(view, &line);
    line.erase(0, 1);
    ebb::v1::DrawdownMetrics expected;
    ToProto(view, &expected);
    const auto parsed = Parse<ebb::v1::DrawdownMetrics>(line);
    ASSERT_TRUE(SameMessage(parsed, expected)) << line << "\n"
                                               << expected.DebugString();
    ASSERT_EQ(parsed.has_change(), m.change.has_value());
    const std::vector<double> doubles = {
        view.price,          m.peak.price,     m.drawdown,
        m.max_drawdown,      m.mdd_peak.price, m.mdd_trough.price,
        m.change.value_or(0)};
    if (!HasSixteenDigitDouble(doubles)) {
      ASSERT_EQ(line, Libprotobuf(expected));
      ++identical;
    }
  }
  EXPECT_GT(identical, 3000);  // the byte comparison did run
}

TEST(MetricsJsonWriterTest, DrawdownAndChangeAreToCharsShortestFixed) {
  // The doubles of a metrics line in [1e-4, 1e7) go through
  // ShortestDecimalOf and PutFixed: the text is std::to_chars' own.
  std::mt19937_64 rng(13);
  MetricsJsonWriter writer;
  auto fixed = [](double v) {
    char buf[64];
    return std::string(
        buf,
        std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed).ptr);
  };
  const std::vector<double> edges = {
      1e-4,      0.001,          0.5,  1.0,   9999999.0,
      1234567.5, 0.000123456789, 42.0, 100.25};
  int checked = 0;
  for (int i = 0; i < 200000; ++i) {
    const double p = static_cast<double>(rng() % 100'000'000 + 1) / 1e4;
    const double q = static_cast<double>(rng() % 100'000'000 + 1) / 1e4;
    WindowMetrics m;
    m.peak = {q, 0};
    m.drawdown = i < static_cast<int>(edges.size()) ? edges[i] : 1 - p / q;
    m.change = rng() % 2 ? p / q - 1 : std::ldexp(p, -(int)(rng() % 30));
    const MetricsView view{"X", 0, p, &m, 30 * kNanosPerDay};
    std::string line;
    writer.Append(view, &line);
    for (const auto& [name, v] :
         {std::pair<const char*, double>{"drawdown", m.drawdown},
          {"change", *m.change}}) {
      if (std::fabs(v) < 1e-4 || std::fabs(v) >= 1e7) continue;  // "%.17g"
      ASSERT_NE(line.find(absl::StrCat("\"", name, "\":", fixed(v), ",")),
                std::string::npos)
          << line;
      ++checked;
    }
  }
  EXPECT_GT(checked, 300000);
}

}  // namespace
}  // namespace ebb
