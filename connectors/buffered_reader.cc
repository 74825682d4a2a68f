// Buffered reading for the file sources: ChunkedFile's reads and LineReader
// (buffered_reader.h).

#include "connectors/buffered_reader.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace ebb {
namespace source_internal {
namespace {

constexpr size_t kReadChunk = 64 * 1024;

}  // namespace

ChunkedFile::~ChunkedFile() { ::close(fd_); }

absl::Status ChunkedFile::Refill() {
  if (begin_ > 0) {
    const size_t n = available();
    if (n > 0) std::memmove(buffer_.get(), buffer_.get() + begin_, n);
    begin_ = 0;
    end_ = n;
  }
  if (eof_ || end_ == capacity_) return absl::OkStatus();
  const size_t want = std::min(capacity_ - end_, kReadChunk);
  ssize_t got;
  do {
    got = ::read(fd_, buffer_.get() + end_, want);
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    return absl::DataLossError(
        absl::StrCat(path_, ": read failed: ", std::strerror(errno)));
  }
  if (got == 0) eof_ = true;
  end_ += static_cast<size_t>(got);
  return absl::OkStatus();
}

absl::StatusOr<bool> LineReader::Next(absl::string_view* line, bool* oversize) {
  if (skipping_) RETURN_IF_ERROR(SkipRestOfLine());
  size_t scanned = 0;
  for (;;) {
    const char* p = file_->data();
    const size_t n = file_->available();
    const void* nl =
        scanned < n ? std::memchr(p + scanned, '\n', n - scanned) : nullptr;
    if (nl != nullptr) {
      const size_t len = static_cast<size_t>(static_cast<const char*>(nl) - p);
      file_->Consume(len + 1);
      return Emit(p, len, line, oversize);
    }
    scanned = n;
    if (n >= limit_ + 2) {  // longer than the limit even if "\r\n" comes next
      file_->Consume(n);
      skipping_ = true;
      return Emit(p, n, line, oversize);
    }
    if (file_->eof()) {
      if (n == 0) return false;
      file_->Consume(n);
      return Emit(p, n, line, oversize);
    }
    RETURN_IF_ERROR(file_->Refill());
  }
}

bool LineReader::Emit(const char* p, size_t len, absl::string_view* line,
                      bool* oversize) {
  ++line_number_;
  if (len > 0 && p[len - 1] == '\r') --len;
  if (line_number_ == 1 && len >= 3 && std::memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
    p += 3;
    len -= 3;
  }
  *oversize = len > limit_;
  *line = absl::string_view(p, std::min(len, limit_));
  return true;
}

absl::Status LineReader::SkipRestOfLine() {
  for (;;) {
    const size_t n = file_->available();
    const void* nl = n > 0 ? std::memchr(file_->data(), '\n', n) : nullptr;
    if (nl != nullptr) {
      file_->Consume(
          static_cast<size_t>(static_cast<const char*>(nl) - file_->data()) +
          1);
      break;
    }
    file_->Consume(n);
    if (file_->eof()) break;
    RETURN_IF_ERROR(file_->Refill());
  }
  skipping_ = false;
  return absl::OkStatus();
}

}  // namespace source_internal
}  // namespace ebb
