#pragma once

// File sources for replay and backfill: CSV, JSON lines (protobuf JSON mapping)
// and length-delimited binary protobuf, for prices and news; and a merge of
// several sources in event-time order. See docs/formats.md for the layouts and
// time conventions.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/time_util.h"
#include "ebb/v1/dead_letter.pb.h"
#include "ebb/v1/events.pb.h"

namespace ebb {

enum class FileFormat { kCsv, kJsonLines, kBinaryProto };

// The path that names standard input.
inline constexpr char kStandardInput[] = "-";

struct FileSourceOptions {
  // A file, or "-" for standard input (CSV unless `format` says otherwise).
  std::string path;
  // CSV: the symbol of every row when the file has no `symbol` column. Empty:
  // the file name without directories and extension ("../BTC-USD.csv" ->
  // "BTC-USD").
  std::string symbol;
  // "csv", "jsonl" or "binpb"; empty: from the extension (.csv,
  // .jsonl/.json/.ndjson, .binpb/.pb).
  std::string format;
  // CSV price column (case-insensitive). Empty: "close", else "price".
  std::string price_column;
  // True for news files (records are NewsEvent), false for prices.
  bool news = false;
};

// One record read from a source.
class SourceRecord {
 public:
  enum class Kind {
    kPrice,  // symbol, time, price (and event_id) are set; original is the line
    kEncoded,  // original holds a serialized ebb.v1.PriceEvent (binary
               // files); when `decoded`, symbol, time, price and event_id
               // hold its fields, otherwise it is not a price with a valid
               // event time (Pipeline::OnEncodedPrice says why)
    kNews,     // news is set (parsed; Pipeline::OnNews validates it)
    kError,    // reason and detail are set; the record is rejected
  };
  // The symbol (empty when the record has none): a view into the record
  // itself (a binary price's symbol is a range of `original`, not a copy of
  // its own), valid until the record is next changed, swapped or destroyed.
  absl::string_view symbol() const {
    return symbol_in_original_
               ? absl::string_view(original.data() + symbol_offset_,
                                   symbol_size_)
               : absl::string_view(owned_symbol_);
  }
  void set_symbol(absl::string_view symbol) {
    owned_symbol_.assign(symbol.data(), symbol.size());
    symbol_in_original_ = false;
  }
  void clear_symbol() {
    owned_symbol_.clear();
    symbol_in_original_ = false;
  }
  // The symbol is original[begin, begin + size). REQUIRES: that range lies in
  // `original`, which is not changed afterwards (until the next set_symbol,
  // set_symbol_in_original or clear_symbol).
  void set_symbol_in_original(size_t begin, size_t size) {
    symbol_offset_ = static_cast<uint32_t>(begin);
    symbol_size_ = static_cast<uint32_t>(size);
    symbol_in_original_ = true;
  }
  // Exchanges every field with *other (MergeSources keeps a record per input
  // and hands them over this way).
  void Swap(SourceRecord* other);

  Kind kind = Kind::kPrice;
  TimeNs time = 0;
  double price = 0;
  std::string event_id;
  ebb::v1::NewsEvent news;
  ebb::v1::RejectReason reason = ebb::v1::REJECT_REASON_UNSPECIFIED;
  std::string detail;
  // The record's original bytes: a text line without its line ending, or a
  // binary message.
  std::string original;
  // kEncoded: the bytes decoded to a price with a valid event time.
  bool decoded = false;
  // 1-based line number (text) or byte offset of the record's length prefix
  // (binary).
  int64_t offset = 0;
  // Index of the source within a MergedSource (0 for a single source).
  uint32_t source_index = 0;

 private:
  std::string owned_symbol_;
  bool symbol_in_original_ = false;
  uint32_t symbol_offset_ = 0;
  uint32_t symbol_size_ = 0;
};

class RecordSource {
 public:
  virtual ~RecordSource() = default;

  // Reads the next record into *record (overwriting every field it uses).
  // Returns false at the end of the input. An I/O failure (not bad content) is
  // an error status naming the file.
  virtual absl::StatusOr<bool> Next(SourceRecord* record) = 0;

  // For progress lines: bytes consumed so far and the total, when known (0 if
  // not).
  virtual uint64_t bytes_read() const = 0;
  virtual uint64_t size_bytes() const = 0;
};

// Opens one file. Fails (NotFound, InvalidArgument naming the option) before
// reading any record when the file cannot be opened or the format is unknown.
// Content problems are kError records.
absl::StatusOr<std::unique_ptr<RecordSource>> OpenFileSource(
    const FileSourceOptions& options);

// Merges sources in event-time order; ties go to the lower source index, then
// file order. Error records are passed on as soon as they are read. Each
// record's source_index says which input it came from.
std::unique_ptr<RecordSource> MergeSources(
    std::vector<std::unique_ptr<RecordSource>> sources);

// Parses a time as found in files: RFC 3339 / ISO 8601 with 'T' or ' '
// ("2025-05-30 16:39:00 +00:00", "2025-11-21T00:00:00.5Z"), a date alone
// ("2025-11-21", the END of that UTC day), or epoch digits (up to 11 digits:
// seconds; 12-14: milliseconds; 15-17: microseconds; 18-19: nanoseconds).
// InvalidArgument on anything else.
absl::StatusOr<TimeNs> ParseFileTime(absl::string_view text);

}  // namespace ebb
