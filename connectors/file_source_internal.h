#pragma once

// What the parts of the file sources share; internal to connectors/ (the
// public API is file_source.h). OpenFileSource (file_source.cc) opens a file
// and hands it to one of the readers: csv_source.cc, jsonl_source.cc,
// binpb_source.cc. They read it through buffered_reader.h, times through
// ParseTimeText (file_time.cc), and fill records with SetError and
// SetAccepted. MergeSources is merge_source.cc.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "base/time_util.h"
#include "connectors/buffered_reader.h"
#include "connectors/file_source.h"
#include "ebb/v1/dead_letter.pb.h"

namespace ebb {
namespace source_internal {

// The longest record each format accepts; a longer one is an OVERSIZE error
// record. A file's buffer holds the longest record and a read chunk.
inline constexpr size_t kCsvMaxLine = 64 * 1024;
inline constexpr size_t kJsonMaxLine = 1024 * 1024;
inline constexpr size_t kBinaryMaxRecord = 1024 * 1024;

// The readers, one per format. `file` is positioned at the start.
// CSV: every row's symbol is `default_symbol` when the file has no symbol
// column (empty: the header must have one); `price_column` as in
// FileSourceOptions.
std::unique_ptr<RecordSource> NewCsvSource(std::unique_ptr<ChunkedFile> file,
                                           std::string default_symbol,
                                           std::string price_column);
std::unique_ptr<RecordSource> NewJsonLinesSource(
    std::unique_ptr<ChunkedFile> file, bool news);
std::unique_ptr<RecordSource> NewBinarySource(std::unique_ptr<ChunkedFile> file,
                                              bool news);

// The day number of the last date parsed from a file: time-major files repeat
// one date on thousands of consecutive rows.
struct DateCache {
  char text[10];
  int64_t days = 0;
  bool valid = false;
};

// Parses a time as ParseFileTime does. Returns nullptr on success, else a
// short explanation. `cache`, when given, remembers the last date.
const char* ParseTimeText(absl::string_view s, TimeNs* out,
                          DateCache* cache = nullptr);

// `time "<text>": <why>`, the detail of a time that does not parse.
std::string TimeError(absl::string_view text, const char* why);

// Makes *r an error record: `reason` and `detail`, its original bytes and
// offset; no time, price or event id (the symbol is left as it is).
void SetError(SourceRecord* r, ebb::v1::RejectReason reason, std::string detail,
              absl::string_view original, int64_t offset);

// The fields every accepted text record sets besides its content.
inline void SetAccepted(SourceRecord* r, absl::string_view original,
                        int64_t offset) {
  r->reason = ebb::v1::REJECT_REASON_UNSPECIFIED;
  r->detail.clear();
  r->original.assign(original.data(), original.size());
  r->offset = offset;
  r->source_index = 0;
}

}  // namespace source_internal
}  // namespace ebb
