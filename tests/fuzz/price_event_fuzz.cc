// libFuzzer harness: the PriceEvent decoder (engine/price_event_codec.h)
// against libprotobuf. Decode accepts exactly what ParseFromArray accepts,
// with the same values; a rejection is diagnosed with a reason and a detail;
// the NewsEvent decoder agrees with libprotobuf too. libprotobuf's own log
// lines are counted: the decoders must keep it from logging.

#include <cmath>
#include <cstring>
#include <string>

#include "ebb/v1/events.pb.h"
#include "engine/price_event_codec.h"
#include "google/protobuf/stubs/logging.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

int log_lines = 0;
void CountLog(google::protobuf::LogLevel, const char*, int,
              const std::string&) {
  ++log_lines;
}

bool SameDouble(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool installed = [] {
    google::protobuf::SetLogHandler(&CountLog);
    return true;
  }();
  (void)installed;
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  static ebb::PriceEventDecoder decoder;
  ebb::DecodedPrice got;
  const bool decoded = decoder.Decode(bytes, &got);
  const int logged_before = log_lines;
  ebb::v1::PriceEvent reference;
  const bool parsed = reference.ParseFromArray(data, static_cast<int>(size));
  log_lines = logged_before;  // the reference parse may log: not ebb's
  EBB_FUZZ_CHECK(decoded == parsed);
  if (decoded) {
    EBB_FUZZ_CHECK(got.symbol == reference.symbol());
    EBB_FUZZ_CHECK(got.has_time == reference.has_event_time());
    EBB_FUZZ_CHECK(got.seconds == reference.event_time().seconds());
    EBB_FUZZ_CHECK(got.nanos == reference.event_time().nanos());
    EBB_FUZZ_CHECK(SameDouble(got.price, reference.price()));
    EBB_FUZZ_CHECK(got.event_id == reference.event_id());
  } else {
    std::string detail;
    const ebb::v1::RejectReason reason =
        ebb::PriceEventDecoder::DiagnoseUndecodable(bytes, &detail);
    EBB_FUZZ_CHECK(reason == ebb::v1::TRUNCATED ||
                   reason == ebb::v1::INVALID_SYMBOL ||
                   reason == ebb::v1::MALFORMED);
    EBB_FUZZ_CHECK(!detail.empty());
  }
  ebb::v1::NewsEvent news;
  std::string detail;
  const ebb::v1::RejectReason news_reason =
      ebb::DecodeNewsEvent(bytes, &news, &detail);
  ebb::v1::NewsEvent news_reference;
  const int before_news = log_lines;
  const bool news_parsed =
      news_reference.ParseFromArray(data, static_cast<int>(size));
  const int reference_logs = log_lines - before_news;
  log_lines = before_news;
  EBB_FUZZ_CHECK(news_parsed ==
                 (news_reason == ebb::v1::REJECT_REASON_UNSPECIFIED));
  (void)reference_logs;
  EBB_FUZZ_CHECK(log_lines == 0);
  return 0;
}
