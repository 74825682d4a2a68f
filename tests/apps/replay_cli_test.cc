// End-to-end tests of `ebb replay` and `ebb generate`.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "apps/cli_test_util.h"
#include "ebb/v1/alert.pb.h"
#include "ebb/v1/dead_letter.pb.h"
#include "ebb/v1/events.pb.h"
#include "ebb/v1/metrics.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/delimited_message_util.h"
#include "gtest/gtest.h"

namespace {

using ::ebb_test::ReadFile;
using ::ebb_test::ReadJsonLines;
using ::ebb_test::RunEbb;
using ::ebb_test::WriteFile;
using ::testing::HasSubstr;

// Per-process names: ctest runs the test programs in parallel.
std::string Tmp(const std::string& name) {
  return ::testing::TempDir() + "/" + std::to_string(getpid()) + "_" + name;
}

TEST(GenerateTest, SameSeedSameBytesOtherSeedOtherBytes) {
  ASSERT_EQ(
      RunEbb("generate --symbols 3 --days 5 --interval 1h --seed 9 --out " +
             Tmp("g1.csv"))
          .exit_code,
      0);
  ASSERT_EQ(
      RunEbb("generate --symbols 3 --days 5 --interval 1h --seed 9 --out " +
             Tmp("g2.csv"))
          .exit_code,
      0);
  ASSERT_EQ(
      RunEbb("generate --symbols 3 --days 5 --interval 1h --seed 10 --out " +
             Tmp("g3.csv"))
          .exit_code,
      0);
  const std::string a = ReadFile(Tmp("g1.csv"));
  EXPECT_EQ(a, ReadFile(Tmp("g2.csv")));
  EXPECT_NE(a, ReadFile(Tmp("g3.csv")));
  // Header plus 3 symbols x 5 days x 24 hours.
  EXPECT_EQ(std::count(a.begin(), a.end(), '\n'), 1 + 3 * 5 * 24);
  EXPECT_EQ(a.substr(0, a.find('\n')), "timestamp,symbol,price");
}

TEST(GenerateTest, RejectsBadFlags) {
  auto r = RunEbb("generate --symbols 0");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--symbols"));
  r = RunEbb("generate --interval 7m");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--interval"));
  r = RunEbb("generate --bogus 1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("unknown flag --bogus"));
}

// A flag error reads as the command's own words: "ebb replay: unknown flag
// --bogus", not a status code name.
TEST(CliTest, FlagErrorsNameTheCommandNotAStatusCode) {
  for (const char* command :
       {"replay", "generate", "run", "produce", "tail", "broker"}) {
    const auto r = RunEbb(std::string(command) + " --bogus 1");
    EXPECT_EQ(r.exit_code, 1) << command;
    EXPECT_EQ(r.err.rfind(
                  std::string("ebb ") + command + ": unknown flag --bogus", 0),
              0u)
        << command << ": " << r.err;
    EXPECT_THAT(r.err, ::testing::Not(HasSubstr("INVALID_ARGUMENT")))
        << command;
  }
}

// `--prices -` reads standard input: CSV unless --format says otherwise, the
// symbol from SYMBOL=- or a symbol column; the same alerts as from the file.
TEST(ReplayTest, PricesFromStandardInput) {
  const std::string feed = Tmp("stdin_feed.csv");
  ASSERT_EQ(RunEbb("generate --symbols 3 --days 40 --interval 1h --seed 3 "
                   "--crash-day 20 --out " +
                   feed)
                .exit_code,
            0);
  const auto from_file = RunEbb("replay --quiet --prices " + feed);
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  ASSERT_FALSE(from_file.out.empty());
  auto r = RunEbb("replay --quiet --prices -", feed);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // Provenance names the source: the file's path, or "-".
  std::string expected = from_file.out;
  for (size_t at = 0; (at = expected.find(feed, at)) != std::string::npos;) {
    expected.replace(at, feed.size(), "-");
  }
  EXPECT_EQ(r.out, expected);

  // No symbol column: the symbol is given, or the header is rejected with a
  // reason that says how to give it.
  const std::string single = Tmp("stdin_single.csv");
  WriteFile(single, "date,close\n2025-01-01,100\n2025-01-02,80\n");
  r = RunEbb("replay --quiet --prices BTC=-", single);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"symbol\":\"BTC\""));
  EXPECT_THAT(r.out, HasSubstr("\"level\":0.2"));
  r = RunEbb("replay --strict --prices -", single);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--prices SYMBOL=-"));
  // Another format on standard input.
  const std::string jsonl = Tmp("stdin.jsonl");
  WriteFile(jsonl,
            "{\"symbol\":\"ETH\",\"eventTime\":\"2025-01-01T00:00:00Z\","
            "\"price\":100}\n{\"symbol\":\"ETH\",\"eventTime\":"
            "\"2025-01-02T00:00:00Z\",\"price\":85}\n");
  r = RunEbb("replay --quiet --format jsonl --prices -", jsonl);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"symbol\":\"ETH\""));
}

// An input that gives no record is a warning naming it; the run goes on.
TEST(ReplayTest, EmptyAndHeaderOnlyInputsAreWarnings) {
  const std::string empty = Tmp("empty.csv");
  const std::string header = Tmp("header_only.csv");
  const std::string good = Tmp("good.csv");
  WriteFile(empty, "");
  WriteFile(header, "date,close\n\n");
  WriteFile(good, "date,close\n2025-01-01,100\n");
  const auto r = RunEbb("replay --prices " + empty + " " + header + " " + good);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("ebb replay: warning: " + empty +
                               ": the file is empty"));
  EXPECT_THAT(r.err, HasSubstr("ebb replay: warning: " + header +
                               ": no records (only a header or blank lines)"));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("warning: " + good)));
  EXPECT_THAT(r.err, HasSubstr("1 price events"));
  const auto s = RunEbb("replay --prices -");  // /dev/null
  EXPECT_EQ(s.exit_code, 0) << s.err;
  EXPECT_THAT(s.err, HasSubstr("warning: standard input: no records"));
}

// The same feed as CSV, JSON lines and binary protobuf gives the same metrics
// and alerts.
TEST(ReplayTest, EveryInputFormatGivesIdenticalResults) {
  const std::string gen =
      "generate --symbols 4 --days 50 --interval 1h --seed 5 --crash-day 20";
  for (const char* format : {"csv", "jsonl", "binpb"}) {
    ASSERT_EQ(RunEbb(gen + " --format " + format + " --out " +
                     Tmp(std::string("feed.") + format))
                  .exit_code,
              0);
  }
  std::vector<std::string> metrics;
  std::vector<std::vector<ebb::v1::Alert>> alerts;
  for (const char* format : {"csv", "jsonl", "binpb"}) {
    const std::string m = Tmp(std::string("m_") + format + ".jsonl");
    const std::string a = Tmp(std::string("a_") + format + ".jsonl");
    auto r = RunEbb("replay --prices " + Tmp(std::string("feed.") + format) +
                    " --metrics-out " + m + " --alerts-out " + a);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.err, HasSubstr("applied   4,800 price events, 4 symbols"));
    metrics.push_back(ReadFile(m));
    alerts.push_back(ReadJsonLines<ebb::v1::Alert>(a));
  }
  EXPECT_EQ(std::count(metrics[0].begin(), metrics[0].end(), '\n'), 4800);
  EXPECT_EQ(metrics[0], metrics[1]);
  EXPECT_EQ(metrics[0], metrics[2]);
  ASSERT_GT(alerts[0].size(), 4u) << "the crash should open alerts";
  for (size_t f = 1; f < 3; ++f) {
    ASSERT_EQ(alerts[f].size(), alerts[0].size());
    for (size_t i = 0; i < alerts[0].size(); ++i) {
      ebb::v1::Alert x = alerts[0][i], y = alerts[f][i];
      // Only where it came from differs (file name and line vs byte offset).
      x.clear_provenance();
      y.clear_provenance();
      EXPECT_EQ(x.SerializeAsString(), y.SerializeAsString()) << i;
    }
  }
}

// Outputs named .binpb are length-delimited protobuf: the same messages, in
// the same order, as the JSON lines of the same replay.
template <typename M>
std::vector<M> ReadDelimited(const std::string& path) {
  const std::string bytes = ReadFile(path);
  google::protobuf::io::ArrayInputStream stream(bytes.data(),
                                                static_cast<int>(bytes.size()));
  std::vector<M> out;
  for (;;) {
    M m;
    bool clean_eof = false;
    if (!google::protobuf::util::ParseDelimitedFromZeroCopyStream(&m, &stream,
                                                                  &clean_eof)) {
      EXPECT_TRUE(clean_eof)
          << path << ": a truncated or corrupt record after " << out.size();
      return out;
    }
    out.push_back(std::move(m));
  }
}

template <typename M>
void ExpectSameMessages(const std::vector<M>& json, const std::vector<M>& bin) {
  ASSERT_EQ(json.size(), bin.size());
  for (size_t i = 0; i < json.size(); ++i) {
    EXPECT_EQ(json[i].SerializeAsString(), bin[i].SerializeAsString()) << i;
  }
}

TEST(ReplayTest, BinpbOutputsHoldTheJsonLinesMessages) {
  const std::string feed = Tmp("outfmt_feed.csv");
  ASSERT_EQ(RunEbb("generate --symbols 3 --days 45 --interval 1h --seed 8 "
                   "--crash-day 20 --out " +
                   feed)
                .exit_code,
            0);
  const std::string bad = Tmp("outfmt_bad.csv");
  WriteFile(bad,
            "timestamp,symbol,price\n"
            "2025-01-01T00:01:00Z,AAA,nan\n"
            "2025-01-01T00:04:00Z,AAA\n");
  const std::string inputs = " --prices " + feed + " --prices " + bad;
  const std::string json_outs = " --metrics-out " + Tmp("of_m.jsonl") +
                                " --alerts-out " + Tmp("of_a.jsonl") +
                                " --dlq-out " + Tmp("of_d.jsonl");
  const std::string bin_outs = " --metrics-out " + Tmp("of_m.binpb") +
                               " --alerts-out " + Tmp("of_a.binpb") +
                               " --dlq-out " + Tmp("of_d.binpb");
  auto r = RunEbb("replay" + inputs + json_outs);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunEbb("replay" + inputs + bin_outs);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const auto metrics =
      ReadDelimited<ebb::v1::DrawdownMetrics>(Tmp("of_m.binpb"));
  EXPECT_EQ(metrics.size(), 3u * 45 * 24);
  ExpectSameMessages(ReadJsonLines<ebb::v1::DrawdownMetrics>(Tmp("of_m.jsonl")),
                     metrics);
  const auto alerts = ReadDelimited<ebb::v1::Alert>(Tmp("of_a.binpb"));
  EXPECT_GT(alerts.size(), 2u) << "the crash should open alerts";
  ExpectSameMessages(ReadJsonLines<ebb::v1::Alert>(Tmp("of_a.jsonl")), alerts);
  const auto letters = ReadDelimited<ebb::v1::DeadLetter>(Tmp("of_d.binpb"));
  ASSERT_EQ(letters.size(), 2u);
  EXPECT_EQ(letters[0].reason(), ebb::v1::INVALID_PRICE);
  EXPECT_EQ(letters[1].reason(), ebb::v1::MALFORMED);
  ExpectSameMessages(ReadJsonLines<ebb::v1::DeadLetter>(Tmp("of_d.jsonl")),
                     letters);
}

TEST(ReplayTest, BadRowsAreDeadLetteredCountedAndNeverFatal) {
  const std::string csv = Tmp("bad.csv");
  WriteFile(csv,
            "timestamp,symbol,price\n"        // line 1
            "2025-01-01T00:00:00Z,AAA,100\n"  // 2 ok
            "2025-01-01T00:01:00Z,AAA,nan\n"  // 3 invalid_price (NaN)
            "2025-01-01T00:02:00Z,AAA,abc\n"  // 4 invalid_price (not a number)
            "2025-13-01T00:03:00Z,AAA,100\n"  // 5 invalid_time
            "2025-01-01T00:04:00Z,AAA\n"      // 6 malformed
            "2025-01-01T00:05:00Z,AAA,-5\n"   // 7 invalid_price
            "2025-01-01T00:06:00Z,BAD SYM,100\n"  // 8 invalid_symbol
            "2025-01-01T00:07:00Z,AAA,101\n"      // 9 ok
            "2025-01-01T00:00:30Z,AAA,99\n"       // 10 late
            "2999-01-01T00:00:00Z,AAA,99\n"       // 11 invalid_time (future)
            "2025-01-01T00:08:00Z,AAA,102\n");    // 12 ok
  const std::string dlq = Tmp("bad_dlq.jsonl");
  auto r = RunEbb("replay --prices " + csv + " --dlq-out " + dlq +
                  " --alerts-out /dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("11 records"));
  EXPECT_THAT(r.err, HasSubstr("applied   3 price events"));
  EXPECT_THAT(
      r.err,
      HasSubstr("rejected  8 (malformed 1, invalid_symbol 1, invalid_price 3, "
                "invalid_time 2, late 1)"));
  auto letters = ReadJsonLines<ebb::v1::DeadLetter>(dlq);
  ASSERT_EQ(letters.size(), 8u);
  const std::vector<std::pair<int, ebb::v1::RejectReason>> expected = {
      {3, ebb::v1::INVALID_PRICE}, {4, ebb::v1::INVALID_PRICE},
      {5, ebb::v1::INVALID_TIME},  {6, ebb::v1::MALFORMED},
      {7, ebb::v1::INVALID_PRICE}, {8, ebb::v1::INVALID_SYMBOL},
      {10, ebb::v1::LATE},         {11, ebb::v1::INVALID_TIME}};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(letters[i].offset(), expected[i].first) << i;
    EXPECT_EQ(letters[i].reason(), expected[i].second) << i;
    EXPECT_EQ(letters[i].source(), csv);
    EXPECT_FALSE(letters[i].detail().empty());
  }
  EXPECT_EQ(letters[0].original(), "2025-01-01T00:01:00Z,AAA,nan");
  EXPECT_EQ(letters[6].original(), "2025-01-01T00:00:30Z,AAA,99");
  EXPECT_THAT(letters[6].detail(), HasSubstr("2025-01-01T00:07:00Z"));
}

TEST(ReplayTest, StrictStopsAtTheFirstRejectionNamingFileAndLine) {
  const std::string csv = Tmp("strict.csv");
  WriteFile(csv,
            "Date,Open,High,Low,Close,Volume\n"
            "2025-08-01,1,1,1,10,0\n"
            "2025-08-02,1,1,1,0,0\n"
            "2025-08-03,1,1,1,abc,0\n");
  auto r = RunEbb("replay --strict --prices " + csv);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr(csv + ":3: invalid_price"));
  r = RunEbb("replay --prices " + csv + " --alerts-out /dev/null");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("rejected  2 (invalid_price 2)"));
}

TEST(ReplayTest, UnknownLayoutRejectsTheWholeFile) {
  const std::string csv = Tmp("layout.csv");
  WriteFile(csv, "foo,bar\n1,2\n3,4\n");
  const std::string dlq = Tmp("layout_dlq.jsonl");
  auto r = RunEbb("replay --prices " + csv + " --dlq-out " + dlq);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto letters = ReadJsonLines<ebb::v1::DeadLetter>(dlq);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].reason(), ebb::v1::UNKNOWN_LAYOUT);
  EXPECT_EQ(letters[0].original(), "foo,bar");
  EXPECT_EQ(RunEbb("replay --strict --prices " + csv).exit_code, 2);
}

TEST(ReplayTest, TruncatedBinaryInputIsDeadLettered) {
  const std::string feed = Tmp("trunc.binpb");
  ASSERT_EQ(RunEbb("generate --symbols 2 --days 1 --format binpb --out " + feed)
                .exit_code,
            0);
  std::string bytes = ReadFile(feed);
  WriteFile(feed, bytes.substr(0, bytes.size() - 3));
  const std::string dlq = Tmp("trunc_dlq.jsonl");
  auto r = RunEbb("replay --prices " + feed + " --dlq-out " + dlq +
                  " --alerts-out /dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("applied   47 price events"));
  auto letters = ReadJsonLines<ebb::v1::DeadLetter>(dlq);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].reason(), ebb::v1::TRUNCATED);
  EXPECT_GT(letters[0].offset(), 0);
  EXPECT_LT(letters[0].offset(), static_cast<int64_t>(bytes.size()));
}

// Strict UTF-8, written apart from ebb's own check: decode each code point,
// then refuse overlong forms, surrogates and values above U+10FFFF.
bool StrictUtf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    int extra;
    uint32_t cp;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      extra = 1;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      extra = 2;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      extra = 3;
      cp = b & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = cp << 6 | (c & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += 1 + extra;
  }
  return true;
}

std::string Varint(uint64_t v) {
  std::string out;
  for (; v >= 0x80; v >>= 7) out.push_back(static_cast<char>(v | 0x80));
  out.push_back(static_cast<char>(v));
  return out;
}

// Random bytes (fixed seeds, thousands of records) in every input format:
// each dead letter is a line of valid UTF-8 that protobuf's JSON parser reads,
// and libprotobuf writes nothing on stderr (its "invalid UTF-8" lines, one
// per record, said what the dead letter says).
TEST(ReplayTest, DeadLettersOfRandomBytesAreValidUtf8Json) {
  std::mt19937_64 rng(20251127);
  // Bytes that make records interesting: separators, digits, quotes, JSON
  // punctuation, and bytes that are not UTF-8 alone.
  const std::string alphabet =
      ",,\"{}:[]0123456789.-TZ eE\\u\xc3\xa9\xff\x80\xed";
  auto random_line = [&] {
    std::string line;
    for (size_t i = 0, n = rng() % 60; i < n; ++i) {
      line.push_back(rng() % 3 == 0 ? static_cast<char>(rng() % 256)
                                    : alphabet[rng() % alphabet.size()]);
    }
    for (char& c : line) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    return line;
  };
  std::string csv = "timestamp,symbol,price\n", jsonl, news_jsonl;
  for (int i = 0; i < 3000; ++i) {
    csv += "2025-01-01T00:00:00Z," + random_line() + "," + random_line() + "\n";
    jsonl += R"({"symbol":")" + random_line() +
             R"(","eventTime":"2025-01-01T00:00:00Z","price":)" +
             random_line() + "}\n";
    news_jsonl += random_line() + "\n";
  }
  // Binary: length-delimited PriceEvents and NewsEvents whose strings are
  // random bytes (serialized by hand: libprotobuf will not write invalid
  // UTF-8), and some records of random bytes.
  auto field = [](int number, const std::string& bytes) {
    std::string out(1, static_cast<char>(number << 3 | 2));
    out.push_back(static_cast<char>(bytes.size()));
    return out + bytes;
  };
  const std::string time_field =
      field(2, std::string("\x08\x80\x8b\xd2\xbb\x06", 6));  // 2025-01-01
  std::string binpb, news_binpb;
  for (int i = 0; i < 3000; ++i) {
    std::string price = field(1, random_line()) + time_field +
                        std::string("\x19\0\0\0\0\0\0\xf0\x3f", 9);
    if (rng() % 4 == 0) price = random_line();
    binpb += Varint(price.size()) + price;
    const std::string news = field(1, random_line()) + time_field +
                             field(3, random_line()) + field(7, random_line());
    news_binpb += Varint(news.size()) + news;
  }
  const std::vector<std::pair<std::string, std::string>> inputs = {
      {"rnd.csv", csv},
      {"rnd.jsonl", jsonl},
      {"rnd.binpb", binpb},
      {"rnd_news.jsonl", news_jsonl},
      {"rnd_news.binpb", news_binpb}};
  for (const auto& [name, content] : inputs) {
    const std::string path = Tmp(name);
    WriteFile(path, content);
    const std::string dlq = Tmp(name + ".dlq.jsonl");
    const bool news = name.find("news") != std::string::npos;
    auto r =
        RunEbb("replay " +
               std::string(news ? "--prices /dev/null --news " : "--prices ") +
               path + " --format " +
               std::string(absl::StrContains(name, "csv")     ? "csv"
                           : absl::StrContains(name, "jsonl") ? "jsonl"
                                                              : "binpb") +
               " --dlq-out " + dlq + " --alerts-out /dev/null");
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_THAT(r.err, ::testing::Not(HasSubstr("libprotobuf"))) << name;
    std::istringstream lines(ReadFile(dlq));
    std::string line;
    int count = 0;
    while (std::getline(lines, line)) {
      ++count;
      ASSERT_TRUE(StrictUtf8(line)) << name << " line " << count;
      ebb::v1::DeadLetter letter;
      const auto status =
          google::protobuf::util::JsonStringToMessage(line, &letter);
      ASSERT_TRUE(status.ok()) << name << " line " << count << ": " << status;
    }
    EXPECT_GT(count, 1000) << name;
  }
}

TEST(ReplayTest, ConfigFileIsValidatedAndApplied) {
  const std::string bad = Tmp("bad.textproto");
  WriteFile(
      bad,
      "rules { name: \"x\" metric: \"drawdown\" levels { threshold: 0.2 } "
      "levels { threshold: 0.1 } }\n");
  const std::string feed = Tmp("cfg.csv");
  ASSERT_EQ(
      RunEbb("generate --symbols 2 --days 40 --seed 3 --crash-day 10 --out " +
             feed)
          .exit_code,
      0);
  auto r = RunEbb("replay --config " + bad + " --prices " + feed);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("rules[0].levels[1].threshold"));

  const std::string unknown = Tmp("unknown.textproto");
  WriteFile(unknown, "windw { length: \"30d\" }\n");
  r = RunEbb("replay --config " + unknown + " --prices " + feed);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("windw"));

  const std::string good = Tmp("good.json");
  WriteFile(good, R"({"window": {"length": "10d", "resolution": "exact"},
      "rules": [{"name": "mdd", "metric": "max_drawdown", "levels": [{"threshold": 0.05}],
                 "rearm": 0.01}]})");
  const std::string alerts = Tmp("cfg_alerts.jsonl");
  r = RunEbb("replay --config " + good + " --prices " + feed +
             " --alerts-out " + alerts);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto list = ReadJsonLines<ebb::v1::Alert>(alerts);
  ASSERT_FALSE(list.empty());
  for (const auto& a : list) {
    EXPECT_EQ(a.rule(), "mdd");
    EXPECT_EQ(a.metric(), "max_drawdown");
    EXPECT_EQ(a.window().seconds(), 10 * 86400);
    EXPECT_TRUE(a.has_trough());
  }
}

TEST(ReplayTest, MissingInputIsAClearError) {
  auto r = RunEbb("replay --prices /nonexistent/prices.csv");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("/nonexistent/prices.csv"));
  r = RunEbb("replay");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--prices"));
}

// With allowed lateness, a feed delivered out of order gives the results of the
// sorted feed.
TEST(ReplayTest, LatenessReordersWithinTheBound) {
  std::string sorted = "timestamp,symbol,price\n", shuffled = sorted;
  std::vector<std::string> rows;
  double price = 100;
  for (int i = 0; i < 400; ++i) {
    price *= (i % 37 < 20) ? 0.995 : 1.006;
    char row[96];
    std::snprintf(row, sizeof(row), "2025-01-01T%02d:%02d:00Z,LAT,%.4f\n",
                  i / 60, i % 60, price);
    rows.push_back(row);
  }
  for (const auto& row : rows) sorted += row;
  // Swap neighbours in blocks: no event is more than 3 minutes late.
  for (size_t i = 0; i + 3 < rows.size(); i += 4)
    std::swap(rows[i], rows[i + 3]);
  for (const auto& row : rows) shuffled += row;
  WriteFile(Tmp("sorted.csv"), sorted);
  WriteFile(Tmp("shuffled.csv"), shuffled);
  auto a = RunEbb(
      "replay --resolution exact --prices LAT=" + Tmp("sorted.csv") +
      " --metrics-out " + Tmp("sorted_m.jsonl") + " --alerts-out /dev/null");
  auto b = RunEbb("replay --resolution exact --lateness 3m --prices LAT=" +
                  Tmp("shuffled.csv") + " --metrics-out " +
                  Tmp("shuffled_m.jsonl") + " --alerts-out /dev/null");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_THAT(b.err, HasSubstr("rejected  0"));
  EXPECT_EQ(ReadFile(Tmp("sorted_m.jsonl")), ReadFile(Tmp("shuffled_m.jsonl")));
  auto c =
      RunEbb("replay --resolution exact --prices LAT=" + Tmp("shuffled.csv") +
             " --alerts-out /dev/null");
  EXPECT_THAT(c.err, HasSubstr("late 300"));  // three of every block of four
}

// Runs `ebb <args> <redirections>` through /bin/sh with stderr captured: for
// tests that point standard output somewhere of their own.
ebb_test::RunResult RunEbbRedirected(const std::string& args,
                                     const std::string& redirections) {
  static int counter = 0;
  const std::string err =
      Tmp("redirected_" + std::to_string(++counter) + ".err");
  const std::string command = std::string(EBB_BINARY_PATH) + " " + args + " " +
                              redirections + " 2>" + err;
  const int status = std::system(command.c_str());
  ebb_test::RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = ReadFile(err);
  return r;
}

std::string SmallFeed(const std::string& name) {
  const std::string path = Tmp(name);
  EXPECT_EQ(RunEbb("generate --symbols 2 --days 40 --interval 1h --seed 3 "
                   "--crash-day 20 --out " +
                   path)
                .exit_code,
            0);
  return path;
}

// An output that is an input would be truncated before it is read: refused,
// whichever output it is and however it is named, and the input is intact.
TEST(ReplayOutputsTest, AnOutputThatIsAnInputIsRefused) {
  const std::string feed = SmallFeed("same_feed.csv");
  const std::string before = ReadFile(feed);
  ASSERT_GT(before.size(), 1000u);
  const std::string link = Tmp("same_link.csv");
  std::remove(link.c_str());
  ASSERT_EQ(symlink(feed.c_str(), link.c_str()), 0);
  for (const char* flag : {"--alerts-out", "--metrics-out", "--dlq-out"}) {
    for (const std::string& output : {feed, link}) {
      auto r = RunEbb("replay --prices " + feed + " " + flag + " " + output);
      EXPECT_EQ(r.exit_code, 1) << flag;
      EXPECT_THAT(r.err, HasSubstr(" is the input " + feed +
                                   " (the same file): refusing to overwrite"))
          << flag;
      EXPECT_TRUE(ReadFile(feed) == before) << flag << ": the input changed";
    }
  }
  // Standard input read as "-" and a --metrics-out naming the same file.
  auto r = RunEbbRedirected(
      "replay --prices - --alerts-out /dev/null "
      "--metrics-out " +
          feed,
      "<" + feed + " >/dev/null");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("is the input - (standard input)"));
  EXPECT_TRUE(ReadFile(feed) == before) << "the input changed";
  // /dev/null may be both (no regular file, nothing to overwrite).
  r = RunEbb("replay --format csv --prices " + feed +
             " --prices /dev/null --alerts-out /dev/null");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// Standard output that cannot be written: a full device, a closed descriptor.
// The replay fails with the reason, whichever output goes there.
TEST(ReplayOutputsTest, StdoutWriteErrorsFailTheReplay) {
  const std::string feed = SmallFeed("stdout_feed.csv");
  const std::string quiet = " --dlq-out " + Tmp("stdout_dlq.jsonl");
  struct Case {
    std::string args, redirections, message;
  };
  const std::vector<Case> cases = {
      {"", ">/dev/full", "write failed: stdout: No space left on device"},
      {" --alerts-out -", ">/dev/full",
       "write failed: stdout: No space left on device"},
      {" --alerts-out /dev/null --metrics-out -", ">/dev/full",
       "write failed: stdout: No space left on device"},
      {"", ">&-", "write failed: stdout: Bad file descriptor"},
      {" --alerts-out /dev/null --metrics-out -", ">&-",
       "write failed: stdout: Bad file descriptor"},
      {" --alerts-out /dev/full", "", "write failed: /dev/full: No space"},
      {" --alerts-out /dev/null --metrics-out /dev/full", "",
       "write failed: /dev/full: No space"},
  };
  for (const Case& c : cases) {
    auto r = RunEbbRedirected(
        "replay --prices " + feed + quiet + c.args,
        c.redirections.empty() ? ">/dev/null" : c.redirections);
    EXPECT_EQ(r.exit_code, 1) << c.args << " " << c.redirections << r.err;
    EXPECT_THAT(r.err, HasSubstr("ebb replay: " + c.message))
        << c.args << " " << c.redirections;
  }
  // The same replay to a writable stdout succeeds.
  auto ok = RunEbbRedirected("replay --prices " + feed + quiet, ">/dev/null");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

TEST(GenerateTest, StdoutWriteErrorsFailGenerate) {
  auto r = RunEbbRedirected("generate --symbols 2 --days 5", ">/dev/full");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err,
              HasSubstr("write failed: stdout: No space left on device"));
  r = RunEbbRedirected("generate --symbols 2 --days 5", ">&-");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("write failed: stdout: Bad file descriptor"));
}

// --max-symbols caps the symbols with state: events of further symbols are
// dead letters with reason symbol_limit, counted in the summary.
TEST(ReplayTest, MaxSymbolsDeadLettersFurtherSymbols) {
  const std::string csv = Tmp("many_symbols.csv");
  WriteFile(csv,
            "timestamp,symbol,price\n"
            "2025-01-01T00:00:00Z,AAA,100\n"  // 2
            "2025-01-01T00:01:00Z,BBB,50\n"   // 3
            "2025-01-01T00:02:00Z,CCC,20\n"   // 4: a third symbol
            "2025-01-01T00:03:00Z,AAA,101\n"  // 5
            "2025-01-01T00:04:00Z,DDD,7\n");  // 6: a fourth
  const std::string dlq = Tmp("many_symbols_dlq.jsonl");
  auto r = RunEbb("replay --max-symbols 2 --prices " + csv + " --dlq-out " +
                  dlq + " --alerts-out /dev/null --no-progress");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("applied   3 price events, 2 symbols"));
  EXPECT_THAT(r.err, HasSubstr("rejected  2 (symbol_limit 2)"));
  auto letters = ReadJsonLines<ebb::v1::DeadLetter>(dlq);
  ASSERT_EQ(letters.size(), 2u);
  EXPECT_EQ(letters[0].reason(), ebb::v1::SYMBOL_LIMIT);
  EXPECT_EQ(letters[0].offset(), 4);
  EXPECT_EQ(letters[0].original(), "2025-01-01T00:02:00Z,CCC,20");
  EXPECT_THAT(letters[0].detail(), HasSubstr("max_symbols (2)"));
  EXPECT_EQ(letters[1].offset(), 6);
  // 0 is no limit; anything but a count is an error naming the flag.
  r = RunEbb("replay --max-symbols 0 --prices " + csv +
             " --alerts-out /dev/null --no-progress");
  EXPECT_THAT(r.err, HasSubstr("applied   5 price events, 4 symbols"));
  r = RunEbb("replay --max-symbols -3 --prices " + csv);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--max-symbols: \"-3\" is not a count"));
  r = RunEbb("replay --max-symbols lots --prices " + csv);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--max-symbols: \"lots\""));
}

}  // namespace
