#pragma once

// The clock is an interface so tests can fix "now" (used to reject events from
// the future).

#include <atomic>

#include "absl/time/clock.h"
#include "base/time_util.h"

namespace ebb {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimeNs NowNs() const = 0;
};

class SystemClock : public Clock {
 public:
  TimeNs NowNs() const override { return absl::GetCurrentTimeNanos(); }
  static const SystemClock* Get() {
    static const SystemClock clock;
    return &clock;
  }
};

class FakeClock : public Clock {
 public:
  explicit FakeClock(TimeNs now) : now_(now) {}
  TimeNs NowNs() const override { return now_.load(); }
  void Set(TimeNs now) { now_.store(now); }

 private:
  std::atomic<TimeNs> now_;
};

}  // namespace ebb
