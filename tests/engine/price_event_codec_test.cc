// The fast PriceEvent decoder against libprotobuf: on canonical messages,
// random messages and random corruptions of them, Decode() accepts exactly what
// ParseFromArray accepts, with the same field values.

#include "engine/price_event_codec.h"

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"

namespace ebb {
namespace {

std::string RandomString(std::mt19937_64& rng, bool ascii_only) {
  static const std::string kAscii = "ABCXYZabc0189._:/^=- *";
  // Up to 40 bytes: the fast path checks 8 bytes at a time.
  const int length = static_cast<int>(rng() % (rng() % 2 ? 12 : 41));
  std::string s;
  for (int i = 0; i < length; ++i) {
    if (!ascii_only && rng() % 7 == 0) {
      s += (rng() % 2) ? "\xc3\xa9"
                       : "\xff";  // valid UTF-8 "é", or an invalid byte
    } else {
      s.push_back(kAscii[rng() % kAscii.size()]);
    }
  }
  return s;
}

ebb::v1::PriceEvent RandomEvent(std::mt19937_64& rng) {
  ebb::v1::PriceEvent e;
  if (rng() % 8) e.set_symbol(RandomString(rng, rng() % 3 != 0));
  if (rng() % 8) {
    e.mutable_event_time()->set_seconds(static_cast<int64_t>(rng()) >>
                                        (rng() % 64));
    e.mutable_event_time()->set_nanos(
        static_cast<int32_t>(rng() % 3 == 0 ? rng() : rng() % 1000000000));
  }
  const double specials[] = {0.0,
                             -1.0,
                             std::numeric_limits<double>::quiet_NaN(),
                             std::numeric_limits<double>::infinity(),
                             1e-300,
                             84500.25};
  if (rng() % 8) {
    e.set_price(rng() % 4 == 0
                    ? specials[rng() % 6]
                    : std::ldexp(static_cast<double>(rng() % 1000000),
                                 -(int)(rng() % 20)));
  }
  if (rng() % 4 == 0) e.set_venue(RandomString(rng, true));
  if (rng() % 4 == 0) e.set_volume(static_cast<double>(rng() % 1000));
  if (rng() % 3 == 0) e.set_event_id(RandomString(rng, rng() % 2 == 0));
  return e;
}

// Both decoders' verdicts and values agree on `bytes`.
void ExpectSameAsLibprotobuf(const std::string& bytes, int* accepted) {
  ebb::v1::PriceEvent reference;
  const bool ok =
      reference.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
  PriceEventDecoder decoder;
  DecodedPrice got;
  ASSERT_EQ(decoder.Decode(bytes, &got), ok) << testing::PrintToString(bytes);
  if (!ok) return;
  ++*accepted;
  EXPECT_EQ(got.symbol, reference.symbol());
  EXPECT_EQ(got.has_time, reference.has_event_time());
  EXPECT_EQ(got.seconds, reference.event_time().seconds());
  EXPECT_EQ(got.nanos, reference.event_time().nanos());
  // Bit patterns, so NaN compares too.
  EXPECT_EQ(std::signbit(got.price), std::signbit(reference.price()));
  if (!std::isnan(reference.price())) {
    EXPECT_EQ(got.price, reference.price());
  }
  EXPECT_EQ(got.event_id, reference.event_id());
}

TEST(PriceEventDecoderTest, CanonicalMessagesTakeTheFastPath) {
  ebb::v1::PriceEvent e;
  e.set_symbol("BTC-USD");
  e.mutable_event_time()->set_seconds(1763683200);
  e.mutable_event_time()->set_nanos(5);
  e.set_price(84500.25);
  e.set_event_id("id-1");
  const std::string bytes = e.SerializeAsString();  // the views point into it
  DecodedPrice got;
  ASSERT_TRUE(PriceEventDecoder::DecodeCanonical(bytes, &got));
  EXPECT_EQ(got.symbol, "BTC-USD");
  EXPECT_TRUE(got.has_time);
  EXPECT_EQ(got.seconds, 1763683200);
  EXPECT_EQ(got.nanos, 5);
  EXPECT_EQ(got.price, 84500.25);
  EXPECT_EQ(got.event_id, "id-1");
}

TEST(PriceEventDecoderTest, UnusualMessagesAreLeftToLibprotobuf) {
  DecodedPrice got;
  // An unknown field (number 9, varint): valid protobuf, not canonical for the
  // fast path.
  std::string unknown =
      std::string("\x0a\x01X", 3) + std::string("\x48\x01", 2);
  EXPECT_FALSE(PriceEventDecoder::DecodeCanonical(unknown, &got));
  PriceEventDecoder decoder;
  ASSERT_TRUE(decoder.Decode(unknown, &got));
  EXPECT_EQ(got.symbol, "X");
  // Invalid UTF-8 in a string field: libprotobuf rejects it.
  EXPECT_FALSE(decoder.Decode(std::string("\x0a\x01\xff", 3), &got));
  // Truncated.
  EXPECT_FALSE(decoder.Decode(std::string("\x0a\x05"
                                          "AB",
                                          4),
                              &got));
  // Empty input is a valid empty message.
  ASSERT_TRUE(decoder.Decode("", &got));
  EXPECT_FALSE(got.has_time);
}

int protobuf_log_lines = 0;
void CountProtobufLog(google::protobuf::LogLevel, const char*, int,
                      const std::string&) {
  ++protobuf_log_lines;
}

// Strings that are not UTF-8 are found before libprotobuf is asked (which
// would log a line for each), and the diagnosis names the field.
TEST(PriceEventDecoderTest, InvalidUtf8IsDiagnosedWithoutLibprotobufLogging) {
  google::protobuf::LogHandler* previous =
      google::protobuf::SetLogHandler(&CountProtobufLog);
  protobuf_log_lines = 0;
  ebb::v1::PriceEvent event;
  event.mutable_event_time()->set_seconds(1'700'000'000);
  event.set_price(1);
  const std::string rest = event.SerializeAsString();
  const std::string bad_symbol = std::string(
                                     "\x0a\x02"
                                     "A\xff",
                                     4) +
                                 rest;
  const std::string bad_venue = rest + std::string("\x22\x02\xed\xa0", 4);
  // A valid symbol, then bytes that are not wire format.
  const std::string garbage = std::string(
      "\x0a\x01"
      "A\xff\xff",
      5);
  PriceEventDecoder decoder;
  DecodedPrice got;
  std::string detail;
  EXPECT_FALSE(decoder.Decode(bad_symbol, &got));
  EXPECT_EQ(PriceEventDecoder::DiagnoseUndecodable(bad_symbol, &detail),
            ebb::v1::INVALID_SYMBOL);
  EXPECT_EQ(detail, "symbol \"A\\xff\" is not valid UTF-8");
  EXPECT_FALSE(decoder.Decode(bad_venue, &got));
  EXPECT_EQ(PriceEventDecoder::DiagnoseUndecodable(bad_venue, &detail),
            ebb::v1::MALFORMED);
  EXPECT_EQ(detail, "venue \"\\xed\\xa0\" is not valid UTF-8");
  EXPECT_FALSE(decoder.Decode(garbage, &got));
  EXPECT_EQ(PriceEventDecoder::DiagnoseUndecodable(garbage, &detail),
            ebb::v1::TRUNCATED);
  EXPECT_EQ(detail,
            "not a valid ebb.v1.PriceEvent (truncated or corrupt protobuf)");

  ebb::v1::NewsEvent news;
  EXPECT_EQ(DecodeNewsEvent(std::string("\x1a\x01\x80", 3), &news, &detail),
            ebb::v1::MALFORMED);
  EXPECT_EQ(detail, "headline \"\\x80\" is not valid UTF-8");
  EXPECT_EQ(DecodeNewsEvent(std::string("\x3a\x01\x80", 3), &news, &detail),
            ebb::v1::INVALID_SYMBOL);
  EXPECT_EQ(DecodeNewsEvent(std::string("\x3a\x02\xc3\xa9", 4), &news, &detail),
            ebb::v1::REJECT_REASON_UNSPECIFIED);
  EXPECT_EQ(news.symbols(0), "\xc3\xa9");
  EXPECT_EQ(protobuf_log_lines, 0);
  google::protobuf::SetLogHandler(previous);
}

TEST(PriceEventDecoderTest, AgreesWithLibprotobufOnRandomAndCorruptedMessages) {
  std::mt19937_64 rng(20251126);
  int accepted = 0, cases = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes = RandomEvent(rng).SerializeAsString();
    ExpectSameAsLibprotobuf(bytes, &accepted);
    ++cases;
    // Corruptions: flipped bytes, truncation, inserted bytes, duplicated
    // fields.
    for (int k = 0; k < 4; ++k) {
      std::string bad = bytes;
      switch (rng() % 4) {
        case 0:
          if (!bad.empty())
            bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
          break;
        case 1:
          bad.resize(bad.empty() ? 0 : rng() % bad.size());
          break;
        case 2:
          bad.insert(bad.begin() + static_cast<long>(
                                       bad.empty() ? 0 : rng() % bad.size()),
                     static_cast<char>(rng()));
          break;
        case 3:
          bad +=
              RandomEvent(rng)
                  .SerializeAsString();  // later fields win, sub-messages merge
          break;
      }
      ExpectSameAsLibprotobuf(bad, &accepted);
      ++cases;
      if (HasFatalFailure()) return;
    }
  }
  // Both outcomes must be well represented for the comparison to mean
  // something.
  EXPECT_GT(accepted, cases / 4);
  EXPECT_LT(accepted, cases);
}

}  // namespace
}  // namespace ebb
