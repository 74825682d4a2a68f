// The binary reader: length-delimited ebb.v1.PriceEvent or NewsEvent
// messages (a varint32 length, then the message), with resynchronisation
// after a bad length prefix (docs/formats.md).

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "connectors/file_source_internal.h"
#include "engine/price_event_codec.h"
#include "engine/validate.h"

namespace ebb {
namespace source_internal {
namespace {

using ebb::v1::RejectReason;

class BinarySource : public RecordSource {
 public:
  BinarySource(std::unique_ptr<ChunkedFile> file, bool news)
      : file_(std::move(file)), news_(news) {}

  absl::StatusOr<bool> Next(SourceRecord* record) override {
    if (done_) return false;
    for (;;) {
      const size_t n = file_->available();
      if (n == 0) {
        if (file_->eof()) return false;
        RETURN_IF_ERROR(file_->Refill());
        continue;
      }
      const Prefix prefix = ReadPrefix(0);
      const int64_t offset = static_cast<int64_t>(file_->consumed());
      if (!prefix.complete) {
        if (prefix.cut_short && !file_->eof()) {
          RETURN_IF_ERROR(file_->Refill());
          continue;
        }
        if (prefix.cut_short) {
          return Fail(record, ebb::v1::TRUNCATED,
                      "length prefix cut short at the end of the file", n,
                      offset);
        }
        return Resync(record, ebb::v1::TRUNCATED, "invalid length prefix",
                      offset);
      }
      if (prefix.length > kBinaryMaxRecord) {
        return Resync(
            record, ebb::v1::OVERSIZE,
            absl::StrCat("length prefix of ", prefix.length,
                         " bytes (over the limit of ", kBinaryMaxRecord, ")"),
            offset);
      }
      if (n - prefix.bytes < prefix.length) {
        if (!file_->eof()) {
          RETURN_IF_ERROR(file_->Refill());
          continue;
        }
        return Resync(record, ebb::v1::TRUNCATED,
                      absl::StrCat("record of ", prefix.length,
                                   " bytes runs past the end of the file (",
                                   n - prefix.bytes, " bytes left)"),
                      offset);
      }
      const absl::string_view message(file_->data() + prefix.bytes,
                                      prefix.length);
      record->offset = offset;
      record->source_index = 0;
      record->reason = ebb::v1::REJECT_REASON_UNSPECIFIED;
      record->detail.clear();
      record->original.assign(message.data(), message.size());
      file_->Consume(prefix.bytes + prefix.length);
      record->clear_symbol();
      record->price = 0;
      record->event_id.clear();
      if (!news_) {
        record->kind = SourceRecord::Kind::kEncoded;
        record->time = 0;
        DecodePrice(record);
        return true;
      }
      // Pipeline::OnNews validates the item; the time only orders the merge
      // (a missing or invalid one takes the previous item's).
      const RejectReason reason =
          DecodeNewsEvent(record->original, &record->news, &record->detail);
      if (reason != ebb::v1::REJECT_REASON_UNSPECIFIED) {
        record->kind = SourceRecord::Kind::kError;
        record->reason = reason;
        record->time = 0;
        return true;
      }
      if (record->news.has_event_time()) {
        absl::StatusOr<TimeNs> time = FromTimestamp(record->news.event_time());
        if (time.ok()) last_news_time_ = *time;
      }
      record->kind = SourceRecord::Kind::kNews;
      record->time = last_news_time_;
      return true;
    }
  }

  uint64_t bytes_read() const override { return file_->consumed(); }
  uint64_t size_bytes() const override { return file_->size(); }

 private:
  // A varint32 length prefix read at data()[at].
  struct Prefix {
    bool complete = false;
    bool cut_short = false;  // the available bytes end inside it
    size_t bytes = 0;
    uint32_t length = 0;
  };
  Prefix ReadPrefix(size_t at) const {
    const auto* p = reinterpret_cast<const uint8_t*>(file_->data()) + at;
    const size_t n = file_->available() - at;
    Prefix prefix;
    for (; prefix.bytes < n && prefix.bytes < 5; ++prefix.bytes) {
      const uint8_t b = p[prefix.bytes];
      prefix.length |= static_cast<uint32_t>(b & 0x7F) << (7 * prefix.bytes);
      if ((b & 0x80) == 0) {
        prefix.complete = prefix.bytes < 4 || b <= 0x0F;
        ++prefix.bytes;
        return prefix;
      }
    }
    prefix.cut_short = prefix.bytes == n && n < 5;
    return prefix;
  }

  enum class Boundary { kYes, kNo, kNeedMore };

  // Whether a record starts at data()[at]: a length prefix, then a message
  // of the schema's fields alone with an event time (a price: canonical, as
  // PriceEventDecoder::DecodeCanonical reads it, with a valid symbol), then
  // the end of the file or another length prefix whose record fits in the
  // file. Random bytes pass this rarely; records that ebb or another
  // serializer of the current schema wrote always do.
  Boundary IsRecordStart(size_t at) {
    const size_t n = file_->available();
    const Prefix prefix = ReadPrefix(at);
    if (!prefix.complete) {
      return prefix.cut_short && !file_->eof() ? Boundary::kNeedMore
                                               : Boundary::kNo;
    }
    if (prefix.length > kBinaryMaxRecord) return Boundary::kNo;
    const size_t next = at + prefix.bytes + prefix.length;
    if (next > n) return file_->eof() ? Boundary::kNo : Boundary::kNeedMore;
    const absl::string_view message(file_->data() + at + prefix.bytes,
                                    prefix.length);
    if (news_) {
      if (!scratch_news_.ParseFromArray(message.data(),
                                        static_cast<int>(message.size())) ||
          !scratch_news_.has_event_time() ||
          !scratch_news_.GetReflection()
               ->GetUnknownFields(scratch_news_)
               .empty()) {
        return Boundary::kNo;
      }
    } else {
      DecodedPrice decoded;
      if (!PriceEventDecoder::DecodeCanonical(message, &decoded) ||
          !decoded.has_time || !IsValidSymbol(decoded.symbol)) {
        return Boundary::kNo;
      }
    }
    if (next == n) return file_->eof() ? Boundary::kYes : Boundary::kNeedMore;
    const Prefix following = ReadPrefix(next);
    if (!following.complete) {
      return following.cut_short && !file_->eof() ? Boundary::kNeedMore
                                                  : Boundary::kNo;
    }
    if (following.length > kBinaryMaxRecord) return Boundary::kNo;
    if (file_->size() == 0) return Boundary::kYes;  // not a regular file
    const uint64_t following_end =
        file_->consumed() + next + following.bytes + following.length;
    return following_end <= file_->size() ? Boundary::kYes : Boundary::kNo;
  }

  // After a bad length prefix at `offset` (the first unconsumed byte): skips
  // to the next record start (IsRecordStart) or to the end of the file, and
  // emits the skipped bytes as one error record saying how many there were
  // and where reading resumed.
  absl::StatusOr<bool> Resync(SourceRecord* record, RejectReason reason,
                              absl::string_view what, int64_t offset) {
    std::string skipped;  // the first kBinaryMaxRecord bytes skipped
    uint64_t skipped_bytes = 0;
    auto skip = [&](size_t bytes) {
      const size_t keep =
          std::min<uint64_t>(bytes, kBinaryMaxRecord - skipped.size());
      skipped.append(file_->data(), keep);
      skipped_bytes += bytes;
      file_->Consume(bytes);
    };
    size_t at = 1;
    bool found = false;
    for (;;) {
      if (at >= file_->available()) {
        if (file_->eof()) break;
        skip(at);
        at = 0;
        RETURN_IF_ERROR(file_->Refill());
        continue;
      }
      const Boundary boundary = IsRecordStart(at);
      if (boundary == Boundary::kYes) {
        found = true;
        break;
      }
      if (boundary == Boundary::kNo) {
        ++at;
        continue;
      }
      // kNeedMore: make room before the candidate, then read.
      skip(at);
      at = 0;
      RETURN_IF_ERROR(file_->Refill());
    }
    skip(std::min(at, file_->available()));
    const int64_t resumed = offset + static_cast<int64_t>(skipped_bytes);
    std::string detail =
        absl::StrCat(what, "; skipped ", skipped_bytes, " bytes");
    if (found) {
      absl::StrAppend(&detail, ", resynchronised at byte ", resumed);
    } else {
      absl::StrAppend(&detail, " to the end of the file");
      done_ = true;
    }
    if (skipped.size() < skipped_bytes) {
      absl::StrAppend(&detail, " (original holds the first ", skipped.size(),
                      ")");
    }
    record->clear_symbol();
    SetError(record, reason, std::move(detail), skipped, offset);
    return true;
  }

  // Emits an error with the next `original_bytes` bytes as original and stops
  // reading.
  bool Fail(SourceRecord* record, RejectReason reason, std::string detail,
            size_t original_bytes, int64_t offset) {
    done_ = true;
    record->clear_symbol();
    SetError(record, reason, std::move(detail),
             absl::string_view(file_->data(), original_bytes), offset);
    file_->Consume(file_->available());
    return true;
  }

  std::unique_ptr<ChunkedFile> file_;
  bool news_;
  bool done_ = false;
  TimeNs last_news_time_ = 0;
  ebb::v1::NewsEvent scratch_news_;
  PriceEventDecoder decoder_;

  // The fields of a price record from its bytes, once, when they decode to
  // a price with a valid event time (record->decoded); otherwise the
  // pipeline decodes the bytes to say why they are rejected.
  void DecodePrice(SourceRecord* record) {
    DecodedPrice decoded;
    record->decoded = false;
    if (!decoder_.Decode(record->original, &decoded) || !decoded.has_time)
      return;
    const absl::StatusOr<TimeNs> time =
        FromSecondsAndNanos(decoded.seconds, decoded.nanos);
    if (!time.ok()) return;
    // The symbol is a range of the record's own copy of the bytes (no copy of
    // its own), unless the decoder took it from a message it parsed (a
    // non-canonical encoding).
    const auto bytes = reinterpret_cast<uintptr_t>(record->original.data());
    const auto symbol = reinterpret_cast<uintptr_t>(decoded.symbol.data());
    if (symbol >= bytes &&
        symbol + decoded.symbol.size() <= bytes + record->original.size()) {
      record->set_symbol_in_original(symbol - bytes, decoded.symbol.size());
    } else {
      record->set_symbol(decoded.symbol);
    }
    record->time = *time;
    record->price = decoded.price;
    // (Cleared by Next; most feeds have no event ids, and each assign is an
    // out-of-line call.)
    if (!decoded.event_id.empty()) {
      record->event_id.assign(decoded.event_id.data(), decoded.event_id.size());
    }
    record->decoded = true;
  }
};

}  // namespace

std::unique_ptr<RecordSource> NewBinarySource(std::unique_ptr<ChunkedFile> file,
                                              bool news) {
  return std::make_unique<BinarySource>(std::move(file), news);
}

}  // namespace source_internal
}  // namespace ebb
