#include "pipeline/validate.h"

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

ebb::v1::RejectReason PriceValidator::Check(absl::string_view symbol,
                                            TimeNs time, double price,
                                            std::string* detail) {
  if (!IsValidSymbol(symbol)) {
    *detail = symbol.empty() ? std::string("symbol is empty")
              : symbol.size() > kMaxSymbolBytes
                  ? absl::StrCat("symbol is ", symbol.size(), " bytes (max 64)")
                  : absl::StrCat("symbol \"", absl::CHexEscape(symbol),
                                 "\" has a byte outside [A-Za-z0-9._:/^=-]");
    return ebb::v1::INVALID_SYMBOL;
  }
  if (!std::isfinite(price) || price <= 0) {
    *detail = absl::StrFormat("price %g is not finite and > 0", price);
    return ebb::v1::INVALID_PRICE;
  }
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
