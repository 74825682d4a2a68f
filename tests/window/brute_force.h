#pragma once

// An independent reference implementation of the window contract
// (docs/semantics.md, "The window"), written straight from the definitions and
// deliberately slow: every metric of every event is recomputed from the full
// list of applied events. Nothing here uses the engine's code; only its result
// types (WindowMetrics, PricePoint) are shared so results can be compared field
// by field.
//
// Definitions (W = window length, R = resolution, 0 = exact; t = time of the
// event e):
//   key(x)   = time(x) in exact mode, the bucket start floor(time(x) / R) * R
//   otherwise. S(e)     = applied events x (e included) with t - W < key(x) <=
//   t. peak     = max price in S(e); its time is the latest time among events
//   with that price. drawdown = 1.0 - price(e) / peak. mdd      = max(0, max
//   over x applied before y, both in S(e), of 1.0 - price(y) / price(x)).
//   change   = price(e) / price(a) - 1.0, where a is the applied event with
//   key(a) <= t - W
//              and the greatest (key, application index); unset when there is
//              none.
//   full     = some applied event has key <= t - W.
//   entries  = |S(e)| (exact) or the number of distinct keys in S(e)
//   (bucketed).

#include <cstdint>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "window/drawdown_window.h"

namespace ebb_ref {

using ebb::PricePoint;
using ebb::WindowMetrics;

// Floor of t / r times r, for any sign of t (r > 0). Written differently from
// the engine's FloorTo on purpose: t minus its non-negative remainder.
inline int64_t RefBucketStart(int64_t t, int64_t r) {
  int64_t rem = t % r;
  if (rem < 0) rem += r;
  return t - rem;
}

struct RefEvent {
  int64_t time;
  double price;
};

// Reference metrics of one event.
struct RefMetrics {
  PricePoint peak;
  double drawdown = 0;
  double max_drawdown = 0;
  std::optional<double> change;
  bool full_window = false;
  uint32_t entries = 0;
};

inline std::string FormatDouble(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

inline std::string FormatPoint(const PricePoint& p) {
  return "(" + FormatDouble(p.price) + " @ " + std::to_string(p.time) + ")";
}

// The brute-force window of one symbol. Add() events in application order.
class BruteForce {
 public:
  // resolution 0: exact mode.
  BruteForce(int64_t length, int64_t resolution)
      : length_(length), resolution_(resolution) {}

  int64_t Key(const RefEvent& e) const {
    return resolution_ == 0 ? e.time : RefBucketStart(e.time, resolution_);
  }

  // Applies an event and returns its reference metrics.
  const RefMetrics& Add(int64_t time, double price) {
    events_.push_back({time, price});
    const int64_t horizon = time - length_;
    window_.clear();
    for (size_t i = 0; i < events_.size(); ++i) {
      const int64_t key = Key(events_[i]);
      if (key > horizon && key <= time) window_.push_back(i);
    }
    RefMetrics m;
    // peak: the max price, latest time among ties.
    bool have = false;
    for (size_t i : window_) {
      const RefEvent& x = events_[i];
      if (!have || x.price > m.peak.price ||
          (x.price == m.peak.price && x.time >= m.peak.time)) {
        m.peak = {x.price, x.time};
        have = true;
      }
    }
    m.drawdown = 1.0 - price / m.peak.price;
    m.max_drawdown = MaxDrawdownOf(window_);
    // change and full_window: the applied event with key <= horizon and the
    // greatest (key, application index).
    bool found = false;
    size_t asof = 0;
    for (size_t i = 0; i < events_.size(); ++i) {
      const int64_t key = Key(events_[i]);
      if (key > horizon) continue;
      if (!found || key >= Key(events_[asof])) {
        asof = i;
        found = true;
      }
    }
    m.full_window = found;
    if (found) m.change = price / events_[asof].price - 1.0;
    if (resolution_ == 0) {
      m.entries = static_cast<uint32_t>(window_.size());
    } else {
      std::set<int64_t> keys;
      for (size_t i : window_) keys.insert(Key(events_[i]));
      m.entries = static_cast<uint32_t>(keys.size());
    }
    last_ = m;
    return last_;
  }

  // max(0, max over i before j in `indices` of 1.0 - p_j / p_i). Literal pairs
  // for small windows; for larger ones the same maximum through a running max
  // of the earlier prices, which is bit-identical because IEEE division is
  // correctly rounded and therefore monotone: max_i (1 - p_j / p_i) = 1 - p_j /
  // max_i p_i exactly.
  double MaxDrawdownOf(const std::vector<size_t>& indices) const {
    double best = 0;
    if (indices.size() <= 96) {
      for (size_t a = 0; a < indices.size(); ++a) {
        for (size_t b = a + 1; b < indices.size(); ++b) {
          const double v =
              1.0 - events_[indices[b]].price / events_[indices[a]].price;
          if (v > best) best = v;
        }
      }
      return best;
    }
    double running_max = events_[indices[0]].price;
    for (size_t b = 1; b < indices.size(); ++b) {
      const double v = 1.0 - events_[indices[b]].price / running_max;
      if (v > best) best = v;
      if (events_[indices[b]].price > running_max)
        running_max = events_[indices[b]].price;
    }
    return best;
  }

  // Number of pairs (i before j in S) that realise the max drawdown (only when
  // it is > 0).
  int CountMaxPairs() const {
    int count = 0;
    for (size_t a = 0; a < window_.size(); ++a) {
      for (size_t b = a + 1; b < window_.size(); ++b) {
        const double v =
            1.0 - events_[window_[b]].price / events_[window_[a]].price;
        if (v == last_.max_drawdown) ++count;
      }
    }
    return count;
  }

  // Checks the engine's metrics of the event last added against the reference;
  // returns an empty string when they agree, else every mismatch.
  std::string Check(const WindowMetrics& got) const {
    const RefMetrics& want = last_;
    const RefEvent& e = events_.back();
    std::string err;
    auto fail = [&err](const std::string& what) { err += what + "; "; };
    if (!(got.peak == want.peak)) {
      fail("peak " + FormatPoint(got.peak) + " want " + FormatPoint(want.peak));
    }
    if (!(got.drawdown == want.drawdown)) {
      fail("drawdown " + FormatDouble(got.drawdown) + " want " +
           FormatDouble(want.drawdown));
    }
    if (!(got.max_drawdown == want.max_drawdown)) {
      fail("max_drawdown " + FormatDouble(got.max_drawdown) + " want " +
           FormatDouble(want.max_drawdown));
    }
    if (want.max_drawdown > 0) {
      // The pair must be two events of S(e), the peak applied before the
      // trough, realising the value exactly.
      const int pk = FirstInWindow(got.mdd_peak);
      const int tr = LastInWindow(got.mdd_trough);
      if (pk < 0 || tr < 0 || pk >= tr) {
        fail("mdd pair " + FormatPoint(got.mdd_peak) + " -> " +
             FormatPoint(got.mdd_trough) +
             " is not two events of the window in order");
      }
      if (!(1.0 - got.mdd_trough.price / got.mdd_peak.price ==
            want.max_drawdown)) {
        fail("mdd pair " + FormatPoint(got.mdd_peak) + " -> " +
             FormatPoint(got.mdd_trough) + " does not realise " +
             FormatDouble(want.max_drawdown));
      }
    } else {
      if (!(got.mdd_peak == got.mdd_trough)) {
        fail("max_drawdown is 0 but the pair differs: " +
             FormatPoint(got.mdd_peak) + " -> " + FormatPoint(got.mdd_trough));
      }
      if (FirstInWindow(got.mdd_peak) < 0) {
        fail("mdd_peak " + FormatPoint(got.mdd_peak) +
             " is not an event of the window");
      }
    }
    if (got.change.has_value() != want.change.has_value()) {
      fail(std::string("change ") + (got.change ? "set" : "unset") + " want " +
           (want.change ? "set" : "unset"));
    } else if (got.change.has_value() && !(*got.change == *want.change)) {
      fail("change " + FormatDouble(*got.change) + " want " +
           FormatDouble(*want.change));
    }
    if (got.full_window != want.full_window) {
      fail(std::string("full_window ") + (got.full_window ? "true" : "false"));
    }
    if (got.entries != want.entries) {
      fail("entries " + std::to_string(got.entries) + " want " +
           std::to_string(want.entries));
    }
    if (err.empty()) return err;
    return "event #" + std::to_string(events_.size() - 1) + " " +
           FormatPoint({e.price, e.time}) + ": " + err;
  }

  const std::vector<RefEvent>& events() const { return events_; }
  const RefMetrics& last() const { return last_; }
  // Application indices of S(e) for the event last added.
  const std::vector<size_t>& window() const { return window_; }

 private:
  // Position in window_ of the first / last event equal to p, or -1.
  int FirstInWindow(const PricePoint& p) const {
    for (size_t k = 0; k < window_.size(); ++k) {
      const RefEvent& x = events_[window_[k]];
      if (x.price == p.price && x.time == p.time) return static_cast<int>(k);
    }
    return -1;
  }
  int LastInWindow(const PricePoint& p) const {
    for (size_t k = window_.size(); k-- > 0;) {
      const RefEvent& x = events_[window_[k]];
      if (x.price == p.price && x.time == p.time) return static_cast<int>(k);
    }
    return -1;
  }

  int64_t length_;
  int64_t resolution_;
  std::vector<RefEvent> events_;
  std::vector<size_t> window_;
  RefMetrics last_;
};

}  // namespace ebb_ref
