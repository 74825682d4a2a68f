#pragma once

// The rolling window of one symbol and its metrics (docs/semantics.md, "The
// window").
//
// Entries are events (exact mode) or per-bucket summaries (bucketed mode). The
// max-drawdown summary (max, min, mdd) is folded over the window by DABA Lite
// (Tangwongsan, Hirzel and Schneider, "In-order sliding-window aggregation in
// worst-case constant time", VLDB J. 2021): O(1) combines per insert, evict and
// query in the worst case, so no event ever pays for a stack flip. A summary
// names its witnesses by ring position (4 x 32 bits) instead of copying prices
// and times, so an exact-mode entry costs 16 + 24 = 40 bytes.

#include <cstdint>
#include <optional>

#include "absl/base/attributes.h"
#include "pipeline/chunked_ring.h"
#include "pipeline/time_util.h"

namespace ebb {

// A price at an instant.
struct PricePoint {
  double price = 0;
  TimeNs time = 0;
  friend bool operator==(const PricePoint& a, const PricePoint& b) {
    return a.price == b.price && a.time == b.time;
  }
};

// What the window reports for one applied event.
struct WindowMetrics {
  PricePoint peak;          // max price in the window, latest on ties
  double drawdown = 0;      // 1 - price / peak.price
  double max_drawdown = 0;  // max over ordered pairs of 1 - later / earlier
  PricePoint mdd_peak;  // the pair realising max_drawdown (equal when it is 0)
  PricePoint mdd_trough;
  std::optional<double> change;  // price / asof(t - W) - 1
  bool full_window = false;
  uint32_t entries = 0;  // entries in the window
};

struct WindowOptions {
  TimeNs length = 30 * kNanosPerDay;
  TimeNs resolution = kNanosPerMinute;  // 0 = exact
};

class DrawdownWindow {
 public:
  // REQUIRES: options.length > 0, 0 <= options.resolution <= options.length.
  explicit DrawdownWindow(const WindowOptions& options);
  DrawdownWindow(DrawdownWindow&&) noexcept = default;
  DrawdownWindow& operator=(DrawdownWindow&&) noexcept = default;

  // Applies an event and computes its metrics into *out.
  // REQUIRES: time >= the time of the previous Add; price finite and > 0;
  // !full().
  void Add(TimeNs time, double price, WindowMetrics* out);

  // True when the window cannot take another entry (ChunkedRing::kMaxSize).
  bool full() const { return entries() + 1 >= ChunkedRing<Slot>::kMaxSize; }
  uint32_t entries() const { return exact_ ? ring_.size() : buckets_.size(); }
  size_t MemoryBytes() const {
    return ring_.MemoryBytes() + buckets_.MemoryBytes();
  }

  // Test hook: checks DABA Lite's pointer invariants; false when broken.
  bool CheckInvariants() const;

 private:
  // An entry. Exact mode uses the first two fields only (start = event time,
  // last = price). Bucketed mode summarises the bucket's events: extremes and
  // the internal max-drawdown pair.
  struct Entry {
    TimeNs start;
    double last;
  };
  struct BucketExtras {
    PricePoint max, min, pk, tr;
    double mdd;
  };
  // The (max, min, mdd) summary of a range of entries, by witness positions. pk
  // == tr means the pair inside that one entry; otherwise (max of entry pk, min
  // of entry tr).
  struct Summary {
    double mdd;  // < 0: the identity (empty range)
    uint32_t max_at, min_at, pk_at, tr_at;
  };
  struct Slot {
    Entry entry;
    Summary agg;
  };

  static constexpr Summary kIdentity = {-1.0, 0, 0, 0, 0};

  double MaxPrice(uint32_t pos) const {
    return exact_ ? ring_[pos].entry.last : buckets_[pos].x.max.price;
  }
  double MinPrice(uint32_t pos) const {
    return exact_ ? ring_[pos].entry.last : buckets_[pos].x.min.price;
  }
  PricePoint MaxPoint(uint32_t pos) const;
  PricePoint MinPoint(uint32_t pos) const;
  Summary Lift(uint32_t pos) const;
  ABSL_ATTRIBUTE_ALWAYS_INLINE Summary Combine(const Summary& a,
                                               const Summary& b) const;

  // DABA Lite over ring positions [front_, end_).
  void DabaInsert(uint32_t pos);
  void DabaEvict();
  Summary DabaQuery() const;
  void DabaStep();

  void Evict(TimeNs horizon);
  void Report(double price, const Summary& s, WindowMetrics* out) const;

  WindowOptions options_;
  bool exact_;  // options_.resolution == 0
  // Exact mode uses ring_; bucketed mode buckets_, whose slots carry the
  // bucket's extras beside its entry and summary, so each access touches one
  // slot.
  struct BucketSlot {
    Slot slot;
    BucketExtras x;
  };
  Slot& At(uint32_t pos) { return exact_ ? ring_[pos] : buckets_[pos].slot; }
  const Slot& At(uint32_t pos) const {
    return exact_ ? ring_[pos] : buckets_[pos].slot;
  }
  ChunkedRing<Slot> ring_;
  ChunkedRing<BucketSlot> buckets_;
  // Bucketed: the newest entry is open (not yet in the DABA) until open_end_.
  bool has_open_ = false;
  TimeNs open_end_ = 0;

  uint32_t front_ = 0, l_ = 0, r_ = 0, a_ = 0, b_ = 0, end_ = 0;
  Summary mid_ = kIdentity, back_ = kIdentity;
  // Bucketed: DabaQuery() of the closed buckets, valid until an insert or
  // evict.
  Summary query_cache_ = kIdentity;
  bool query_cached_ = false;

  bool evicted_any_ = false;
  double asof_price_ = 0;
};

}  // namespace ebb
