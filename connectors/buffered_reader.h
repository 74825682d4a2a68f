#pragma once

// Buffered reading for the file sources (internal to connectors/): a file
// read in small chunks into one buffer (ChunkedFile), and its lines
// (LineReader).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ebb {
namespace source_internal {

// A file read in chunks of kReadChunk bytes (buffered_reader.cc) into one
// buffer of up to `capacity` bytes (room for the longest record); the
// unconsumed bytes are data()[0, available()). Owns `fd` and closes it.
//
// The chunk is small on purpose. Each read() fills pages of the buffer, and
// a buffer page's first fill is a page fault (dear on a VM); a chunk that
// stays in the L2 cache until it is parsed is also cheaper to parse
// (docs/performance.md, "Reading files").
class ChunkedFile {
 public:
  ChunkedFile(int fd, std::string path, uint64_t size, size_t capacity)
      : fd_(fd),
        path_(std::move(path)),
        size_(size),
        capacity_(capacity),
        buffer_(new char[capacity]) {}
  ~ChunkedFile();
  ChunkedFile(const ChunkedFile&) = delete;
  ChunkedFile& operator=(const ChunkedFile&) = delete;

  const char* data() const { return buffer_.get() + begin_; }
  size_t available() const { return end_ - begin_; }
  bool eof() const { return eof_; }
  // Consumed bytes count as read for progress; the bytes stay valid until the
  // next Refill().
  void Consume(size_t n) {
    begin_ += n;
    consumed_ += n;
  }
  uint64_t consumed() const { return consumed_; }
  // The file's size; 0 when it is not a regular file.
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Moves the unconsumed bytes to the front and reads more (one read). Sets
  // eof() at the end. A failed read is DataLoss naming the file.
  absl::Status Refill();

 private:
  int fd_;
  std::string path_;
  uint64_t size_;
  size_t capacity_;
  std::unique_ptr<char[]> buffer_;
  size_t begin_ = 0;
  size_t end_ = 0;
  uint64_t consumed_ = 0;
  bool eof_ = false;
};

// Splits a file into lines (\n or \r\n; the last line may lack its newline;
// a UTF-8 byte order mark before the first is dropped), numbering them from
// 1. A line longer than `limit` bytes is returned cut to `limit` with
// *oversize set, and the rest of it is skipped.
class LineReader {
 public:
  LineReader(std::unique_ptr<ChunkedFile> file, size_t limit)
      : file_(std::move(file)), limit_(limit) {}

  // The next line, or false at the end of the file. The view stays valid
  // until the next call.
  absl::StatusOr<bool> Next(absl::string_view* line, bool* oversize);

  int64_t line_number() const { return line_number_; }
  const ChunkedFile& file() const { return *file_; }

 private:
  bool Emit(const char* p, size_t len, absl::string_view* line, bool* oversize);
  absl::Status SkipRestOfLine();

  std::unique_ptr<ChunkedFile> file_;
  size_t limit_;
  int64_t line_number_ = 0;
  bool skipping_ = false;
};

// True for a line of spaces and tabs only (or none).
inline bool IsBlank(absl::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t') return false;
  }
  return true;
}

}  // namespace source_internal
}  // namespace ebb
