// The JSON-lines reader: one ebb.v1.PriceEvent or NewsEvent a line, in the
// protobuf JSON mapping (docs/formats.md).

#include <charconv>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "connectors/decimal.h"
#include "connectors/file_source_internal.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace ebb {
namespace source_internal {
namespace {

using ebb::v1::RejectReason;

class JsonLinesSource : public RecordSource {
 public:
  JsonLinesSource(std::unique_ptr<ChunkedFile> file, bool news)
      : lines_(std::move(file), kJsonMaxLine), news_(news) {}

  absl::StatusOr<bool> Next(SourceRecord* record) override {
    absl::string_view line;
    bool oversize;
    for (;;) {
      ASSIGN_OR_RETURN(bool more, lines_.Next(&line, &oversize));
      if (!more) return false;
      if (!IsBlank(line)) break;
    }
    const int64_t number = lines_.line_number();
    record->clear_symbol();
    if (oversize) {
      SetError(record, ebb::v1::OVERSIZE,
               absl::StrCat("line ", number, " is longer than ", kJsonMaxLine,
                            " bytes"),
               line, number);
      return true;
    }
    google::protobuf::Message* message =
        news_ ? static_cast<google::protobuf::Message*>(&record->news)
              : &price_;
    message->Clear();
    const auto status = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(line.data(), line.size()), message,
        options_);
    if (!status.ok()) {
      const auto why = status.message();
      const absl::string_view message_text(why.data(), why.size());
      SetError(record, JsonErrorReason(message_text), std::string(message_text),
               line, number);
      return true;
    }
    if (news_) {
      // Pipeline::OnNews validates the item; the time only orders the merge
      // (a missing or invalid one takes the previous item's).
      const google::protobuf::Timestamp& ts = record->news.event_time();
      absl::StatusOr<TimeNs> time = record->news.has_event_time()
                                        ? FromTimestamp(ts)
                                        : absl::InvalidArgumentError("");
      if (time.ok()) last_news_time_ = *time;
      record->kind = SourceRecord::Kind::kNews;
      record->time = last_news_time_;
      record->price = 0;
      record->event_id.clear();
      SetAccepted(record, line, number);
      return true;
    }
    record->set_symbol(price_.symbol());
    if (!price_.has_event_time()) {
      SetError(record, ebb::v1::INVALID_TIME, "event_time is missing", line,
               number);
      return true;
    }
    absl::StatusOr<TimeNs> time = FromTimestamp(price_.event_time());
    if (!time.ok()) {
      SetError(record, ebb::v1::INVALID_TIME,
               absl::StrCat("event_time: ", time.status().message()), line,
               number);
      return true;
    }
    std::string price_problem;
    if (MayHoldStringPrice(line) && StringPriceProblem(line, &price_problem)) {
      SetError(record, ebb::v1::INVALID_PRICE, std::move(price_problem), line,
               number);
      return true;
    }
    record->time = *time;
    record->kind = SourceRecord::Kind::kPrice;
    record->price = price_.price();
    record->event_id.assign(price_.event_id());
    SetAccepted(record, line, number);
    return true;
  }

  uint64_t bytes_read() const override { return lines_.file().consumed(); }
  uint64_t size_bytes() const override { return lines_.file().size(); }

 private:
  // The reason for a JSON parse error. libprotobuf's messages start with the
  // path of the field whose value it could not read: "(event_time): invalid
  // value ...". A value that is not a time or a number is what CSV calls
  // invalid_time or invalid_price; anything else is malformed.
  static RejectReason JsonErrorReason(absl::string_view message) {
    if (absl::StartsWith(message, "(event_time)")) return ebb::v1::INVALID_TIME;
    if (absl::StartsWith(message, "(price)")) return ebb::v1::INVALID_PRICE;
    return ebb::v1::MALFORMED;
  }

  // False when the line's price cannot be a JSON string: no key "price"
  // followed by a string value and no \u escape (which could spell the key).
  // A cheap filter before StringPriceProblem.
  static bool MayHoldStringPrice(absl::string_view line) {
    if (line.find("\\u") != absl::string_view::npos) return true;
    for (size_t at = line.find("\"price\""); at != absl::string_view::npos;
         at = line.find("\"price\"", at + 1)) {
      size_t i = at + 7;
      while (i < line.size() && absl::ascii_isspace(line[i])) ++i;
      if (i == line.size() || line[i] != ':') continue;
      ++i;
      while (i < line.size() && absl::ascii_isspace(line[i])) ++i;
      if (i < line.size() && line[i] == '"') return true;
    }
    return false;
  }

  // The protobuf JSON mapping reads a double from a JSON string with strtod,
  // which takes forms a CSV price may not have ("0x1p4", "+5"). A price given
  // as a string must be a number as the CSV reader reads it; returns true and
  // sets *problem when it is not.
  bool StringPriceProblem(absl::string_view line, std::string* problem) {
    structure_.Clear();
    if (!google::protobuf::util::JsonStringToMessage(
             google::protobuf::StringPiece(line.data(), line.size()),
             &structure_)
             .ok()) {
      return false;
    }
    const auto it = structure_.fields().find("price");
    if (it == structure_.fields().end() || !it->second.has_string_value())
      return false;
    const std::string& text = it->second.string_value();
    double value;
    if (ParsePlainDecimal(text, &value)) return false;
    const auto [end, ec] =
        std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && end == text.data() + text.size()) return false;
    *problem =
        absl::StrCat("price \"", text, "\" ",
                     ec == std::errc::result_out_of_range ? "is out of range"
                                                          : "is not a number");
    return true;
  }

  LineReader lines_;
  bool news_;
  TimeNs last_news_time_ = 0;
  ebb::v1::PriceEvent price_;
  google::protobuf::Struct structure_;
  google::protobuf::util::JsonParseOptions options_;
};

}  // namespace

std::unique_ptr<RecordSource> NewJsonLinesSource(
    std::unique_ptr<ChunkedFile> file, bool news) {
  return std::make_unique<JsonLinesSource>(std::move(file), news);
}

}  // namespace source_internal
}  // namespace ebb
