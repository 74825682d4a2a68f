#pragma once

// The validate stage: is a price event acceptable (docs/semantics.md,
// "Instruments and events")?

#include <limits>
#include <string>

#include "absl/strings/string_view.h"
#include "ebb/v1/dead_letter.pb.h"
#include "pipeline/clock.h"
#include "pipeline/time_util.h"

namespace ebb {

inline constexpr size_t kMaxSymbolBytes = 64;
// Earliest accepted event time: 1900-01-01T00:00:00Z.
inline constexpr TimeNs kMinEventTime = -2'208'988'800LL * kNanosPerSecond;

// True for 1-64 bytes of [A-Za-z0-9._:/^=-].
bool IsValidSymbol(absl::string_view symbol);

class PriceValidator {
 public:
  // `clock` must outlive the validator. max_future >= 0.
  PriceValidator(const Clock* clock, TimeNs max_future)
      : clock_(clock), max_future_(max_future) {}

  // Returns REJECT_REASON_UNSPECIFIED when valid; otherwise the reason, with
  // *detail explaining. The clock is read only when an event lies beyond the
  // bound computed at the last reading (with a clock that moves forward the
  // bound only grows), so most events cost no clock call.
  ebb::v1::RejectReason Check(absl::string_view symbol, TimeNs time,
                              double price, std::string* detail);

 private:
  const Clock* clock_;
  TimeNs max_future_;
  TimeNs latest_allowed_ = std::numeric_limits<TimeNs>::min();
};

// snake_case name of a reason: "invalid_price".
absl::string_view RejectReasonName(ebb::v1::RejectReason reason);

}  // namespace ebb
