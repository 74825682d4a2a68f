#pragma once

// The validate stage: is a price event or a news item acceptable
// (docs/semantics.md, "Instruments and events"; docs/formats.md, "Rejection
// reasons")? Prices and news follow one set of rules: the same symbol
// alphabet, the same event-time bounds, the same reasons.

#include <limits>
#include <string>

#include "absl/strings/string_view.h"
#include "base/clock.h"
#include "base/time_util.h"
#include "ebb/v1/dead_letter.pb.h"
#include "ebb/v1/events.pb.h"

namespace ebb {

inline constexpr size_t kMaxSymbolBytes = 64;
// Earliest accepted event time: 1900-01-01T00:00:00Z.
inline constexpr TimeNs kMinEventTime = -2'208'988'800LL * kNanosPerSecond;

// True for 1-64 bytes of [A-Za-z0-9._:/^=-].
bool IsValidSymbol(absl::string_view symbol);

// True when `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF).
bool IsValidUtf8(absl::string_view text);

// `text` with each byte that is not part of a well-formed UTF-8 sequence
// written as the four characters \xNN (two upper-case hex digits); everything
// else, backslashes included, is kept as it is. Well-formed text comes back
// unchanged. Dead letters' `symbol` and `detail` go through this: they are
// proto3 strings, which must be UTF-8; the raw bytes stay in `original`.
std::string EscapeInvalidUtf8(absl::string_view text);

// The event-time bounds shared by prices and news: not before kMinEventTime,
// not more than `max_future` after the clock.
class EventTimeBounds {
 public:
  // `clock` must outlive this. max_future >= 0.
  EventTimeBounds(const Clock* clock, TimeNs max_future)
      : clock_(clock), max_future_(max_future) {}

  // INVALID_TIME with *detail explaining, or REJECT_REASON_UNSPECIFIED. The
  // clock is read only when a time lies beyond the bound computed at the last
  // reading (with a clock that moves forward the bound only grows), so most
  // events cost no clock call.
  ebb::v1::RejectReason Check(TimeNs time, std::string* detail);

 private:
  const Clock* clock_;
  TimeNs max_future_;
  TimeNs latest_allowed_ = std::numeric_limits<TimeNs>::min();
};

class PriceValidator {
 public:
  // `clock` must outlive the validator. max_future >= 0.
  PriceValidator(const Clock* clock, TimeNs max_future)
      : time_bounds_(clock, max_future) {}

  // Returns REJECT_REASON_UNSPECIFIED when valid; otherwise the reason, with
  // *detail explaining: INVALID_SYMBOL, INVALID_PRICE (not finite and > 0),
  // INVALID_TIME (EventTimeBounds), checked in that order.
  ebb::v1::RejectReason Check(absl::string_view symbol, TimeNs time,
                              double price, std::string* detail);

 private:
  EventTimeBounds time_bounds_;
};

// A news item is valid when it has an event_time within the bounds of
// EventTimeBounds, every entry of `symbols` is a valid symbol (an item about
// no symbol is valid), and its sentiment, when set, is in [-1, 1].
class NewsValidator {
 public:
  // `clock` must outlive the validator. max_future >= 0.
  NewsValidator(const Clock* clock, TimeNs max_future)
      : time_bounds_(clock, max_future) {}

  // Returns REJECT_REASON_UNSPECIFIED and sets *time when valid; otherwise
  // the reason, with *detail explaining: INVALID_SYMBOL, MALFORMED (the
  // sentiment), INVALID_TIME (missing, out of the Timestamp range, or out of
  // EventTimeBounds), checked in that order.
  ebb::v1::RejectReason Check(const ebb::v1::NewsEvent& news, TimeNs* time,
                              std::string* detail);

 private:
  EventTimeBounds time_bounds_;
};

// snake_case name of a reason: "invalid_price".
absl::string_view RejectReasonName(ebb::v1::RejectReason reason);

}  // namespace ebb
