#include "engine/validate.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ebb {

namespace {

// The bytes a symbol may hold: [A-Za-z0-9._:/^=-].
struct SymbolAlphabet {
  bool allowed[256] = {};
  constexpr SymbolAlphabet() {
    for (int c = '0'; c <= '9'; ++c) allowed[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) allowed[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) allowed[c] = true;
    for (char c : {'.', '_', ':', '/', '^', '=', '-'}) {
      allowed[static_cast<unsigned char>(c)] = true;
    }
  }
};
constexpr SymbolAlphabet kSymbolAlphabet;

}  // namespace

bool IsValidSymbol(absl::string_view symbol) {
  if (symbol.empty() || symbol.size() > kMaxSymbolBytes) return false;
  for (char c : symbol) {
    if (!kSymbolAlphabet.allowed[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

namespace {

// The length of the well-formed UTF-8 sequence at p[0, n) (n > 0), or 0 when
// p[0] does not start one.
size_t Utf8SequenceLength(const unsigned char* p, size_t n) {
  const unsigned char c = p[0];
  if (c < 0x80) return 1;
  size_t length;
  unsigned char low = 0x80, high = 0xBF;  // the range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    length = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    length = 3;
    if (c == 0xE0) low = 0xA0;   // no overlong forms
    if (c == 0xED) high = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    length = 4;
    if (c == 0xF0) low = 0x90;   // no overlong forms
    if (c == 0xF4) high = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (n < length || p[1] < low || p[1] > high) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (p[i] < 0x80 || p[i] > 0xBF) return 0;
  }
  return length;
}

}  // namespace

bool IsValidUtf8(absl::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  while (n > 0) {
    if (*p < 0x80) {
      ++p;
      --n;
      continue;
    }
    const size_t length = Utf8SequenceLength(p, n);
    if (length == 0) return false;
    p += length;
    n -= length;
  }
  return true;
}

std::string EscapeInvalidUtf8(absl::string_view text) {
  if (IsValidUtf8(text)) return std::string(text);
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() + 16);
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  while (n > 0) {
    const size_t length = Utf8SequenceLength(p, n);
    if (length == 0) {
      const char escaped[] = {'\\', 'x', kHex[*p >> 4], kHex[*p & 0xF]};
      out.append(escaped, 4);
      ++p;
      --n;
      continue;
    }
    out.append(reinterpret_cast<const char*>(p), length);
    p += length;
    n -= length;
  }
  return out;
}

ebb::v1::RejectReason EventTimeBounds::Check(TimeNs time, std::string* detail) {
  if (time < kMinEventTime) {
    *detail =
        absl::StrCat("event time ", FormatTime(time), " is before 1900-01-01");
    return ebb::v1::INVALID_TIME;
  }
  if (time > latest_allowed_) {
    const TimeNs now = clock_->NowNs();
    latest_allowed_ = now > std::numeric_limits<TimeNs>::max() - max_future_
                          ? std::numeric_limits<TimeNs>::max()
                          : now + max_future_;
    if (time > latest_allowed_) {
      *detail = absl::StrCat("event time ", FormatTime(time), " is more than ",
                             FormatDuration(max_future_), " after the clock (",
                             FormatTime(now), ")");
      return ebb::v1::INVALID_TIME;
    }
  }
  return ebb::v1::REJECT_REASON_UNSPECIFIED;
}

namespace {

std::string SymbolProblem(absl::string_view symbol) {
  if (symbol.empty()) return "symbol is empty";
  if (symbol.size() > kMaxSymbolBytes)
    return absl::StrCat("symbol is ", symbol.size(), " bytes (max 64)");
  return absl::StrCat("symbol \"", absl::CHexEscape(symbol),
                      "\" has a byte outside [A-Za-z0-9._:/^=-]");
}

}  // namespace

ebb::v1::RejectReason PriceValidator::Check(absl::string_view symbol,
                                            TimeNs time, double price,
                                            std::string* detail) {
  if (!IsValidSymbol(symbol)) {
    *detail = SymbolProblem(symbol);
    return ebb::v1::INVALID_SYMBOL;
  }
  if (!std::isfinite(price) || price <= 0) {
    *detail = absl::StrFormat("price %g: must be finite and > 0", price);
    return ebb::v1::INVALID_PRICE;
  }
  return time_bounds_.Check(time, detail);
}

ebb::v1::RejectReason NewsValidator::Check(const ebb::v1::NewsEvent& news,
                                           TimeNs* time, std::string* detail) {
  for (int i = 0; i < news.symbols_size(); ++i) {
    if (!IsValidSymbol(news.symbols(i))) {
      *detail =
          absl::StrCat("symbols[", i, "]: ", SymbolProblem(news.symbols(i)));
      return ebb::v1::INVALID_SYMBOL;
    }
  }
  if (news.has_sentiment() &&
      !(news.sentiment() >= -1 && news.sentiment() <= 1)) {
    *detail =
        absl::StrFormat("sentiment %.9g: must be in [-1, 1]", news.sentiment());
    return ebb::v1::MALFORMED;
  }
  if (!news.has_event_time()) {
    *detail = "event_time is missing";
    return ebb::v1::INVALID_TIME;
  }
  absl::StatusOr<TimeNs> t = FromTimestamp(news.event_time());
  if (!t.ok()) {
    *detail = absl::StrCat("event_time: ", t.status().message());
    return ebb::v1::INVALID_TIME;
  }
  *time = *t;
  return time_bounds_.Check(*t, detail);
}

absl::string_view RejectReasonName(ebb::v1::RejectReason reason) {
  switch (reason) {
    case ebb::v1::MALFORMED:
      return "malformed";
    case ebb::v1::INVALID_SYMBOL:
      return "invalid_symbol";
    case ebb::v1::INVALID_PRICE:
      return "invalid_price";
    case ebb::v1::INVALID_TIME:
      return "invalid_time";
    case ebb::v1::LATE:
      return "late";
    case ebb::v1::OVERSIZE:
      return "oversize";
    case ebb::v1::TRUNCATED:
      return "truncated";
    case ebb::v1::UNKNOWN_LAYOUT:
      return "unknown_layout";
    case ebb::v1::KEY_MISMATCH:
      return "key_mismatch";
    case ebb::v1::SYMBOL_LIMIT:
      return "symbol_limit";
    case ebb::v1::EMPTY_VALUE:
      return "empty_value";
    default:
      return "unspecified";
  }
}

}  // namespace ebb
