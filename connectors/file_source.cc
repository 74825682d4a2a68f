#include "connectors/file_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>
#include <limits>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/short_bytes.h"
#include "base/status_macros.h"
#include "connectors/decimal.h"
#include "engine/price_event_codec.h"
#include "engine/validate.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace ebb {
namespace {

using ebb::v1::RejectReason;

constexpr size_t kCsvMaxLine = 64 * 1024;
constexpr size_t kCsvMaxField = 1024;
constexpr size_t kJsonMaxLine = 1024 * 1024;
constexpr size_t kBinaryMaxRecord = 1024 * 1024;
constexpr size_t kChunk = 1024 * 1024;
constexpr size_t kReadChunk = 64 * 1024;

// -----------------------------------------------------------------------------
// Time parsing.

constexpr int64_t kMaxSeconds =
    std::numeric_limits<TimeNs>::max() / kNanosPerSecond;
constexpr int64_t kMinSeconds =
    std::numeric_limits<TimeNs>::min() / kNanosPerSecond;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the block scans take the lowest byte as the first");

// Where the commas and quotes are in a block of kScanBytes bytes, as masks
// with kBitsPerByte bits per byte, the first byte's lowest. With SSE2 (every
// x86-64): 16 bytes a step, one bit per byte. Elsewhere: a 64-bit word, 8
// bytes a step, each byte's high bit.
struct CommasAndQuotes {
  uint64_t commas, quotes;
};
#if defined(__SSE2__)
constexpr size_t kScanBytes = 16;
constexpr int kBitsPerByte = 1;
CommasAndQuotes ScanBlock(const char* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return {static_cast<uint64_t>(static_cast<uint32_t>(
              _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(','))))),
          static_cast<uint64_t>(static_cast<uint32_t>(
              _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')))))};
}
// The mask of the first `bytes` bytes of a block (bytes < kScanBytes).
uint64_t FirstBytes(size_t bytes) { return (uint64_t{1} << bytes) - 1; }
#else
constexpr size_t kScanBytes = 8;
constexpr int kBitsPerByte = 8;
constexpr uint64_t kEachByte = 0x0101010101010101ULL;
uint64_t Load64(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}
// The high bit of each byte of `w` that is zero, and no other bit.
uint64_t ZeroBytes(uint64_t w) {
  constexpr uint64_t kLow7 = 0x7F7F7F7F7F7F7F7FULL;
  return ~(((w & kLow7) + kLow7) | w | kLow7);
}
CommasAndQuotes ScanBlock(const char* p) {
  const uint64_t w = Load64(p);
  return {ZeroBytes(w ^ (kEachByte * ',')), ZeroBytes(w ^ (kEachByte * '"'))};
}
uint64_t FirstBytes(size_t bytes) { return (uint64_t{1} << (8 * bytes)) - 1; }
#endif

// Reads `n` digits at s[pos]; false if any is not a digit.
bool Digits(absl::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!IsDigit(s[i])) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

bool IsLeapYear(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int DaysInMonth(int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  return (m == 2 && IsLeapYear(y)) ? 29 : kDays[m - 1];
}

// Howard Hinnant's days_from_civil: days since 1970-01-01 of a proleptic
// Gregorian date.
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;  // [0, 399]
  const int64_t doy =
      (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;        // [0, 365]
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;  // [0, 146096]
  return era * 146097 + doe - 719468;
}

// seconds * 1e9 + nanos, or nullptr-free failure when out of the TimeNs range.
const char* CombineTime(int64_t seconds, int64_t nanos, TimeNs* out) {
  if (seconds > kMaxSeconds || seconds < kMinSeconds - 1) return "out of range";
  TimeNs t;
  if (__builtin_mul_overflow(seconds, kNanosPerSecond, &t) ||
      __builtin_add_overflow(t, nanos, &t)) {
    return "out of range";
  }
  *out = t;
  return nullptr;
}

// Parses epoch digits (with an optional '-' for seconds). Returns nullptr or
// why it failed.
const char* ParseEpoch(absl::string_view s, TimeNs* out) {
  const bool negative = s[0] == '-';
  if (negative) s.remove_prefix(1);
  const size_t n = s.size();
  if (n > 19) return "too many digits for an epoch time";
  if (negative && n > 11) return "a negative epoch time must be in seconds";
  uint64_t v = 0;
  for (char c : s) v = v * 10 + static_cast<uint64_t>(c - '0');
  uint64_t scale = n <= 11   ? 1'000'000'000
                   : n <= 14 ? 1'000'000
                   : n <= 17 ? 1'000
                             : 1;
  if (v > static_cast<uint64_t>(std::numeric_limits<TimeNs>::max()) / scale) {
    return "out of range";
  }
  const TimeNs t = static_cast<TimeNs>(v * scale);
  *out = negative ? -t : t;
  return nullptr;
}

// Returns nullptr on success, else a short explanation.
// The day number of the last date parsed from a file: time-major files repeat
// one date on thousands of consecutive rows.
struct DateCache {
  char text[10];
  int64_t days = 0;
  bool valid = false;
};

const char* ParseTimeImpl(absl::string_view s, TimeNs* out,
                          DateCache* cache = nullptr) {
  s = absl::StripAsciiWhitespace(s);
  if (s.empty()) return "empty";
  const bool date_like = s.size() >= 10 && s[4] == '-';
  if (!date_like) {
    const size_t first = s[0] == '-' ? 1 : 0;
    if (s.size() > first) {
      bool all_digits = true;
      for (size_t i = first; i < s.size(); ++i) {
        if (!IsDigit(s[i])) {
          all_digits = false;
          break;
        }
      }
      if (all_digits) return ParseEpoch(s, out);
    }
  }
  int64_t days;
  if (cache != nullptr && cache->valid &&
      SameBytes(absl::string_view(cache->text, 10), s.substr(0, 10))) {
    days = cache->days;  // the same text was validated before
  } else {
    int year, month, day;
    if (s.size() < 10 || !Digits(s, 0, 4, &year) || s[4] != '-' ||
        !Digits(s, 5, 2, &month) || s[7] != '-' || !Digits(s, 8, 2, &day)) {
      return "expected YYYY-MM-DD[THH:MM[:SS[.frac]][Z|+HH:MM]] or epoch "
             "digits";
    }
    if (month < 1 || month > 12) return "month out of range";
    if (day < 1 || day > DaysInMonth(year, month)) return "day out of range";
    days = DaysFromCivil(year, month, day);
    if (cache != nullptr) {
      std::memcpy(cache->text, s.data(), 10);
      cache->days = days;
      cache->valid = true;
    }
  }
  // A date alone is the end of that UTC day.
  if (s.size() == 10) return CombineTime((days + 1) * 86400, 0, out);

  if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
    return "expected 'T' or ' ' after the date";
  int hour, minute, second = 0;
  if (!Digits(s, 11, 2, &hour) || s.size() < 14 || s[13] != ':' ||
      !Digits(s, 14, 2, &minute)) {
    return "expected HH:MM after the date";
  }
  size_t pos = 16;
  if (pos < s.size() && s[pos] == ':') {
    if (!Digits(s, pos + 1, 2, &second))
      return "expected two digits of seconds";
    pos += 3;
  }
  int64_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t digits = 0;
    while (pos < s.size() && IsDigit(s[pos])) {
      if (++digits > 9) return "more than 9 fractional digits";
      nanos = nanos * 10 + (s[pos] - '0');
      ++pos;
    }
    if (digits == 0) return "expected digits after '.'";
    for (size_t i = digits; i < 9; ++i) nanos *= 10;
  }
  if (hour > 23) return "hour out of range";
  if (minute > 59) return "minute out of range";
  if (second > 59) return "second out of range";
  int64_t offset = 0;
  if (pos < s.size() && s[pos] == ' ') ++pos;  // "16:39:00 +00:00"
  if (pos < s.size()) {
    const char c = s[pos];
    if (c == 'Z' || c == 'z') {
      ++pos;
    } else if (c == '+' || c == '-') {
      int oh, om = 0;
      if (!Digits(s, pos + 1, 2, &oh)) return "expected a UTC offset +HH:MM";
      pos += 3;
      if (pos < s.size() && s[pos] == ':') {
        if (!Digits(s, pos + 1, 2, &om)) return "expected a UTC offset +HH:MM";
        pos += 3;
      } else if (pos < s.size()) {
        if (!Digits(s, pos, 2, &om)) return "expected a UTC offset +HH:MM";
        pos += 2;
      }
      if (oh > 23 || om > 59) return "UTC offset out of range";
      offset = (c == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    } else {
      return "expected Z or a UTC offset after the time";
    }
    if (pos != s.size()) return "unexpected characters after the time";
  }
  const int64_t seconds =
      days * 86400 + hour * 3600 + minute * 60 + second - offset;
  return CombineTime(seconds, nanos, out);
}

std::string TimeError(absl::string_view text, const char* why) {
  return absl::StrCat("time \"", text, "\": ", why);
}

// -----------------------------------------------------------------------------
// Buffered file reading.

// A file read in chunks of kReadChunk bytes into one buffer of up to
// `capacity` bytes (room for the longest record); the unconsumed bytes are
// data()[0, available()).
//
// The chunk is small on purpose. Each read() fills pages of the buffer, and
// a buffer page's first fill is a page fault (dear on a VM); a chunk that
// stays in the L2 cache until it is parsed is also cheaper to parse. With
// 1 MiB reads (the buffer filled to its capacity each time), a replay of one
// 43,200-row minute file ran at 3.6 M rows/s, at 6.3 with 64 KiB reads.
class ChunkedFile {
 public:
  ChunkedFile(int fd, std::string path, uint64_t size, size_t capacity)
      : fd_(fd),
        path_(std::move(path)),
        size_(size),
        capacity_(capacity),
        buffer_(new char[capacity]) {}
  ~ChunkedFile() { ::close(fd_); }
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
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Moves the unconsumed bytes to the front and reads more (one read). Sets
  // eof() at the end.
  absl::Status Refill() {
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

// Splits a file into lines (\n or \r\n; the last line may lack its newline),
// numbering them from
// 1. A line longer than `limit` bytes is returned cut to `limit` with *oversize
// set, and the rest of it is skipped.
class LineReader {
 public:
  LineReader(std::unique_ptr<ChunkedFile> file, size_t limit)
      : file_(std::move(file)), limit_(limit) {}

  // The view stays valid until the next call.
  absl::StatusOr<bool> Next(absl::string_view* line, bool* oversize) {
    if (skipping_) RETURN_IF_ERROR(SkipRestOfLine());
    size_t scanned = 0;
    for (;;) {
      const char* p = file_->data();
      const size_t n = file_->available();
      const void* nl =
          scanned < n ? std::memchr(p + scanned, '\n', n - scanned) : nullptr;
      if (nl != nullptr) {
        const size_t len =
            static_cast<size_t>(static_cast<const char*>(nl) - p);
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

  int64_t line_number() const { return line_number_; }
  const ChunkedFile& file() const { return *file_; }

 private:
  bool Emit(const char* p, size_t len, absl::string_view* line,
            bool* oversize) {
    ++line_number_;
    if (len > 0 && p[len - 1] == '\r') --len;
    if (line_number_ == 1 && len >= 3 &&
        std::memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
      p += 3;
      len -= 3;
    }
    *oversize = len > limit_;
    *line = absl::string_view(p, std::min(len, limit_));
    return true;
  }

  absl::Status SkipRestOfLine() {
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

  std::unique_ptr<ChunkedFile> file_;
  size_t limit_;
  int64_t line_number_ = 0;
  bool skipping_ = false;
};

bool IsBlank(absl::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t') return false;
  }
  return true;
}

inline bool IsSpaceOrTab(char c) { return c == ' ' || c == '\t'; }

inline absl::string_view TrimSpaces(absl::string_view s) {
  if (s.empty() || (!IsSpaceOrTab(s.front()) && !IsSpaceOrTab(s.back())))
    return s;
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

void SetError(SourceRecord* r, RejectReason reason, std::string detail,
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

// The fields every accepted text record sets besides its content.
void SetAccepted(SourceRecord* r, absl::string_view original, int64_t offset) {
  r->reason = ebb::v1::REJECT_REASON_UNSPECIFIED;
  r->detail.clear();
  r->original.assign(original.data(), original.size());
  r->offset = offset;
  r->source_index = 0;
}

// -----------------------------------------------------------------------------
// CSV.

class CsvSource : public RecordSource {
 public:
  CsvSource(std::unique_ptr<ChunkedFile> file, std::string default_symbol,
            std::string price_column)
      : lines_(std::move(file), kCsvMaxLine),
        default_symbol_(std::move(default_symbol)),
        price_column_(absl::AsciiStrToLower(TrimSpaces(price_column))) {}

  absl::StatusOr<bool> Next(SourceRecord* record) override {
    if (done_) return false;
    absl::string_view line;
    bool oversize;
    for (;;) {
      ASSIGN_OR_RETURN(bool more, lines_.Next(&line, &oversize));
      if (!more) {
        done_ = true;
        return false;
      }
      if (!IsBlank(line)) break;
    }
    const int64_t number = lines_.line_number();
    if (symbol_index_ < 0) {
      record->symbol.assign(default_symbol_);
    } else {
      record->symbol.clear();
    }
    if (oversize) {
      if (!have_header_) done_ = true;
      SetError(record, ebb::v1::OVERSIZE,
               absl::StrCat("line ", number, " is longer than ", kCsvMaxLine,
                            " bytes"),
               line, number);
      return true;
    }
    if (!have_header_) return ReadHeader(line, number, record);
    const char* split_error = Split(line);
    if (split_error != nullptr) {
      if (split_error == kFieldTooLong) {
        SetError(record, ebb::v1::OVERSIZE,
                 absl::StrCat("field ", long_field_ + 1, " is longer than ",
                              kCsvMaxField, " bytes"),
                 line, number);
      } else {
        SetError(record, ebb::v1::MALFORMED, split_error, line, number);
      }
      return true;
    }
    if (field_count_ != header_.size()) {
      SetError(record, ebb::v1::MALFORMED,
               absl::StrCat("expected ", header_.size(), " fields, found ",
                            field_count_),
               line, number);
      return true;
    }
    if (symbol_index_ >= 0) {
      const absl::string_view symbol = TrimSpaces(fields_[symbol_index_]);
      record->symbol.assign(symbol.data(), symbol.size());
    }
    const absl::string_view time_text = TrimSpaces(fields_[time_index_]);
    if (last_time_size_ != 0 &&
        SameBytes(time_text,
                  absl::string_view(last_time_text_, last_time_size_))) {
      record->time = last_time_;
    } else {
      const char* why = ParseTimeImpl(time_text, &record->time, &date_cache_);
      if (why != nullptr) {
        SetError(record, ebb::v1::INVALID_TIME, TimeError(time_text, why), line,
                 number);
        return true;
      }
      if (!time_text.empty() && time_text.size() <= sizeof last_time_text_) {
        std::memcpy(last_time_text_, time_text.data(), time_text.size());
        last_time_size_ = time_text.size();
        last_time_ = record->time;
      }
    }
    const absl::string_view price_text = TrimSpaces(fields_[price_index_]);
    double price = 0;
    if (!ParsePlainDecimal(price_text, &price)) {
      const auto [end, ec] = std::from_chars(
          price_text.data(), price_text.data() + price_text.size(), price);
      if (ec != std::errc() || end != price_text.data() + price_text.size()) {
        SetError(record, ebb::v1::INVALID_PRICE,
                 absl::StrCat("price \"", price_text, "\" ",
                              ec == std::errc::result_out_of_range
                                  ? "is out of range"
                                  : "is not a number"),
                 line, number);
        return true;
      }
    }
    record->kind = SourceRecord::Kind::kPrice;
    record->price = price;
    if (event_id_index_ >= 0) {
      const absl::string_view id = TrimSpaces(fields_[event_id_index_]);
      record->event_id.assign(id.data(), id.size());
    } else {
      record->event_id.clear();
    }
    SetAccepted(record, line, number);
    return true;
  }

  uint64_t bytes_read() const override { return lines_.file().consumed(); }
  uint64_t size_bytes() const override { return lines_.file().size(); }

 private:
  DateCache date_cache_;
  // The last time text parsed (1 to 64 bytes) and its value: a time-major file
  // repeats one timestamp on consecutive rows, one per symbol. A size of 0
  // matches nothing.
  char last_time_text_[64];
  size_t last_time_size_ = 0;
  TimeNs last_time_ = 0;
  static constexpr const char* kFieldTooLong = "field too long";

  absl::StatusOr<bool> ReadHeader(absl::string_view line, int64_t number,
                                  SourceRecord* record) {
    have_header_ = true;
    const char* split_error = Split(line);
    if (split_error == nullptr) {
      for (size_t i = 0; i < field_count_; ++i)
        header_.push_back(absl::AsciiStrToLower(TrimSpaces(fields_[i])));
    }
    auto find = [&](absl::string_view name) -> int {
      for (size_t i = 0; i < header_.size(); ++i) {
        if (header_[i] == name) return static_cast<int>(i);
      }
      return -1;
    };
    for (absl::string_view name :
         {"date", "timestamp", "time", "datetime", "open_time"}) {
      time_index_ = find(name);
      if (time_index_ >= 0) break;
    }
    if (!price_column_.empty()) {
      price_index_ = find(price_column_);
    } else {
      price_index_ = find("close");
      if (price_index_ < 0) price_index_ = find("price");
    }
    symbol_index_ = find("symbol");
    event_id_index_ = find("event_id");
    std::string problem;
    if (split_error != nullptr) {
      problem = absl::StrCat("unreadable header (", split_error, ")");
    } else if (time_index_ < 0) {
      problem = "no time column (date, timestamp, time, datetime or open_time)";
    } else if (price_index_ < 0) {
      problem = price_column_.empty()
                    ? std::string("no price column (close or price)")
                    : absl::StrCat("no price column \"", price_column_, "\"");
    } else if (symbol_index_ < 0 && default_symbol_.empty()) {
      problem =
          "no symbol column, and standard input has no file name to take the "
          "symbol from (give it: --prices SYMBOL=-)";
    }
    if (problem.empty()) return Next(record);
    done_ = true;
    SetError(record, ebb::v1::UNKNOWN_LAYOUT,
             absl::StrCat(problem, " in header [", absl::StrJoin(header_, ", "),
                          "]; the file is skipped"),
             line, number);
    return true;
  }

  // Splits `line` into fields_[0, field_count_). Returns nullptr,
  // kFieldTooLong (long_field_ set) or why the quoting is broken.
  const char* Split(absl::string_view line) {
    field_count_ = 0;
    const char* p = line.data();
    const char* const end = p + line.size();
    // An unquoted line (the usual case) in one pass: lines are short, and a
    // block at a time (ScanBlock) costs less than a memchr call per field.
    // The last block overlaps the one before; its bytes already seen are
    // masked off. A quote anywhere sends the whole line to the quoting split
    // below.
    const char* field = p;
    const char* at = p;
    bool quoted = false;
    if (line.size() >= kScanBytes) {
      uint64_t seen = 0;  // the last block: its bytes before `at`
      while (at < end) {
        if (static_cast<size_t>(end - at) < kScanBytes) {
          seen = FirstBytes(kScanBytes - static_cast<size_t>(end - at));
          at = end - kScanBytes;
        }
        const CommasAndQuotes found = ScanBlock(at);
        if ((found.quotes & ~seen) != 0) {
          quoted = true;
          break;
        }
        for (uint64_t commas = found.commas & ~seen; commas != 0;
             commas &= commas - 1) {
          const char* comma = at + __builtin_ctzll(commas) / kBitsPerByte;
          PutField(field, comma);
          field = comma + 1;
        }
        at += kScanBytes;
      }
    } else {
      for (; at < end; ++at) {
        if (*at == '"') {
          quoted = true;
          break;
        }
        if (*at == ',') {
          PutField(field, at);
          field = at + 1;
        }
      }
    }
    if (!quoted) {
      PutField(field, end);
    } else {
      field_count_ = 0;
      size_t scratch_used = 0;
      for (;;) {
        const char* q = p;
        while (q < end && (*q == ' ' || *q == '\t')) ++q;
        if (q < end && *q == '"') {
          ++q;
          const char* start = q;
          bool escaped = false;
          for (;;) {
            q = static_cast<const char*>(std::memchr(q, '"', end - q));
            if (q == nullptr) return "unterminated quoted field";
            if (q + 1 < end && q[1] == '"') {
              escaped = true;
              q += 2;
              continue;
            }
            break;
          }
          absl::string_view value(start, static_cast<size_t>(q - start));
          if (escaped) {
            if (scratch_used == scratch_.size()) scratch_.emplace_back();
            std::string& s = scratch_[scratch_used++];
            s.clear();
            for (size_t i = 0; i < value.size(); ++i) {
              s.push_back(value[i]);
              if (value[i] == '"') ++i;  // "" -> "
            }
            value = s;
          }
          ++q;
          while (q < end && (*q == ' ' || *q == '\t')) ++q;
          if (q < end && *q != ',')
            return "unexpected character after a closing quote";
          PutField(value.data(), value.data() + value.size());
          if (q == end) break;
          p = q + 1;
        } else {
          const char* comma =
              static_cast<const char*>(std::memchr(p, ',', end - p));
          const char* field_end = comma != nullptr ? comma : end;
          PutField(p, field_end);
          if (comma == nullptr) break;
          p = comma + 1;
        }
      }
    }
    if (line.size() <= kCsvMaxField) return nullptr;
    for (size_t i = 0; i < field_count_; ++i) {
      if (fields_[i].size() > kCsvMaxField) {
        long_field_ = i;
        return kFieldTooLong;
      }
    }
    return nullptr;
  }

  // Appends [begin, end) to the fields; fields_ only grows (no per-line
  // clear and push_back).
  void PutField(const char* begin, const char* end) {
    if (field_count_ == fields_.size())
      fields_.resize(std::max<size_t>(16, 2 * fields_.size()));
    fields_[field_count_++] =
        absl::string_view(begin, static_cast<size_t>(end - begin));
  }

  LineReader lines_;
  std::string default_symbol_;
  std::string price_column_;
  bool have_header_ = false;
  bool done_ = false;
  std::vector<std::string> header_;
  int time_index_ = -1;
  int price_index_ = -1;
  int symbol_index_ = -1;
  int event_id_index_ = -1;
  std::vector<absl::string_view> fields_;
  size_t field_count_ = 0;
  std::deque<std::string>
      scratch_;  // unescaped quoted fields; a deque keeps views valid
  size_t long_field_ = 0;
};

// -----------------------------------------------------------------------------
// JSON lines.

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
    record->symbol.clear();
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
    record->symbol.assign(price_.symbol());
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

// -----------------------------------------------------------------------------
// Length-delimited binary protobuf.

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
      record->symbol.clear();
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
    record->symbol.clear();
    SetError(record, reason, std::move(detail), skipped, offset);
    return true;
  }

  // Emits an error with the next `original_bytes` bytes as original and stops
  // reading.
  bool Fail(SourceRecord* record, RejectReason reason, std::string detail,
            size_t original_bytes, int64_t offset) {
    done_ = true;
    record->symbol.clear();
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
    record->symbol.assign(decoded.symbol.data(), decoded.symbol.size());
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

// -----------------------------------------------------------------------------
// Merge.

void SwapRecords(SourceRecord* a, SourceRecord* b) {
  std::swap(a->kind, b->kind);
  a->symbol.swap(b->symbol);
  std::swap(a->time, b->time);
  std::swap(a->price, b->price);
  a->event_id.swap(b->event_id);
  a->news.Swap(&b->news);
  std::swap(a->reason, b->reason);
  a->detail.swap(b->detail);
  a->original.swap(b->original);
  std::swap(a->decoded, b->decoded);
  std::swap(a->offset, b->offset);
  std::swap(a->source_index, b->source_index);
}

class SingleSource : public RecordSource {
 public:
  explicit SingleSource(std::unique_ptr<RecordSource> source)
      : source_(std::move(source)) {}
  absl::StatusOr<bool> Next(SourceRecord* record) override {
    absl::StatusOr<bool> more = source_->Next(record);
    record->source_index = 0;
    return more;
  }
  uint64_t bytes_read() const override { return source_->bytes_read(); }
  uint64_t size_bytes() const override { return source_->size_bytes(); }

 private:
  std::unique_ptr<RecordSource> source_;
};

class MergedSource : public RecordSource {
 public:
  explicit MergedSource(std::vector<std::unique_ptr<RecordSource>> sources)
      : sources_(std::move(sources)),
        slots_(sources_.size()),
        last_time_(sources_.size(), std::numeric_limits<TimeNs>::min()) {
    heap_.reserve(sources_.size());
  }

  absl::StatusOr<bool> Next(SourceRecord* record) override {
    // Fill the lookahead of every source (at the start), or of the one last
    // emitted.
    while (started_ < sources_.size()) {
      ASSIGN_OR_RETURN(bool error,
                       Refill(static_cast<uint32_t>(started_), record));
      if (error) return true;
      ++started_;
    }
    if (pending_ >= 0) {
      ASSIGN_OR_RETURN(bool error,
                       Refill(static_cast<uint32_t>(pending_), record));
      if (error) return true;
      pending_ = -1;
    }
    if (heap_.empty()) return false;
    std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
    const uint32_t index = heap_.back().second;
    heap_.pop_back();
    SwapRecords(&slots_[index], record);
    record->source_index = index;
    pending_ = static_cast<int64_t>(index);
    return true;
  }

  uint64_t bytes_read() const override {
    uint64_t total = 0;
    for (const auto& s : sources_) total += s->bytes_read();
    return total;
  }
  uint64_t size_bytes() const override {
    uint64_t total = 0;
    for (const auto& s : sources_) total += s->size_bytes();
    return total;
  }

 private:
  // Reads the next record of source `i` into its slot and onto the heap. An
  // error record goes straight to *out instead: returns true then.
  absl::StatusOr<bool> Refill(uint32_t i, SourceRecord* out) {
    SourceRecord& slot = slots_[i];
    ASSIGN_OR_RETURN(bool more, sources_[i]->Next(&slot));
    if (!more) return false;
    if (slot.kind == SourceRecord::Kind::kError) {
      SwapRecords(&slot, out);
      out->source_index = i;
      return true;
    }
    if (slot.kind == SourceRecord::Kind::kEncoded && !slot.decoded) {
      // No valid time (the pipeline rejects the record): the previous one's.
      slot.time = last_time_[i];
    }
    last_time_[i] = slot.time;
    heap_.emplace_back(slot.time, i);
    std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
    return false;
  }

  std::vector<std::unique_ptr<RecordSource>> sources_;
  std::vector<SourceRecord> slots_;
  std::vector<TimeNs> last_time_;
  std::vector<std::pair<TimeNs, uint32_t>>
      heap_;  // min-heap on (time, source index)
  size_t started_ = 0;
  int64_t pending_ = -1;
};

class EmptySource : public RecordSource {
 public:
  absl::StatusOr<bool> Next(SourceRecord*) override { return false; }
  uint64_t bytes_read() const override { return 0; }
  uint64_t size_bytes() const override { return 0; }
};

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

absl::StatusOr<TimeNs> ParseFileTime(absl::string_view text) {
  TimeNs t = 0;
  const char* why = ParseTimeImpl(text, &t);
  if (why != nullptr) return absl::InvalidArgumentError(TimeError(text, why));
  return t;
}

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
  switch (format) {
    case FileFormat::kCsv:
      return std::unique_ptr<RecordSource>(
          new CsvSource(std::make_unique<ChunkedFile>(fd, options.path, size,
                                                      kCsvMaxLine + kChunk),
                        !options.symbol.empty() ? options.symbol
                        : standard_input        ? std::string()
                                                : FileStem(options.path),
                        options.price_column));
    case FileFormat::kJsonLines:
      return std::unique_ptr<RecordSource>(new JsonLinesSource(
          std::make_unique<ChunkedFile>(fd, options.path, size,
                                        kJsonMaxLine + kChunk),
          options.news));
    case FileFormat::kBinaryProto:
      return std::unique_ptr<RecordSource>(new BinarySource(
          std::make_unique<ChunkedFile>(fd, options.path, size,
                                        kBinaryMaxRecord + 16 + kChunk),
          options.news));
  }
  ::close(fd);
  return absl::InternalError("unreachable");
}

std::unique_ptr<RecordSource> MergeSources(
    std::vector<std::unique_ptr<RecordSource>> sources) {
  if (sources.empty()) return std::make_unique<EmptySource>();
  if (sources.size() == 1)
    return std::make_unique<SingleSource>(std::move(sources[0]));
  return std::make_unique<MergedSource>(std::move(sources));
}

}  // namespace ebb
