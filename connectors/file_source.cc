// OpenFileSource: opens a file (or standard input), tells its format and
// hands it to the reader of that format; SourceRecord::Swap, and SetError,
// which the readers share.

#include "connectors/file_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "connectors/file_source_internal.h"

namespace ebb {

void SourceRecord::Swap(SourceRecord* other) {
  using std::swap;
  swap(kind, other->kind);
  owned_symbol_.swap(other->owned_symbol_);
  swap(symbol_in_original_, other->symbol_in_original_);
  swap(symbol_offset_, other->symbol_offset_);
  swap(symbol_size_, other->symbol_size_);
  swap(time, other->time);
  swap(price, other->price);
  event_id.swap(other->event_id);
  news.Swap(&other->news);
  swap(reason, other->reason);
  detail.swap(other->detail);
  original.swap(other->original);
  swap(decoded, other->decoded);
  swap(offset, other->offset);
  swap(source_index, other->source_index);
}

namespace source_internal {

void SetError(SourceRecord* r, ebb::v1::RejectReason reason, std::string detail,
              absl::string_view original, int64_t offset) {
  r->kind = SourceRecord::Kind::kError;
  r->time = 0;
  r->price = 0;
  r->event_id.clear();
  r->reason = reason;
  r->detail = std::move(detail);
  r->original.assign(original.data(), original.size());
  r->offset = offset;
  r->source_index = 0;
}

}  // namespace source_internal

namespace {

using source_internal::ChunkedFile;
using source_internal::kBinaryMaxRecord;
using source_internal::kCsvMaxLine;
using source_internal::kJsonMaxLine;
using source_internal::NewBinarySource;
using source_internal::NewCsvSource;
using source_internal::NewJsonLinesSource;

// The bytes a file's buffer holds besides its longest record.
constexpr size_t kChunk = 1024 * 1024;

std::string FileStem(absl::string_view path) {
  const size_t slash = path.find_last_of('/');
  if (slash != absl::string_view::npos) path.remove_prefix(slash + 1);
  const size_t dot = path.find_last_of('.');
  if (dot != absl::string_view::npos && dot > 0) path = path.substr(0, dot);
  return std::string(path);
}

absl::StatusOr<FileFormat> DetectFormat(const FileSourceOptions& options) {
  std::string name = absl::AsciiStrToLower(options.format);
  if (name.empty() && options.path == kStandardInput) name = "csv";
  const bool from_extension = name.empty();
  if (from_extension) {
    absl::string_view base = options.path;
    const size_t slash = base.find_last_of('/');
    if (slash != absl::string_view::npos) base.remove_prefix(slash + 1);
    const size_t dot = base.find_last_of('.');
    if (dot != absl::string_view::npos)
      name = absl::AsciiStrToLower(base.substr(dot + 1));
  }
  if (name == "csv") return FileFormat::kCsv;
  if (name == "jsonl" || name == "json" || name == "ndjson")
    return FileFormat::kJsonLines;
  if (name == "binpb" || name == "pb") return FileFormat::kBinaryProto;
  if (from_extension) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.path, ": unknown format (",
                     name.empty() ? std::string("no extension")
                                  : absl::StrCat("extension \".", name, "\""),
                     "); use --format csv|jsonl|binpb"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(options.path, ": unknown format \"", options.format,
                   "\"; use --format csv|jsonl|binpb"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<RecordSource>> OpenFileSource(
    const FileSourceOptions& options) {
  ASSIGN_OR_RETURN(const FileFormat format, DetectFormat(options));
  if (format == FileFormat::kCsv && options.news) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.path,
        ": news files must be jsonl or binpb (CSV holds prices only)"));
  }
  const bool standard_input = options.path == kStandardInput;
  int fd;
  do {
    fd = standard_input ? ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0)
                        : ::open(options.path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat(options.path, ": cannot open: ", std::strerror(errno)));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    ::close(fd);
    return absl::NotFoundError(
        absl::StrCat(options.path, ": not a readable file"));
  }
  const uint64_t size =
      S_ISREG(st.st_mode) ? static_cast<uint64_t>(st.st_size) : 0;
  auto file = [&](size_t max_record) {
    return std::make_unique<ChunkedFile>(fd, options.path, size,
                                         max_record + kChunk);
  };
  switch (format) {
    case FileFormat::kCsv:
      return NewCsvSource(file(kCsvMaxLine),
                          !options.symbol.empty() ? options.symbol
                          : standard_input        ? std::string()
                                                  : FileStem(options.path),
                          options.price_column);
    case FileFormat::kJsonLines:
      return NewJsonLinesSource(file(kJsonMaxLine), options.news);
    case FileFormat::kBinaryProto:
      // Room for a record's length prefix and the next one's (the resync
      // reads both).
      return NewBinarySource(file(kBinaryMaxRecord + 16), options.news);
  }
  ::close(fd);
  return absl::InternalError("unreachable");
}

}  // namespace ebb
