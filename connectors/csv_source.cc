// The CSV reader: a header naming the columns, then one price a row
// (docs/formats.md).

#include <algorithm>
#include <charconv>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/short_bytes.h"
#include "base/status_macros.h"
#include "connectors/decimal.h"
#include "connectors/file_source_internal.h"

namespace ebb {
namespace source_internal {
namespace {

constexpr size_t kCsvMaxField = 1024;

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
      record->set_symbol(default_symbol_);
    } else {
      record->clear_symbol();
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
      record->set_symbol(TrimSpaces(fields_[symbol_index_]));
    }
    const absl::string_view time_text = TrimSpaces(fields_[time_index_]);
    if (last_time_size_ != 0 &&
        SameBytes(time_text,
                  absl::string_view(last_time_text_, last_time_size_))) {
      record->time = last_time_;
    } else {
      const char* why = ParseTimeText(time_text, &record->time, &date_cache_);
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

}  // namespace

std::unique_ptr<RecordSource> NewCsvSource(std::unique_ptr<ChunkedFile> file,
                                           std::string default_symbol,
                                           std::string price_column) {
  return std::make_unique<CsvSource>(std::move(file), std::move(default_symbol),
                                     std::move(price_column));
}

}  // namespace source_internal
}  // namespace ebb
