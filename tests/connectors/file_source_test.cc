#include "connectors/file_source.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "engine/validate.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/delimited_message_util.h"
#include "gtest/gtest.h"

namespace ebb {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Kind = SourceRecord::Kind;

// Independent of ParseFileTime: absl's RFC 3339 parser.
TimeNs T(const std::string& rfc3339) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err))
      << rfc3339 << ": " << err;
  return absl::ToUnixNanos(t);
}

std::string TempPath(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "file_source_test/";
  std::filesystem::create_directories(dir);
  return dir + name;
}

std::string WriteFile(const std::string& name, const std::string& content) {
  const std::string path = TempPath(name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  EXPECT_TRUE(out.good()) << path;
  return path;
}

std::vector<SourceRecord> ReadAll(RecordSource& source) {
  std::vector<SourceRecord> out;
  SourceRecord record;
  for (;;) {
    absl::StatusOr<bool> more = source.Next(&record);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) break;
    out.push_back(record);
  }
  return out;
}

std::vector<SourceRecord> ReadFile(const FileSourceOptions& options) {
  absl::StatusOr<std::unique_ptr<RecordSource>> source =
      OpenFileSource(options);
  EXPECT_TRUE(source.ok()) << source.status();
  if (!source.ok()) return {};
  return ReadAll(**source);
}

std::vector<SourceRecord> ReadCsv(const std::string& name,
                                  const std::string& content,
                                  const std::string& price_column = "",
                                  const std::string& symbol = "") {
  FileSourceOptions options;
  options.path = WriteFile(name, content);
  options.price_column = price_column;
  options.symbol = symbol;
  return ReadFile(options);
}

void ExpectPrice(const SourceRecord& r, const std::string& symbol, TimeNs time,
                 double price, const std::string& original, int64_t offset) {
  EXPECT_EQ(r.kind, Kind::kPrice) << r.detail;
  EXPECT_EQ(r.symbol(), symbol);
  EXPECT_EQ(r.time, time) << FormatTime(r.time);
  EXPECT_EQ(r.price, price);
  EXPECT_EQ(r.original, original);
  EXPECT_EQ(r.offset, offset);
  EXPECT_EQ(r.reason, ebb::v1::REJECT_REASON_UNSPECIFIED);
  EXPECT_EQ(r.detail, "");
}

void ExpectError(const SourceRecord& r, ebb::v1::RejectReason reason,
                 const std::string& detail, const std::string& original,
                 int64_t offset) {
  EXPECT_EQ(r.kind, Kind::kError);
  EXPECT_EQ(r.reason, reason) << ebb::v1::RejectReason_Name(r.reason);
  EXPECT_THAT(r.detail, HasSubstr(detail));
  EXPECT_EQ(r.original, original);
  EXPECT_EQ(r.offset, offset);
}

// -----------------------------------------------------------------------------
// ParseFileTime

TEST(ParseFileTimeTest, GoodInputs) {
  const std::vector<std::pair<std::string, TimeNs>> cases = {
      {"2025-11-21", T("2025-11-22T00:00:00Z")},
      {"2024-02-29", T("2024-03-01T00:00:00Z")},
      {"2000-02-29", T("2000-03-01T00:00:00Z")},
      {"2025-12-31", T("2026-01-01T00:00:00Z")},
      {"1969-12-31", 0},
      {"2025-05-30 16:39:00+00:00", T("2025-05-30T16:39:00Z")},
      {"2025-05-30 16:39:00 +00:00", T("2025-05-30T16:39:00Z")},
      {"2025-05-30T16:39:00Z", T("2025-05-30T16:39:00Z")},
      {"2025-05-30t16:39:00z", T("2025-05-30T16:39:00Z")},
      {"2025-05-30T16:39:00", T("2025-05-30T16:39:00Z")},
      {"2025-05-30T16:39", T("2025-05-30T16:39:00Z")},
      {"2025-05-30T16:39Z", T("2025-05-30T16:39:00Z")},
      {"2025-05-30T22:09:00+05:30", T("2025-05-30T16:39:00Z")},
      {"2025-05-30T22:09:00+0530", T("2025-05-30T16:39:00Z")},
      {"2025-05-30T12:39:00-04:00", T("2025-05-30T16:39:00Z")},
      {"2025-05-31T00:09:00+07:30", T("2025-05-30T16:39:00Z")},
      {"2025-11-21T00:00:00.5Z", T("2025-11-21T00:00:00.5Z")},
      {"2025-11-21T00:00:00.123456789Z", T("2025-11-21T00:00:00Z") + 123456789},
      {"2025-11-21T00:00:00.000001+00:00", T("2025-11-21T00:00:00Z") + 1000},
      {"1970-01-01T00:00:00Z", 0},
      {"1969-12-31T23:59:59Z", -kNanosPerSecond},
      {"1900-01-01T00:00:00Z", -2'208'988'800LL * kNanosPerSecond},
      {"  2025-11-21T00:00:00Z ", T("2025-11-21T00:00:00Z")},
      // Epoch digits: <= 11 seconds, 12-14 ms, 15-17 us, 18-19 ns.
      {"0", 0},
      {"1761955200", T("2025-11-01T00:00:00Z")},
      {"-86400", -kNanosPerDay},
      {"01761955200", T("2025-11-01T00:00:00Z")},
      {"1761955200000", T("2025-11-01T00:00:00Z")},
      {"100000000000", 100'000'000LL * kNanosPerSecond},
      {"1761955200000000", T("2025-11-01T00:00:00Z")},
      {"100000000000000", 100'000'000LL * kNanosPerSecond},
      {"100000000000000000", 100'000'000LL * kNanosPerSecond},
      {"1761955200123456789", T("2025-11-01T00:00:00Z") + 123456789},
  };
  for (const auto& [text, want] : cases) {
    absl::StatusOr<TimeNs> got = ParseFileTime(text);
    ASSERT_TRUE(got.ok()) << text << ": " << got.status();
    EXPECT_EQ(*got, want) << text << " -> " << FormatTime(*got);
  }
}

TEST(ParseFileTimeTest, BadInputs) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty"},
      {"   ", "empty"},
      {"2025-02-29", "day out of range"},
      {"2100-02-29", "day out of range"},
      {"2025-04-31", "day out of range"},
      {"2025-01-00", "day out of range"},
      {"2025-13-01", "month out of range"},
      {"2025-00-10", "month out of range"},
      {"2025-5-30", "expected YYYY-MM-DD"},
      {"25-05-30", "expected YYYY-MM-DD"},
      {"abc", "expected YYYY-MM-DD"},
      {"1.5", "expected YYYY-MM-DD"},
      {"2025-05-30X16:39", "expected 'T' or ' '"},
      {"2025-05-30T1639", "expected HH:MM"},
      {"2025-05-30T24:00:00Z", "hour out of range"},
      {"2025-05-30T16:60Z", "minute out of range"},
      {"2025-05-30T16:39:60Z", "second out of range"},
      {"2025-05-30T16:39:0Z", "expected two digits of seconds"},
      {"2025-05-30T16:39:00.Z", "expected digits after '.'"},
      {"2025-05-30T16:39:00.1234567891Z", "more than 9 fractional digits"},
      {"2025-05-30T16:39:00+24:00", "UTC offset out of range"},
      {"2025-05-30T16:39:00+05:60", "UTC offset out of range"},
      {"2025-05-30T16:39:00+5", "expected a UTC offset"},
      {"2025-05-30T16:39:00Zjunk", "unexpected characters"},
      {"2025-05-30T16:39:00 UTC", "expected Z or a UTC offset"},
      {"2262-04-12T00:00:00Z", "out of range"},
      {"1677-09-21T00:00:00Z", "out of range"},
      {"99999999999", "out of range"},          // 11 digits: seconds
      {"10000000000000", "out of range"},       // 14 digits: milliseconds
      {"10000000000000000", "out of range"},    // 17 digits: microseconds
      {"9999999999999999999", "out of range"},  // 19 digits: nanoseconds
      {"12345678901234567890", "too many digits"},
      {"-1761955200000", "must be in seconds"},
      {"-", "expected YYYY-MM-DD"},
  };
  for (const auto& [text, why] : cases) {
    absl::StatusOr<TimeNs> got = ParseFileTime(text);
    ASSERT_FALSE(got.ok()) << text << " -> " << FormatTime(*got);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(std::string(got.status().message()),
                StartsWith(absl::StrCat("time \"", text, "\": ")));
    EXPECT_THAT(std::string(got.status().message()), HasSubstr(why)) << text;
  }
}

// -----------------------------------------------------------------------------
// CSV layouts

TEST(CsvSourceTest, DailyLayoutMapsDatesToEndOfDay) {
  const std::string row1 =
      "2024-12-06,97074.2265625,102039.8828125,96514.875,99920.7109375,"
      "94534772658";
  const std::string row2 =
      "2024-12-07,99916.7109375,100563.3828125,99030.8828125,99923.3359375,"
      "44177510897";
  auto records = ReadCsv("BTC-USD.csv", "Date,Open,High,Low,Close,Volume\n" +
                                            row1 + "\n" + row2 + "\n");
  ASSERT_EQ(records.size(), 2u);
  ExpectPrice(records[0], "BTC-USD", T("2024-12-07T00:00:00Z"), 99920.7109375,
              row1, 2);
  ExpectPrice(records[1], "BTC-USD", T("2024-12-08T00:00:00Z"), 99923.3359375,
              row2, 3);
  EXPECT_EQ(records[0].event_id, "");
  EXPECT_EQ(records[0].source_index, 0u);
}

TEST(CsvSourceTest, BybitIsoTimestampLayout) {
  const std::string row1 =
      "2025-05-30 16:39:00+00:00,104217.5,104402.7,104200.0,104337.8,477.605";
  const std::string row2 =
      "2025-05-30 16:40:00+00:00,104337.8,104409.1,104230.8,104288.5,328.242";
  auto records = ReadCsv(
      "BTCUSDT_bybit_1m_2025-06.csv",
      "timestamp,open,high,low,close,volume\n" + row1 + "\n" + row2 + "\n");
  ASSERT_EQ(records.size(), 2u);
  ExpectPrice(records[0], "BTCUSDT_bybit_1m_2025-06", T("2025-05-30T16:39:00Z"),
              104337.8, row1, 2);
  ExpectPrice(records[1], "BTCUSDT_bybit_1m_2025-06", T("2025-05-30T16:40:00Z"),
              104288.5, row2, 3);
}

TEST(CsvSourceTest, BinanceEpochMillisecondsLayout) {
  const std::string row1 =
      "1761955200000,2.880,2.882,2.880,2.881,12191.3,1761955259999,35123.5175,"
      "165,7458.8,"
      "21489.5229,0";
  const std::string row2 =
      "1761955260000,2.881,2.882,2.877,2.878,93711.7,1761955319999,269882.8807,"
      "281,7812.3,"
      "22504.8639,0";
  auto records = ReadCsv(
      "DOTUSDT_binance_1m_2025-11.csv",
      "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
      "taker_buy_volume,taker_buy_quote_volume,ignore\n" +
          row1 + "\n" + row2 + "\n",
      "", "DOTUSDT");
  ASSERT_EQ(records.size(), 2u);
  ExpectPrice(records[0], "DOTUSDT", T("2025-11-01T00:00:00Z"), 2.881, row1, 2);
  ExpectPrice(records[1], "DOTUSDT", T("2025-11-01T00:01:00Z"), 2.878, row2, 3);
}

TEST(CsvSourceTest, SymbolFromFileNameOptionOrColumn) {
  const std::string data = "Date,Close\n2025-01-01,10.5\n";
  auto stem = ReadCsv("BTC-USD_2011-2025_bitstamp-coinbase.csv", data);
  ASSERT_EQ(stem.size(), 1u);
  EXPECT_EQ(stem[0].symbol(), "BTC-USD_2011-2025_bitstamp-coinbase");

  auto dotted = ReadCsv("BRK.B.csv", data);
  ASSERT_EQ(dotted.size(), 1u);
  EXPECT_EQ(dotted[0].symbol(), "BRK.B");

  auto option = ReadCsv("whatever.csv", data, "", "ETH-USD");
  ASSERT_EQ(option.size(), 1u);
  EXPECT_EQ(option[0].symbol(), "ETH-USD");

  // A symbol column wins over the option, row by row.
  auto column = ReadCsv("mixed.csv",
                        "time,Symbol,price,event_id\n"
                        "2025-01-01T00:00:00Z,AAA,1.5,e-1\n"
                        "2025-01-01T00:01:00Z, BBB ,2.5,e-2\n",
                        "", "IGNORED");
  ASSERT_EQ(column.size(), 2u);
  ExpectPrice(column[0], "AAA", T("2025-01-01T00:00:00Z"), 1.5,
              "2025-01-01T00:00:00Z,AAA,1.5,e-1", 2);
  EXPECT_EQ(column[0].event_id, "e-1");
  ExpectPrice(column[1], "BBB", T("2025-01-01T00:01:00Z"), 2.5,
              "2025-01-01T00:01:00Z, BBB ,2.5,e-2", 3);
  EXPECT_EQ(column[1].event_id, "e-2");
}

TEST(CsvSourceTest, PriceColumnSelection) {
  const std::string data = "Date,Open,Close,Price\n2025-01-01,1,2,3\n";
  auto close = ReadCsv("P.csv", data);
  ASSERT_EQ(close.size(), 1u);
  EXPECT_EQ(close[0].price, 2);

  auto open = ReadCsv("P.csv", data, " open ");
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].price, 1);

  auto price = ReadCsv("P.csv", "DATETIME,PRICE\n2025-01-01 10:00,3.25\n");
  ASSERT_EQ(price.size(), 1u);
  ExpectPrice(price[0], "P", T("2025-01-01T10:00:00Z"), 3.25,
              "2025-01-01 10:00,3.25", 2);
}

TEST(CsvSourceTest, MissingPriceColumnRejectsTheFile) {
  const std::string header = "Date,Open,High,Low,Close,Volume";
  auto records =
      ReadCsv("Q.csv", header + "\n2025-01-01,1,2,3,4,5\n", "Adj Close");
  ASSERT_EQ(records.size(), 1u);
  ExpectError(records[0], ebb::v1::UNKNOWN_LAYOUT,
              "no price column \"adj close\"", header, 1);
  EXPECT_THAT(records[0].detail,
              HasSubstr("[date, open, high, low, close, volume]"));
}

TEST(CsvSourceTest, UnknownLayouts) {
  auto no_time = ReadCsv("Q.csv", "when,close\n2025-01-01,4\n");
  ASSERT_EQ(no_time.size(), 1u);
  ExpectError(no_time[0], ebb::v1::UNKNOWN_LAYOUT, "no time column",
              "when,close", 1);
  EXPECT_THAT(no_time[0].detail, HasSubstr("[when, close]"));

  auto no_price =
      ReadCsv("Q.csv", "date,open,volume\n2025-01-01,4,5\n2025-01-02,4,5\n");
  ASSERT_EQ(no_price.size(), 1u);
  ExpectError(no_price[0], ebb::v1::UNKNOWN_LAYOUT,
              "no price column (close or price)", "date,open,volume", 1);

  // Blank lines before the header count in the offset.
  auto late_header = ReadCsv("Q.csv", "\n\nfoo,bar\n1,2\n");
  ASSERT_EQ(late_header.size(), 1u);
  ExpectError(late_header[0], ebb::v1::UNKNOWN_LAYOUT, "no time column",
              "foo,bar", 3);
}

TEST(CsvSourceTest, EmptyFileAndHeaderOnlyHaveNoRecords) {
  EXPECT_TRUE(ReadCsv("E.csv", "").empty());
  EXPECT_TRUE(ReadCsv("E.csv", "Date,Close\n").empty());
  EXPECT_TRUE(ReadCsv("E.csv", "\xEF\xBB\xBF").empty());
}

TEST(CsvSourceTest, RowErrors) {
  const std::string data =
      "Date,Close\n"          // 1
      "2025-01-01,10\n"       // 2 ok
      "2025-01-02,11,12\n"    // 3 too many fields
      "2025-01-03\n"          // 4 too few
      "2025-02-30,13\n"       // 5 bad date
      "yesterday,13\n"        // 6 bad time
      "2025-01-07,abc\n"      // 7 not a number
      "2025-01-08,\n"         // 8 empty price
      "2025-01-09,1.5x\n"     // 9 trailing junk
      "2025-01-10,+1.5\n"     // 10 leading '+'
      "2025-01-11,1e999\n"    // 11 out of range
      "2025-01-12,nan\n"      // 12 numeric: passed on
      "2025-01-13,-5\n"       // 13 numeric: passed on
      "2025-01-14,inf\n"      // 14 numeric: passed on
      "2025-01-15,0\n"        // 15 numeric: passed on
      "2025-01-16, 16.5 \n";  // 16 spaces trimmed
  auto r = ReadCsv("E.csv", data);
  ASSERT_EQ(r.size(), 15u);
  ExpectPrice(r[0], "E", T("2025-01-02T00:00:00Z"), 10, "2025-01-01,10", 2);
  ExpectError(r[1], ebb::v1::MALFORMED, "expected 2 fields, found 3",
              "2025-01-02,11,12", 3);
  ExpectError(r[2], ebb::v1::MALFORMED, "expected 2 fields, found 1",
              "2025-01-03", 4);
  ExpectError(r[3], ebb::v1::INVALID_TIME,
              "time \"2025-02-30\": day out of range", "2025-02-30,13", 5);
  ExpectError(r[4], ebb::v1::INVALID_TIME,
              "time \"yesterday\": expected YYYY-MM-DD", "yesterday,13", 6);
  ExpectError(r[5], ebb::v1::INVALID_PRICE, "price \"abc\" is not a number",
              "2025-01-07,abc", 7);
  ExpectError(r[6], ebb::v1::INVALID_PRICE, "price \"\" is not a number",
              "2025-01-08,", 8);
  ExpectError(r[7], ebb::v1::INVALID_PRICE, "price \"1.5x\" is not a number",
              "2025-01-09,1.5x", 9);
  ExpectError(r[8], ebb::v1::INVALID_PRICE, "price \"+1.5\" is not a number",
              "2025-01-10,+1.5", 10);
  ExpectError(r[9], ebb::v1::INVALID_PRICE, "price \"1e999\" is out of range",
              "2025-01-11,1e999", 11);
  EXPECT_EQ(r[10].kind, Kind::kPrice);
  EXPECT_TRUE(std::isnan(r[10].price));
  EXPECT_EQ(r[10].offset, 12);
  ExpectPrice(r[11], "E", T("2025-01-14T00:00:00Z"), -5, "2025-01-13,-5", 13);
  EXPECT_EQ(r[12].kind, Kind::kPrice);
  EXPECT_TRUE(std::isinf(r[12].price));
  ExpectPrice(r[13], "E", T("2025-01-16T00:00:00Z"), 0, "2025-01-15,0", 15);
  ExpectPrice(r[14], "E", T("2025-01-17T00:00:00Z"), 16.5, "2025-01-16, 16.5 ",
              16);
}

TEST(CsvSourceTest, OversizeLinesAndFields) {
  const std::string long_line = "2025-01-02," + std::string(70'000, '7');
  const std::string long_field = "2025-01-03," + std::string(1025, '8');
  const std::string ok_field = "2025-01-04," + std::string(1023, '0') + "1";
  // Exactly 64 KiB before "\r\n": not oversize (but it has too many fields).
  std::string max_line = "2025-01-05,1";
  while (max_line.size() < 64 * 1024) max_line += ",";
  const std::string data = "Date,Close\n2025-01-01,1\n" + long_line + "\n" +
                           long_field + "\n" + ok_field + "\n" + max_line +
                           "\r\n2025-01-06,6\n" + long_line;
  auto r = ReadCsv("O.csv", data);
  ASSERT_EQ(r.size(), 7u);
  ExpectPrice(r[0], "O", T("2025-01-02T00:00:00Z"), 1, "2025-01-01,1", 2);
  ExpectError(r[1], ebb::v1::OVERSIZE, "line 3 is longer than 65536 bytes",
              long_line.substr(0, 65536), 3);
  ExpectError(r[2], ebb::v1::OVERSIZE, "field 2 is longer than 1024 bytes",
              long_field, 4);
  ExpectPrice(r[3], "O", T("2025-01-05T00:00:00Z"), 1, ok_field, 5);
  ExpectError(r[4], ebb::v1::MALFORMED, "expected 2 fields, found", max_line,
              6);
  ExpectPrice(r[5], "O", T("2025-01-07T00:00:00Z"), 6, "2025-01-06,6", 7);
  // The last line, oversize and without a newline.
  ExpectError(r[6], ebb::v1::OVERSIZE, "line 8 is longer than 65536 bytes",
              long_line.substr(0, 65536), 8);
}

TEST(CsvSourceTest, CrlfBomBlankLinesAndMissingFinalNewline) {
  const std::string data =
      "\xEF\xBB\xBF"
      "Date,Close\r\n"
      "2025-01-01,1\r\n"
      "\r\n"
      "   \n"
      "2025-01-02,2\n"
      "\n"
      "2025-01-03,3";
  auto r = ReadCsv("C.csv", data);
  ASSERT_EQ(r.size(), 3u);
  ExpectPrice(r[0], "C", T("2025-01-02T00:00:00Z"), 1, "2025-01-01,1", 2);
  ExpectPrice(r[1], "C", T("2025-01-03T00:00:00Z"), 2, "2025-01-02,2", 5);
  ExpectPrice(r[2], "C", T("2025-01-04T00:00:00Z"), 3, "2025-01-03,3", 7);

  auto crlf_end =
      ReadCsv("C.csv", "\xEF\xBB\xBF\"Date\",Close\r\n2025-01-01,1\r");
  ASSERT_EQ(crlf_end.size(), 1u);
  ExpectPrice(crlf_end[0], "C", T("2025-01-02T00:00:00Z"), 1, "2025-01-01,1",
              2);
}

TEST(CsvSourceTest, QuotedFields) {
  const std::string header =
      "\"Date\", \"Symbol\" ,\"Close\",\"event_id\",\"note\"";
  const std::string row1 =
      "\"2025-01-01\",\"BRK.B\",\"412.5\",\"id \"\"7\"\", x\",\"a,b\"";
  const std::string row2 = "2025-01-02,\"\"\"Q\",1,\"\",";
  const std::string row3 = "2025-01-03,\"BRK.B,2,x,y";
  const std::string row4 = "2025-01-04,\"BRK.B\"x,2,x,y";
  const std::string row5 = "2025-01-05, \"BRK.A\" ,3,\"\"\"\",\"x\"\"y\"\"z\"";
  auto r = ReadCsv("quoted.csv", header + "\n" + row1 + "\n" + row2 + "\n" +
                                     row3 + "\n" + row4 + "\n" + row5);
  ASSERT_EQ(r.size(), 5u);
  ExpectPrice(r[0], "BRK.B", T("2025-01-02T00:00:00Z"), 412.5, row1, 2);
  EXPECT_EQ(r[0].event_id, "id \"7\", x");
  ExpectPrice(r[1], "\"Q", T("2025-01-03T00:00:00Z"), 1, row2, 3);
  EXPECT_EQ(r[1].event_id, "");
  ExpectError(r[2], ebb::v1::MALFORMED, "unterminated quoted field", row3, 4);
  ExpectError(r[3], ebb::v1::MALFORMED,
              "unexpected character after a closing quote", row4, 5);
  ExpectPrice(r[4], "BRK.A", T("2025-01-06T00:00:00Z"), 3, row5, 6);
  EXPECT_EQ(r[4].event_id, "\"");
}

// Random rows against the fields they were built from: fields of every
// length put the commas at every offset of the word-at-a-time split (and in
// its overlapping last word), quoted fields with commas inside send lines to
// the quoting split, wrong field counts are rejected, and runs of one
// timestamp (the repeated-time shortcut) alternate with texts of the same
// length that differ in one digit.
TEST(CsvSourceTest, RandomRowsSplitAsBuilt) {
  std::mt19937_64 rng(20261204);
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  const std::vector<std::string> columns = {"x",     "timestamp", "symbol", "y",
                                            "close", "event_id",  "z"};
  auto filler = [&]() {
    std::string f(pick(14), 'a');
    for (char& c : f) c = "abc xyz.-"[pick(9)];
    return f;
  };
  std::string data = absl::StrJoin(columns, ",") + "\n";
  struct Want {
    bool ok;
    size_t fields;
    std::string symbol, event_id, line;
    TimeNs time;
    double price;
  };
  std::vector<Want> want;
  TimeNs time = T("2025-03-01T00:00:00Z");
  for (int row = 0; row < 20'000; ++row) {
    if (pick(3) == 0) time += (1 + pick(3)) * kNanosPerMinute;
    const absl::Time at = absl::FromUnixNanos(time);
    std::string time_text;
    switch (pick(3)) {
      case 0:
        time_text =
            absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", at, absl::UTCTimeZone());
        break;
      case 1:
        time_text = absl::FormatTime("%Y-%m-%d %H:%M:%S+00:00", at,
                                     absl::UTCTimeZone());
        break;
      default:
        time_text = absl::StrCat(time / 1'000'000);
    }
    Want w;
    w.symbol = absl::StrCat("S", pick(1000));
    w.event_id = filler();
    w.time = time;
    w.price = (1 + pick(100000)) / 100.0;
    std::vector<std::string> fields = {
        filler(),   time_text, w.symbol, filler(), absl::StrCat(w.price),
        w.event_id, filler()};
    for (int q = pick(4); q < 3; q += 3) {  // a quarter: one quoted field
      const int i = std::vector<int>{0, 3, 6}[pick(3)];
      fields[i] = absl::StrCat("\"", fields[i], ",", filler(), "\"");
    }
    if (pick(10) == 0) {  // a field too many or too few
      if (pick(2) == 0) {
        fields.push_back(filler());
      } else {
        fields.pop_back();
      }
    }
    w.ok = fields.size() == columns.size();
    w.fields = fields.size();
    w.line = absl::StrJoin(fields, ",");
    absl::StrAppend(&data, w.line, "\n");
    want.push_back(std::move(w));
  }
  auto r = ReadCsv("random_rows.csv", data);
  ASSERT_EQ(r.size(), want.size());
  for (size_t i = 0; i < r.size(); ++i) {
    const Want& w = want[i];
    SCOPED_TRACE(absl::StrCat("row ", i, ": ", w.line));
    if (w.ok) {
      ExpectPrice(r[i], w.symbol, w.time, w.price, w.line,
                  static_cast<int64_t>(i) + 2);
      EXPECT_EQ(r[i].event_id, absl::StripAsciiWhitespace(w.event_id));
    } else {
      ExpectError(r[i], ebb::v1::MALFORMED,
                  absl::StrCat("expected 7 fields, found ", w.fields), w.line,
                  static_cast<int64_t>(i) + 2);
    }
    if (::testing::Test::HasFailure()) break;
  }
}

TEST(CsvSourceTest, ManyRowsAcrossChunks) {
  std::string data = "timestamp,close\r\n";
  const TimeNs start = T("2025-01-01T00:00:00Z");
  for (int i = 0; i < 100'000; ++i) {  // ~3 MB: several buffer refills
    absl::StrAppend(&data, (start + i * kNanosPerMinute) / 1'000'000, ",", i,
                    ".25\r\n");
  }
  auto r = ReadCsv("M.csv", data);
  ASSERT_EQ(r.size(), 100'000u);
  for (size_t i = 0; i < r.size(); ++i) {
    ASSERT_EQ(r[i].kind, Kind::kPrice) << i << ": " << r[i].detail;
    ASSERT_EQ(r[i].time, start + static_cast<TimeNs>(i) * kNanosPerMinute) << i;
    ASSERT_EQ(r[i].price, static_cast<double>(i) + 0.25) << i;
    ASSERT_EQ(r[i].offset, static_cast<int64_t>(i) + 2);
  }
}

// -----------------------------------------------------------------------------
// Opening

TEST(OpenFileSourceTest, FormatAndErrors) {
  FileSourceOptions missing;
  missing.path = TempPath("does-not-exist.csv");
  absl::StatusOr<std::unique_ptr<RecordSource>> s = OpenFileSource(missing);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr(missing.path));

  FileSourceOptions unknown;
  unknown.path = WriteFile("prices.txt", "Date,Close\n2025-01-01,1\n");
  s = OpenFileSource(unknown);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr(unknown.path));
  EXPECT_THAT(std::string(s.status().message()),
              HasSubstr("--format csv|jsonl|binpb"));

  EXPECT_THAT(std::string(s.status().message()),
              HasSubstr("extension \".txt\""));

  FileSourceOptions no_extension;
  no_extension.path = WriteFile("prices", "");
  s = OpenFileSource(no_extension);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("(no extension)"));

  FileSourceOptions csv_news;
  csv_news.path = WriteFile("news.csv", "");
  csv_news.news = true;
  s = OpenFileSource(csv_news);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()),
              HasSubstr("news files must be jsonl or binpb"));

  FileSourceOptions bad_format = unknown;
  bad_format.format = "xml";
  s = OpenFileSource(bad_format);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("\"xml\""));

  FileSourceOptions forced = unknown;
  forced.format = "CSV";
  s = OpenFileSource(forced);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->size_bytes(), 24u);
  EXPECT_EQ((*s)->bytes_read(), 0u);
  auto records = ReadAll(**s);
  ASSERT_EQ(records.size(), 1u);
  ExpectPrice(records[0], "prices", T("2025-01-02T00:00:00Z"), 1,
              "2025-01-01,1", 2);
  EXPECT_EQ((*s)->bytes_read(), 24u);
}

// -----------------------------------------------------------------------------
// JSON lines

TEST(JsonLinesSourceTest, PricesAndErrors) {
  const std::string good =
      R"({"symbol":"BTC-USD","eventTime":"2025-11-21T00:00:00.5Z","price":99000.25,"eventId":"e1"})";
  const std::string snake =
      R"({"symbol":"ETH-USD","event_time":"2025-11-21T00:01:00Z","price":3000,"venue":"x"})";
  const std::string malformed = R"({"symbol":"BTC-USD","price":)";
  const std::string unknown =
      R"({"symbol":"BTC-USD","eventTime":"2025-11-21T00:00:00Z","px":1})";
  const std::string no_time = R"({"symbol":"BTC-USD","price":1})";
  FileSourceOptions options;
  options.path =
      WriteFile("prices.jsonl", good + "\n\n" + snake + "\r\n" + malformed +
                                    "\n" + unknown + "\n" + no_time);
  auto r = ReadFile(options);
  ASSERT_EQ(r.size(), 5u);
  ExpectPrice(r[0], "BTC-USD", T("2025-11-21T00:00:00.5Z"), 99000.25, good, 1);
  EXPECT_EQ(r[0].event_id, "e1");
  ExpectPrice(r[1], "ETH-USD", T("2025-11-21T00:01:00Z"), 3000, snake, 3);
  EXPECT_EQ(r[1].event_id, "");
  ExpectError(r[2], ebb::v1::MALFORMED, "", malformed, 4);
  EXPECT_FALSE(r[2].detail.empty());
  ExpectError(r[3], ebb::v1::MALFORMED, "px", unknown, 5);
  ExpectError(r[4], ebb::v1::INVALID_TIME, "event_time is missing", no_time, 6);
}

// The JSON reader gives the reasons the CSV reader gives for the same value:
// a time it cannot read is invalid_time, a price string that is not a
// number as CSV reads numbers is invalid_price (libprotobuf's JSON parser
// takes any strtod form, "0x1p4" included).
TEST(JsonLinesSourceTest, SameReasonsAsCsv) {
  const std::vector<std::pair<std::string, std::string>> lines = {
      {R"({"symbol":"A","eventTime":"10000-01-01T00:00:00Z","price":1})",
       "invalid_time"},
      {R"({"symbol":"A","eventTime":"2025-13-01T00:00:00Z","price":1})",
       "invalid_time"},
      {R"({"symbol":"A","eventTime":"2025-01-01T00:00:00Z","price":"0x1p4"})",
       "invalid_price"},
      {R"({"symbol":"A","eventTime":"2025-01-01T00:00:00Z","price" : "+5"})",
       "invalid_price"},
      {R"({"symbol":"A","eventTime":"2025-01-01T00:00:00Z","pr\u0069ce":"0x10"})",
       "invalid_price"},
      {R"({"symbol":"A","eventTime":"2025-01-01T00:00:00Z","price":"abc"})",
       "invalid_price"},
      {R"({"symbol":"A","eventTime":"2025-01-01T00:00:00Z","price":"16.5"})",
       ""},
      {R"({"symbol":"A","eventTime":"2025-01-01T00:00:00Z","price":"1e3"})",
       ""},
      {R"({"symbol":"A","eventTime":"2025-01-01T00:00:00Z","price":16})", ""},
  };
  std::string content;
  for (const auto& [line, reason] : lines) content += line + "\n";
  FileSourceOptions options;
  options.path = WriteFile("reasons.jsonl", content);
  auto r = ReadFile(options);
  ASSERT_EQ(r.size(), lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].second.empty()) {
      EXPECT_EQ(r[i].kind, Kind::kPrice) << lines[i].first;
      continue;
    }
    EXPECT_EQ(r[i].kind, Kind::kError) << lines[i].first;
    EXPECT_EQ(RejectReasonName(r[i].reason), lines[i].second)
        << lines[i].first << " -> " << r[i].detail;
  }
  EXPECT_EQ(r[2].detail, "price \"0x1p4\" is not a number");
  EXPECT_EQ(r[7].price, 1000);
  // CSV says the same of the same price.
  auto csv = ReadCsv("hex.csv", "date,close\n2025-01-01,0x1p4\n");
  ASSERT_EQ(csv.size(), 1u);
  EXPECT_EQ(csv[0].reason, ebb::v1::INVALID_PRICE);
  EXPECT_EQ(csv[0].detail, r[2].detail);
}

TEST(JsonLinesSourceTest, News) {
  const std::string story =
      R"({"id":"n1","eventTime":"2025-07-01T12:00:00Z","headline":"Bitcoin rallies",)"
      R"("source":"CoinDesk","symbols":["BTC-USD","MSTR"],"sentiment":0.5})";
  const std::string no_time = R"({"id":"n2","headline":"Undated"})";
  FileSourceOptions options;
  options.path = WriteFile("news.ndjson", story + "\n" + no_time + "\n");
  options.news = true;
  auto r = ReadFile(options);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].kind, Kind::kNews);
  EXPECT_EQ(r[0].time, T("2025-07-01T12:00:00Z"));
  EXPECT_EQ(r[0].news.id(), "n1");
  EXPECT_EQ(r[0].news.headline(), "Bitcoin rallies");
  EXPECT_EQ(r[0].news.source(), "CoinDesk");
  EXPECT_THAT(r[0].news.symbols(), ::testing::ElementsAre("BTC-USD", "MSTR"));
  EXPECT_EQ(r[0].news.sentiment(), 0.5);
  EXPECT_EQ(r[0].original, story);
  EXPECT_EQ(r[0].offset, 1);
  // Pipeline::OnNews rejects it; the time orders the merge.
  EXPECT_EQ(r[1].kind, Kind::kNews);
  EXPECT_EQ(r[1].original, no_time);
  EXPECT_EQ(r[1].time, r[0].time);
}

TEST(JsonLinesSourceTest, OversizeLine) {
  const std::string big =
      R"({"symbol":")" + std::string(1024 * 1024, 'A') + R"("})";
  const std::string good =
      R"({"symbol":"X","eventTime":"2025-01-01T00:00:00Z","price":2})";
  FileSourceOptions options;
  options.path = WriteFile("big.json", big + "\n" + good + "\n");
  auto r = ReadFile(options);
  ASSERT_EQ(r.size(), 2u);
  ExpectError(r[0], ebb::v1::OVERSIZE, "line 1 is longer than 1048576 bytes",
              big.substr(0, 1024 * 1024), 1);
  ExpectPrice(r[1], "X", T("2025-01-01T00:00:00Z"), 2, good, 2);
}

// -----------------------------------------------------------------------------
// Binary

ebb::v1::PriceEvent MakePrice(const std::string& symbol, TimeNs time,
                              double price) {
  ebb::v1::PriceEvent e;
  e.set_symbol(symbol);
  ToTimestamp(time, e.mutable_event_time());
  e.set_price(price);
  return e;
}

std::string Delimited(const std::vector<ebb::v1::PriceEvent>& events) {
  std::ostringstream out;
  for (const auto& e : events) {
    EXPECT_TRUE(google::protobuf::util::SerializeDelimitedToOstream(e, &out));
  }
  return out.str();
}

TEST(BinarySourceTest, RoundTripAndTruncatedTail) {
  std::vector<ebb::v1::PriceEvent> events = {
      MakePrice("BTC-USD", T("2025-01-01T00:00:00Z"), 100.5),
      MakePrice("ETH-USD", T("2025-01-01T00:01:00Z"), 3000),
      ebb::v1::PriceEvent(),  // empty message: zero length, still a record
      MakePrice("SOL-USD", T("2025-01-01T00:02:00.25Z"), 150)};
  events[1].set_event_id("e2");
  std::string bytes = Delimited(events);
  const size_t good_size = bytes.size();
  // A record announcing 50 bytes with only 3 left.
  bytes += std::string(
      "\x32"
      "abc",
      4);
  FileSourceOptions options;
  options.path = WriteFile("prices.binpb", bytes);
  auto r = ReadFile(options);
  ASSERT_EQ(r.size(), 5u);
  int64_t offset = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(r[i].kind, Kind::kEncoded);
    EXPECT_EQ(r[i].original, events[i].SerializeAsString());
    EXPECT_EQ(r[i].offset, offset);
    ebb::v1::PriceEvent decoded;
    ASSERT_TRUE(decoded.ParseFromString(r[i].original));
    EXPECT_EQ(decoded.symbol(), events[i].symbol());
    offset += 1 + static_cast<int64_t>(events[i].ByteSizeLong());
  }
  // The source decodes a price once, for the merge and the pipeline alike;
  // the empty message has no time, so the pipeline decodes it to say why.
  for (size_t i : {0, 1, 3}) {
    EXPECT_TRUE(r[i].decoded) << i;
    EXPECT_EQ(r[i].symbol(), events[i].symbol());
    EXPECT_EQ(r[i].price, events[i].price());
    EXPECT_EQ(r[i].event_id, events[i].event_id());
  }
  EXPECT_EQ(r[0].time, T("2025-01-01T00:00:00Z"));
  EXPECT_EQ(r[3].time, T("2025-01-01T00:02:00.25Z"));
  EXPECT_FALSE(r[2].decoded);
  ExpectError(r[4], ebb::v1::TRUNCATED,
              "record of 50 bytes runs past the end of the file (3 bytes "
              "left); skipped 4 bytes to the end of the file",
              std::string("\x32"
                          "abc",
                          4),
              static_cast<int64_t>(good_size));
}

TEST(BinarySourceTest, OversizeLengthResynchronises) {
  std::string bytes = Delimited({MakePrice("A", T("2025-01-01T00:00:00Z"), 1)});
  const int64_t offset = static_cast<int64_t>(bytes.size());
  const std::string prefix = "\x81\x80\x80\x01";  // 2 MiB + 1
  bytes += prefix + std::string(100, 'x');
  const int64_t resumed = static_cast<int64_t>(bytes.size());
  bytes += Delimited({MakePrice("B", T("2025-01-01T00:00:00Z"), 1),
                      MakePrice("C", T("2025-01-01T00:00:00Z"), 1)});
  FileSourceOptions options;
  options.path = WriteFile("oversize.pb", bytes);
  auto r = ReadFile(options);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].kind, Kind::kEncoded);
  ExpectError(r[1], ebb::v1::OVERSIZE,
              absl::StrCat("length prefix of 2097153 bytes (over the limit of "
                           "1048576); skipped 104 bytes, resynchronised at "
                           "byte ",
                           resumed),
              prefix + std::string(100, 'x'), offset);
  EXPECT_EQ(r[2].kind, Kind::kEncoded);
  EXPECT_EQ(r[2].offset, resumed);
  EXPECT_EQ(r[3].kind, Kind::kEncoded);
}

// A corrupted length prefix in the middle of a file: the records after the
// damage are found again, and the dead letter says what was skipped. Random
// damage (fixed seed) at random places: every record outside the damage is
// read, and every byte is either in a record or counted as skipped.
TEST(BinarySourceTest, DamagedFilesResynchronise) {
  std::mt19937_64 rng(20251127);
  int resynchronised = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<ebb::v1::PriceEvent> events;
    for (int i = 0; i < 40; ++i) {
      events.push_back(MakePrice(absl::StrCat("S", rng() % 50),
                                 T("2025-01-01T00:00:00Z") + i, 1 + i));
    }
    const std::string head = Delimited(
        std::vector<ebb::v1::PriceEvent>(events.begin(), events.begin() + 20));
    const std::string tail = Delimited(
        std::vector<ebb::v1::PriceEvent>(events.begin() + 20, events.end()));
    // An invalid prefix (six continuation bytes) and random junk.
    std::string junk(6, '\xff');
    for (size_t i = 0, n = rng() % 200; i < n; ++i)
      junk.push_back(static_cast<char>(rng()));
    FileSourceOptions options;
    options.path = WriteFile("damaged.binpb", head + junk + tail);
    auto r = ReadFile(options);
    size_t encoded = 0;
    for (const SourceRecord& record : r) {
      if (record.kind == Kind::kEncoded) ++encoded;
    }
    EXPECT_EQ(encoded, 40u) << trial;
    ASSERT_GE(r.size(), 21u);
    ExpectError(r[20], ebb::v1::TRUNCATED, "invalid length prefix; skipped ",
                junk, static_cast<int64_t>(head.size()));
    EXPECT_EQ(r[20].detail,
              absl::StrCat("invalid length prefix; skipped ", junk.size(),
                           " bytes, resynchronised at byte ",
                           head.size() + junk.size()));
    if (r.size() == 41 && r[21].original == events[20].SerializeAsString())
      ++resynchronised;
  }
  EXPECT_EQ(resynchronised, 300);
}

TEST(BinarySourceTest, BadAndCutLengthPrefixes) {
  std::string good = Delimited({MakePrice("A", T("2025-01-01T00:00:00Z"), 1)});
  FileSourceOptions options;
  options.path = WriteFile("badvarint.binpb", good + std::string(6, '\xFF'));
  auto r = ReadFile(options);
  ASSERT_EQ(r.size(), 2u);
  ExpectError(r[1], ebb::v1::TRUNCATED, "invalid length prefix",
              std::string(6, '\xFF'), static_cast<int64_t>(good.size()));

  options.path = WriteFile("cutvarint.binpb", good + "\x81");
  r = ReadFile(options);
  ASSERT_EQ(r.size(), 2u);
  ExpectError(r[1], ebb::v1::TRUNCATED, "length prefix cut short", "\x81",
              static_cast<int64_t>(good.size()));
}

TEST(BinarySourceTest, News) {
  ebb::v1::NewsEvent story;
  story.set_id("n1");
  story.set_headline("Miners pivot to AI");
  story.add_symbols("IREN");
  ToTimestamp(T("2025-07-01T12:00:00Z"), story.mutable_event_time());
  ebb::v1::NewsEvent undated;
  undated.set_id("n2");
  std::ostringstream out;
  google::protobuf::util::SerializeDelimitedToOstream(story, &out);
  const int64_t second = static_cast<int64_t>(out.str().size());
  google::protobuf::util::SerializeDelimitedToOstream(undated, &out);
  const int64_t third = static_cast<int64_t>(out.str().size());
  out << std::string("\x02\xFF\xFF", 3);  // not a message
  FileSourceOptions options;
  options.path = WriteFile("news.pb", out.str());
  options.news = true;
  auto r = ReadFile(options);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].kind, Kind::kNews);
  EXPECT_EQ(r[0].time, T("2025-07-01T12:00:00Z"));
  EXPECT_EQ(r[0].news.headline(), "Miners pivot to AI");
  EXPECT_EQ(r[0].offset, 0);
  // Pipeline::OnNews rejects it; the time orders the merge.
  EXPECT_EQ(r[1].kind, Kind::kNews);
  EXPECT_EQ(r[1].original, undated.SerializeAsString());
  EXPECT_EQ(r[1].offset, second);
  EXPECT_EQ(r[1].time, r[0].time);
  ExpectError(r[2], ebb::v1::TRUNCATED, "not a valid ebb.v1.NewsEvent",
              "\xFF\xFF", third);
}

// Records far longer than one read (files are read 64 KiB at a time): a
// 900 KB news message and a 300 KB JSON line, between short ones, come out
// whole, read from a file and from a pipe.
TEST(FileSourceTest, RecordsLongerThanOneReadComeOutWhole) {
  ebb::v1::NewsEvent big;
  big.set_id("long");
  big.set_summary(std::string(900'000, 's'));
  ToTimestamp(T("2025-07-01T12:00:00Z"), big.mutable_event_time());
  ebb::v1::NewsEvent small = big;
  small.set_id("short");
  small.set_summary("x");
  std::ostringstream out;
  for (const auto* e : {&small, &big, &small}) {
    ASSERT_TRUE(google::protobuf::util::SerializeDelimitedToOstream(*e, &out));
  }
  const std::string json_big =
      R"({"symbol":"X","eventTime":"2025-01-01T00:00:00Z","price":2,"eventId":")" +
      std::string(300'000, 'e') + R"("})";
  const std::string json_small =
      R"({"symbol":"X","eventTime":"2025-01-01T00:00:01Z","price":3})";
  for (const bool pipe : {false, true}) {
    SCOPED_TRACE(pipe ? "pipe" : "file");
    auto read = [&](const std::string& name, const std::string& content,
                    bool news) {
      FileSourceOptions options;
      options.path = WriteFile(name, content);
      options.news = news;
      if (pipe) {  // a FIFO is read in chunks with no size known
        const std::string fifo = TempPath(name + ".fifo");
        std::filesystem::remove(fifo);
        EXPECT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
        // The writer holds none of the test's descriptors and gives up
        // after 60 s, so a failing test cannot leave it blocking ctest.
        const std::string cmd = "timeout 60 cat '" + options.path + "' > '" +
                                fifo + "' 2>/dev/null </dev/null &";
        EXPECT_EQ(std::system(cmd.c_str()), 0);
        options.path = fifo;
        options.format = name.substr(name.rfind('.') + 1);
      }
      return ReadFile(options);
    };
    auto news = read("long.pb", out.str(), true);
    ASSERT_EQ(news.size(), 3u);
    EXPECT_EQ(news[0].news.id(), "short");
    EXPECT_EQ(news[1].news.id(), "long");
    EXPECT_EQ(news[1].news.summary(), big.summary());
    EXPECT_EQ(news[2].news.id(), "short");
    auto prices =
        read("long.jsonl",
             json_small + "\n" + json_big + "\n" + json_small + "\n", false);
    ASSERT_EQ(prices.size(), 3u);
    ExpectPrice(prices[1], "X", T("2025-01-01T00:00:00Z"), 2, json_big, 2);
    EXPECT_EQ(prices[1].event_id, std::string(300'000, 'e'));
    ExpectPrice(prices[2], "X", T("2025-01-01T00:00:01Z"), 3, json_small, 3);
  }
}

TEST(BinarySourceTest, ManyRecordsAcrossChunks) {
  std::vector<ebb::v1::PriceEvent> events;
  for (int i = 0; i < 150'000; ++i) {  // ~4.5 MB: several buffer refills
    events.push_back(MakePrice(absl::StrCat("SYM", i % 7),
                               T("2025-01-01T00:00:00Z") + i, i + 1));
  }
  FileSourceOptions options;
  options.path = WriteFile("many.binpb", Delimited(events));
  auto r = ReadFile(options);
  ASSERT_EQ(r.size(), events.size());
  for (size_t i = 0; i < events.size(); i += 997) {
    EXPECT_EQ(r[i].original, events[i].SerializeAsString()) << i;
  }
  EXPECT_EQ(r.back().original, events.back().SerializeAsString());
}

// -----------------------------------------------------------------------------
// Merge

std::unique_ptr<RecordSource> Open(const std::string& name,
                                   const std::string& content) {
  FileSourceOptions options;
  options.path = WriteFile(name, content);
  absl::StatusOr<std::unique_ptr<RecordSource>> s = OpenFileSource(options);
  EXPECT_TRUE(s.ok()) << s.status();
  return std::move(*s);
}

// Binary prices keep their symbol as a range of the record's own copy of the
// bytes. Records read as replay reads them (a batch of records, written by
// Next in place, through the merge, whose per-input records are swapped out)
// keep their symbols across read-buffer refills: three inputs of 20,000
// records (~0.5 MB each, several 64 KiB reads) with symbols of 1 to 24
// characters, messages short enough for std::string's inline buffer (a
// symbol and an empty time), and non-canonical ones (an unknown field: the
// decoder takes the symbol from a message it parsed, not from the bytes).
TEST(BinarySourceTest, SymbolsStayValidAcrossRefillsAndMerges) {
  constexpr int kInputs = 3;
  constexpr int kPerInput = 20'000;
  std::mt19937_64 rng(17);
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  auto symbol = [&] {
    std::string s(1 + rng() % 24, ' ');
    for (char& c : s) c = alphabet[rng() % alphabet.size()];
    return s;
  };
  std::map<std::pair<uint32_t, int64_t>, std::string> want;  // input, offset
  std::vector<std::unique_ptr<RecordSource>> sources;
  for (int input = 0; input < kInputs; ++input) {
    std::string bytes;
    for (int i = 0; i < kPerInput; ++i) {
      ebb::v1::PriceEvent e;
      e.set_symbol(symbol());
      // The same time for several records of all inputs: ties interleave.
      e.mutable_event_time()->set_seconds(1'700'000'000 + i / 4);
      std::string message;
      switch (rng() % 8) {
        case 0:  // short: no price, time 0 (an empty Timestamp message)
          e.mutable_event_time()->set_seconds(0);
          message = e.SerializeAsString();
          break;
        case 1:  // non-canonical: an unknown field 15 (varint 1)
          e.set_price(1 + i);
          message = e.SerializeAsString() + std::string("\x78\x01", 2);
          break;
        default:
          e.set_price(1 + i);
          message = e.SerializeAsString();
      }
      const int64_t offset = static_cast<int64_t>(bytes.size());
      ASSERT_LT(message.size(), 128u);
      bytes += static_cast<char>(message.size());
      bytes += message;
      want[{static_cast<uint32_t>(input), offset}] = e.symbol();
    }
    sources.push_back(Open(absl::StrCat("symbols", input, ".binpb"), bytes));
  }
  auto merged = MergeSources(std::move(sources));
  std::vector<SourceRecord> batch(256);
  size_t seen = 0, short_ones = 0, fallback = 0;
  for (bool more = true; more;) {
    size_t n = 0;
    while (n < batch.size()) {
      absl::StatusOr<bool> next = merged->Next(&batch[n]);
      ASSERT_TRUE(next.ok()) << next.status();
      if (!*next) {
        more = false;
        break;
      }
      ++n;
    }
    // Checked after the whole batch was read (and the buffers refilled).
    for (size_t k = 0; k < n; ++k) {
      const SourceRecord& r = batch[k];
      ASSERT_EQ(r.kind, Kind::kEncoded);
      ASSERT_TRUE(r.decoded) << r.offset;
      const auto it = want.find({r.source_index, r.offset});
      ASSERT_NE(it, want.end()) << r.source_index << " " << r.offset;
      ASSERT_EQ(r.symbol(), it->second)
          << "input " << r.source_index << ", offset " << r.offset;
      if (r.original.size() <= 15) ++short_ones;
      if (r.original.size() >= 2 &&
          r.original.compare(r.original.size() - 2, 2, "\x78\x01", 2) == 0) {
        ++fallback;
      }
      ++seen;
    }
  }
  EXPECT_EQ(seen, want.size());
  EXPECT_GT(short_ones, 1000u);
  EXPECT_GT(fallback, 1000u);
}

TEST(MergeSourcesTest, OrderTiesAndErrors) {
  const std::string a = "time,price\n1,1\n3,3\nx,4\n5,5\n";
  const std::string b = "time,price\n1,1\n2,2\n5,5\n";
  const std::string c = "time,price\n0,abc\n0,0.5\n3,3\n";
  std::vector<std::unique_ptr<RecordSource>> sources;
  sources.push_back(Open("A.csv", a));
  sources.push_back(Open("B.csv", b));
  sources.push_back(Open("C.csv", c));
  auto merged = MergeSources(std::move(sources));
  auto r = ReadAll(*merged);
  struct Want {
    uint32_t source;
    Kind kind;
    int64_t seconds;
    int64_t offset;
  };
  const std::vector<Want> want = {
      {2, Kind::kError, 0, 2}, {2, Kind::kPrice, 0, 3}, {0, Kind::kPrice, 1, 2},
      {1, Kind::kPrice, 1, 2}, {1, Kind::kPrice, 2, 3}, {0, Kind::kPrice, 3, 3},
      {0, Kind::kError, 0, 4}, {2, Kind::kPrice, 3, 4}, {0, Kind::kPrice, 5, 5},
      {1, Kind::kPrice, 5, 4}};
  ASSERT_EQ(r.size(), want.size());
  const char* names[] = {"A", "B", "C"};
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(r[i].source_index, want[i].source);
    EXPECT_EQ(r[i].kind, want[i].kind);
    EXPECT_EQ(r[i].offset, want[i].offset);
    if (want[i].kind == Kind::kPrice) {
      EXPECT_EQ(r[i].time, want[i].seconds * kNanosPerSecond);
      EXPECT_EQ(r[i].symbol(), names[want[i].source]);
    }
  }
  EXPECT_EQ(r[0].reason, ebb::v1::INVALID_PRICE);
  EXPECT_EQ(r[0].original, "0,abc");
  EXPECT_EQ(r[6].reason, ebb::v1::INVALID_TIME);
  EXPECT_EQ(r[6].original, "x,4");
  EXPECT_EQ(merged->size_bytes(), a.size() + b.size() + c.size());
  EXPECT_EQ(merged->bytes_read(), merged->size_bytes());
}

TEST(MergeSourcesTest, EncodedRecordsMergeByDecodedTime) {
  std::string bytes = Delimited({MakePrice("X", 10 * kNanosPerSecond, 1)});
  bytes += std::string("\x01\xFF",
                       2);  // undecodable: keeps the previous time (10 s)
  bytes += Delimited({MakePrice("X", 30 * kNanosPerSecond, 3)});
  std::vector<std::unique_ptr<RecordSource>> sources;
  sources.push_back(Open("X.binpb", bytes));
  sources.push_back(Open("Y.csv", "time,price\n10,1\n20,2\n"));
  auto r = ReadAll(*MergeSources(std::move(sources)));
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0].kind, Kind::kEncoded);
  EXPECT_EQ(r[0].source_index, 0u);
  EXPECT_EQ(r[0].time, 10 * kNanosPerSecond);
  EXPECT_EQ(r[1].kind, Kind::kEncoded);
  EXPECT_EQ(r[1].original, "\xFF");
  EXPECT_EQ(r[1].time, 10 * kNanosPerSecond);
  EXPECT_EQ(r[2].source_index, 1u);
  EXPECT_EQ(r[2].time, 10 * kNanosPerSecond);
  EXPECT_EQ(r[3].source_index, 1u);
  EXPECT_EQ(r[3].time, 20 * kNanosPerSecond);
  EXPECT_EQ(r[4].source_index, 0u);
  EXPECT_EQ(r[4].time, 30 * kNanosPerSecond);
  EXPECT_EQ(r[4].offset,
            static_cast<int64_t>(bytes.size() - r[4].original.size() - 1));
}

TEST(MergeSourcesTest, SingleAndNoSource) {
  std::vector<std::unique_ptr<RecordSource>> one;
  one.push_back(Open("S.csv", "time,price\n2,2\n1,1\n"));
  auto r = ReadAll(*MergeSources(std::move(one)));
  ASSERT_EQ(r.size(), 2u);  // passed through in file order
  EXPECT_EQ(r[0].time, 2 * kNanosPerSecond);
  EXPECT_EQ(r[1].time, 1 * kNanosPerSecond);
  EXPECT_EQ(r[1].source_index, 0u);

  EXPECT_TRUE(ReadAll(*MergeSources({})).empty());
}

// -----------------------------------------------------------------------------
// Real data (../shared/data)

TEST(SharedDataTest, EveryPriceCsvReadsCleanly) {
  const char* env = std::getenv("EBB_SHARED_DATA");
  const std::filesystem::path root = env != nullptr ? env : "";
  if (env == nullptr || !std::filesystem::is_directory(root / "prices")) {
    GTEST_SKIP() << "EBB_SHARED_DATA (" << (env != nullptr ? env : "unset")
                 << ") has no prices/ folder: real-data checks skipped";
  }
  // First data row of each file, read off the file: (time, close).
  const std::map<std::string, std::pair<std::string, double>> first = {
      {"AMZN.csv", {"2024-12-07T00:00:00Z", 227.02999877929688}},
      {"BITF.csv", {"2019-08-17T00:00:00Z", 0.9049999713897705}},
      {"BTC-USD.csv", {"2024-12-07T00:00:00Z", 99920.7109375}},
      {"BTC-USD_2011-2025_bitstamp-coinbase.csv",
       {"2011-08-19T00:00:00Z", 10.9}},
      {"CLSK.csv", {"2025-08-02T00:00:00Z", 10.44}},
      {"CORZ.csv", {"2025-08-02T00:00:00Z", 12.65}},
      {"GOOGL.csv", {"2024-12-07T00:00:00Z", 173.9429168701172}},
      {"IREN.csv", {"2025-08-02T00:00:00Z", 15.4}},
      {"MSFT.csv", {"2024-12-07T00:00:00Z", 440.3218688964844}},
      {"NVDA.csv", {"2024-12-07T00:00:00Z", 142.4010467529297}},
      {"QQQ.csv", {"2025-08-02T00:00:00Z", 553.88}},
      {"WULF.csv", {"2024-05-30T00:00:00Z", 2.240000009536743}},
      {"BTCUSDT_bybit_1m_2025-06.csv", {"2025-05-30T16:39:00Z", 104337.8}},
      {"DOTUSDT_binance_1m_2025-11.csv", {"2025-11-01T00:00:00Z", 2.881}},
      {"NEARUSDT_binance_1m_2025-11.csv", {"2025-11-01T00:00:00Z", 2.0970}},
  };
  int files = 0;
  for (const char* sub : {"prices/daily", "prices/minute"}) {
    if (!std::filesystem::is_directory(root / sub)) continue;
    for (const auto& entry : std::filesystem::directory_iterator(root / sub)) {
      if (entry.path().extension() != ".csv") continue;
      const std::string name = entry.path().filename().string();
      SCOPED_TRACE(name);
      ++files;
      std::ifstream in(entry.path(), std::ios::binary);
      const std::string content((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
      size_t lines =
          static_cast<size_t>(std::count(content.begin(), content.end(), '\n'));
      if (!content.empty() && content.back() != '\n') ++lines;
      FileSourceOptions options;
      options.path = entry.path().string();
      auto r = ReadFile(options);
      ASSERT_EQ(r.size(), lines - 1);
      const std::string stem = entry.path().stem().string();
      for (size_t i = 0; i < r.size(); ++i) {
        ASSERT_EQ(r[i].kind, Kind::kPrice)
            << "line " << r[i].offset << ": " << r[i].detail;
        ASSERT_EQ(r[i].symbol(), stem);
        ASSERT_EQ(r[i].offset, static_cast<int64_t>(i) + 2);
        if (i > 0) {
          ASSERT_GT(r[i].time, r[i - 1].time) << "line " << r[i].offset;
        }
      }
      ASSERT_FALSE(r.empty());
      auto it = first.find(name);
      if (it != first.end()) {
        EXPECT_EQ(r[0].time, T(it->second.first)) << FormatTime(r[0].time);
        EXPECT_EQ(r[0].price, it->second.second);
      } else {
        ADD_FAILURE() << "no expected first row for " << name
                      << ": add it to the table";
      }
    }
  }
  EXPECT_GE(files, 15);
}

}  // namespace
}  // namespace ebb
