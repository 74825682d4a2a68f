#include "window/drawdown_window.h"

#include <cstring>

#include "absl/base/optimization.h"

namespace ebb {

namespace window_internal {

template <bool kExact>
PricePoint WindowCore<kExact>::MaxPoint(uint32_t pos) const {
  if constexpr (kExact) {
    return {ring_[pos].last, ring_[pos].start};
  } else {
    return pos == newest() ? open_.max : ring_.cold(pos).max;
  }
}

template <bool kExact>
PricePoint WindowCore<kExact>::MinPoint(uint32_t pos) const {
  if constexpr (kExact) {
    return {ring_[pos].last, ring_[pos].start};
  } else {
    return pos == newest() ? open_.min : ring_.cold(pos).min;
  }
}

// combine(a, b) = (max(a.max, b.max), min(a.min, b.min), max(a.mdd, b.mdd, 1 -
// b.min / a.max)), where a precedes b. Ties go to the later witness: the latest
// peak, the latest trough.
template <bool kExact>
inline HotSummary WindowCore<kExact>::Combine(const HotSummary& a,
                                              const HotSummary& b) {
  if (a.s.mdd < 0) return b;
  if (b.s.mdd < 0) return a;
  HotSummary out;
  if (b.max >= a.max) {
    out.s.max_at = b.s.max_at;
    out.max = b.max;
  } else {
    out.s.max_at = a.s.max_at;
    out.max = a.max;
  }
  if (b.min <= a.min) {
    out.s.min_at = b.s.min_at;
    out.min = b.min;
  } else {
    out.s.min_at = a.s.min_at;
    out.min = a.min;
  }
  out.s.mdd = a.s.mdd;
  out.s.pk_at = a.s.pk_at;
  out.s.tr_at = a.s.tr_at;
  // When b.min > a.max the cross term is negative: below every mdd, and b wins
  // ties anyway, so the division can be skipped without changing any result.
  if (b.min <= a.max) {
    const double cross = 1.0 - b.min / a.max;
    if (cross >= out.s.mdd) {
      out.s.mdd = cross;
      out.s.pk_at = a.s.max_at;
      out.s.tr_at = b.s.min_at;
    }
  }
  if (b.s.mdd >= out.s.mdd) {
    out.s.mdd = b.s.mdd;
    out.s.pk_at = b.s.pk_at;
    out.s.tr_at = b.s.tr_at;
  }
  return out;
}

// ThenPoint and ComputeSuffixes are written as selects, not branches: on a
// random walk their comparisons go either way at random, and a mispredicted
// branch costs more than the division and moves that a select always pays
// (exact mode, 43,200 entries, min of 21 interleaved runs: 24.2 -> 20.9 ns per
// event; a strictly falling series, predictable either way, 16.4 -> 17.2). A
// select of two doubles whose equal values are interchangeable is a max or min
// instruction. The general Combine written the same way measured no faster.

template <bool kExact>
inline void WindowCore<kExact>::ThenPoint(HotSummary* a, uint32_t pos,
                                          double price) {
  HotSummary x = *a;
  // The cross term reads a's max before it moves. Above the max it is
  // negative, below every mdd (>= 0).
  const double cross = 1.0 - price / x.max;
  const bool take = cross >= x.s.mdd;
  x.s.mdd = x.s.mdd > cross ? x.s.mdd : cross;
  x.s.pk_at = take ? x.s.max_at : x.s.pk_at;
  x.s.tr_at = take ? pos : x.s.tr_at;
  // The point's own mdd, 0, wins a tie with 0.
  const bool zero = !(x.s.mdd > 0);
  x.s.pk_at = zero ? pos : x.s.pk_at;
  x.s.tr_at = zero ? pos : x.s.tr_at;
  const bool up = price >= x.max;
  x.max = x.max > price ? x.max : price;
  x.s.max_at = up ? pos : x.s.max_at;
  const bool down = price <= x.min;
  x.min = x.min < price ? x.min : price;
  x.s.min_at = down ? pos : x.s.min_at;
  *a = x;
}

// Combine(Lift(pos), suffix of [pos + 1, end)) for pos from end - 1 down to
// first, in one pass, with selects (GCC makes them max, min and conditional
// moves). The results are Combine's, bit for bit: a price above the later max
// (strictly) becomes the max, one below the later min the min, and a decline
// from this price to the later min that beats the later mdd (strictly)
// becomes the pair. Computed one per event instead (while the previous front
// chunk drained), the step's comparisons compiled as branches, which a random
// walk's new highs and lows mispredict: ebb_window_bench, exact, 43,200
// entries, 7 interleaved runs, 19.0 -> 15.4 ns per event (random walk), 14.4
// -> 15.3 (falling).
template <bool kExact>
void WindowCore<kExact>::ComputeSuffixes(uint32_t first, uint32_t end) {
  if constexpr (kExact) {
    x_.suffix.Reserve(first, end);
    uint32_t pos = end - 1;
    const double last = ring_[pos].last;
    double max = last, min = last, mdd = 0.0;
    uint32_t max_at = pos, min_at = pos, pk_at = pos, tr_at = pos;
    x_.suffix[pos] = Point(pos, last);
    // The positions left, one ring block at a time.
    while (pos != first) {
      const uint32_t run =
          std::min(pos - first, ((pos - 1) & (RingT::kBlockSize - 1)) + 1);
      const Entry* const entries = &ring_[pos - run];
      for (uint32_t i = run; i-- > 0;) {
        --pos;
        const double price = entries[i].last;
        const double cross = 1.0 - min / price;
        const bool take = cross > mdd;
        mdd = take ? cross : mdd;
        pk_at = take ? pos : pk_at;
        tr_at = take ? min_at : tr_at;
        const bool up = price > max;
        max = up ? price : max;
        max_at = up ? pos : max_at;
        const bool down = price < min;
        min = down ? price : min;
        min_at = down ? pos : min_at;
        x_.suffix[pos] = {{mdd, max_at, min_at, pk_at, tr_at}, max, min};
      }
    }
  }
}

// DABA Lite. Positions: front_ <= l_ <= r_ <= a_ <= b_ <= end_ (as distances
// from front_). [front_, b_) is the front list, [b_, end_) the back list
// summarised by back_; the step does one unit of the incremental flip, so each
// operation costs O(1) combines.

template <bool kExact>
void WindowCore<kExact>::DabaInsert(const HotSummary& lifted) {
  query_cached_ = false;
  if constexpr (kExact) daba_.push_back();
  SetDabaAgg(end_, lifted);
  back_ = Combine(back_, lifted);
  if constexpr (!kExact) {
    if (front_ == end_) front_start_ = ring_[end_].entry.start;
  }
  ++end_;
  DabaStep();
}

template <bool kExact>
void WindowCore<kExact>::DabaEvict() {
  query_cached_ = false;
  ++front_;
  DabaStep();
  if constexpr (kExact) daba_.pop_front();
}

template <bool kExact>
HotSummary WindowCore<kExact>::DabaQuery() const {
  if (front_ == end_) return kHotIdentity;
  const HotSummary alpha = front_ != b_ ? DabaAgg(front_) : kHotIdentity;
  return Combine(alpha, back_);
}

template <bool kExact>
void WindowCore<kExact>::DabaStep() {
  if (l_ == b_) {  // flip: the back list becomes the (unprocessed) front list
    l_ = front_;
    r_ = b_;
    a_ = end_;
    b_ = end_;
    mid_ = back_;
    back_ = kHotIdentity;
  }
  if (front_ != b_) {
    if (a_ != r_) {
      if constexpr (kExact) {
        const HotSummary prev_delta = a_ == b_ ? kHotIdentity : DabaAgg(a_);
        --a_;
        SetDabaAgg(a_, Combine(DabaAgg(a_), prev_delta));
      } else {
        const HotSummary prev_delta = a_ == b_ ? kHotIdentity : a_agg_;
        --a_;
        a_agg_ = Combine(AggAt(a_), prev_delta);
        SetAgg(a_, a_agg_);
      }
    }
    if (l_ != r_) {
      SetDabaAgg(l_, Combine(DabaAgg(l_), mid_));
      ++l_;
    } else {
      ++l_;
      ++r_;
      ++a_;
      mid_ = a_ == b_ ? kHotIdentity : DabaAgg(a_);
      if constexpr (!kExact) a_agg_ = mid_;
    }
  } else {
    back_ = kHotIdentity;
    mid_ = kHotIdentity;
  }
}

template <bool kExact>
uint32_t WindowCore<kExact>::NextChunkProbe() const {
  if constexpr (kExact) {
    const uint32_t left = x_.front_end - ring_.head();
    if (left <= kChunk / 4 + 1) return x_.front_end + (left - 1) * 4;
  }
  return ring_.head();
}

template <bool kExact>
void WindowCore<kExact>::PrefetchNextAdd() const {
  if constexpr (kExact) {
    // An event that slides the window reads the oldest entry (the as-of
    // price) and the one after it (its start, and its suffix summary, which
    // the query reads), and writes the next slot. The witnesses' slots are
    // not known yet.
    if (ring_.empty()) return;
    const uint32_t head = ring_.head();
    ring_.PrefetchHot(head);
    ring_.PrefetchHot(head + 1);
    ring_.PrefetchNextPush();
    ChunkedRing<HotSummary>::PrefetchSlot(&x_.suffix[head + 1]);
    ring_.PrefetchHot(NextChunkProbe());
  } else {
    // DabaQuery reads the front and, after an eviction, the entry after it
    // (which Evict reads too);
    // DabaStep reads a_ - 1 and l_, and a window that evicts one entry and
    // inserts one steps twice. Once l_ has reached r_, a_ moves up with l_
    // and the second step reads l_ + 2 (measured: 1-minute buckets 135 ->
    // 118 ns per event with 100 full windows).
    ring_.PrefetchHot(front_);
    ring_.PrefetchHot(front_ + 1);
    ring_.PrefetchHot(a_ - 1);
    ring_.PrefetchHot(a_ - 2);
    ring_.PrefetchHot(l_);
    ring_.PrefetchHot(l_ + 1);
    if (l_ == r_) ring_.PrefetchHot(l_ + 2);
    // The open bucket's slots are written when it closes, most likely now.
    ring_.PrefetchHot(newest());
    ring_.PrefetchCold(newest());
  }
}

template <bool kExact>
void WindowCore<kExact>::PrefetchTable() const {
  if (ring_.empty()) return;
  // The entries of every position PrefetchNextAdd reads (mostly one line).
  if constexpr (kExact) {
    const uint32_t head = ring_.head();
    for (uint32_t pos : {head, head + 1, NextChunkProbe(), ring_.tail()}) {
      ring_.PrefetchTableEntry(pos);
    }
  } else {
    for (uint32_t pos : {front_, front_ + 1, a_ - 1, a_ - 2, l_, l_ + 1, l_ + 2,
                         newest(), newest() + 1}) {
      ring_.PrefetchTableEntry(pos);
    }
  }
}

template <bool kExact>
bool WindowCore<kExact>::TEST_CheckInvariants() const {
  const uint32_t dl = l_ - front_, dr = r_ - front_, da = a_ - front_,
                 db = b_ - front_, de = end_ - front_;
  if (!(dl <= dr && dr <= da && da <= db && db <= de)) return false;
  if constexpr (kExact) {
    if (!ExactLayoutHolds()) return false;
  } else {
    if (de != entries() - (has_open_ ? 1u : 0u)) return false;
    if (front_start_ != (de == 0 ? kNoFront : ring_[front_].entry.start)) {
      return false;
    }
  }
  if (de == 0) return true;
  const uint32_t unprocessed = db - dl, front_size = db, back_size = de - db;
  if constexpr (!kExact) {
    if (da != db) {  // a_agg_ must be the summary stored at a_
      const HotSummary stored = AggAt(a_);
      if (std::memcmp(&stored.s, &a_agg_.s, sizeof(Summary)) != 0 ||
          stored.max != a_agg_.max || stored.min != a_agg_.min) {
        return false;
      }
    }
  }
  return unprocessed + 1 == front_size - back_size && back_size <= front_size &&
         dr - dl == da - dr;
}

template <bool kExact>
bool WindowCore<kExact>::ExactLayoutHolds() const {
  if constexpr (kExact) {
    if (daba_.head() != front_ || daba_.tail() != end_) return false;
    if (ring_.empty()) return front_start_ == kNoFront && front_ == end_;
    if (!x_.suffix.allocated()) return false;
    const uint32_t head = ring_.head(), tail = ring_.tail();
    const uint32_t front_len = x_.front_end - head;
    const uint32_t open_at = x_.open_start - head, size = tail - head;
    // head < front_end <= open_start <= tail, chunks of at most kChunk.
    if (front_len == 0 || front_len > kChunk || open_at < front_len ||
        open_at > size || size - open_at > kChunk) {
      return false;
    }
    if (front_start_ != ring_[head].start) return false;
    // The DABA's chunks fill [front_end, open_start), kChunk entries each.
    if ((end_ - front_) * kChunk != open_at - front_len) return false;
    const auto same = [](const HotSummary& a, const HotSummary& b) {
      return std::memcmp(&a.s, &b.s, sizeof(Summary)) == 0 &&
             (a.s.mdd < 0 || (a.max == b.max && a.min == b.min));
    };
    // Every front suffix is the fold of the rest of the front chunk.
    HotSummary fold = kHotIdentity;
    for (uint32_t pos = x_.front_end; pos != head;) {
      --pos;
      fold = Combine(Lift(pos), fold);
      if (!same(fold, x_.suffix[pos])) return false;
    }
    // The open summary is the fold of the open chunk.
    HotSummary open = kHotIdentity;
    for (uint32_t pos = x_.open_start; pos != tail; ++pos) {
      open = Combine(open, Lift(pos));
    }
    if (!same(open, x_.open)) return false;
    // Whether `got` agrees with `want`, the summary of [from, to) grouped
    // another way. Where rounding makes two pairs' declines equal, the
    // grouping decides which pair is named: the pair only has to realise the
    // value, and a value of 0 is one event's.
    const auto agrees = [this](const HotSummary& want, const HotSummary& got,
                               uint32_t from, uint32_t to) {
      if (want.s.mdd != got.s.mdd) return false;
      if (want.s.mdd < 0) return true;
      if (want.s.max_at != got.s.max_at || want.s.min_at != got.s.min_at ||
          want.max != got.max || want.min != got.min) {
        return false;
      }
      const uint32_t pk = got.s.pk_at - from, tr = got.s.tr_at - from;
      if (pk > tr || tr >= to - from) return false;
      return got.s.mdd == 0
                 ? pk == tr
                 : 1.0 - ring_[got.s.tr_at].last / ring_[got.s.pk_at].last ==
                       got.s.mdd;
    };
    // A cached DABA answer is the current one.
    if (query_cached_ && !same(DabaQuery(), query_cache_)) return false;
    // The DABA's answer agrees with the fold of its chunks' events (checked
    // for short DABAs: the tests call this on every event).
    if (end_ - front_ <= 8) {
      fold = kHotIdentity;
      for (uint32_t pos = x_.front_end; pos != x_.open_start; ++pos) {
        fold = Combine(fold, Lift(pos));
      }
      if (!agrees(fold, DabaQuery(), x_.front_end, x_.open_start)) {
        return false;
      }
    }
  }
  return true;
}

template <bool kExact>
void WindowCore<kExact>::Evict(TimeNs horizon) {
  // Bucketed mode (exact mode has ExactEvict). Buckets starting at or before
  // t - W leave the window. Only buckets inside the DABA can be old enough:
  // the open bucket started after t - W.
  if constexpr (!kExact) {
    while (front_ != end_ && ring_[front_].entry.start <= horizon) {
      asof_price_ = ring_[front_].entry.last;
      evicted_any_ = true;
      DabaEvict();
      ring_.pop_front();
    }
    front_start_ = front_ != end_ ? ring_[front_].entry.start : kNoFront;
  }
}

// Exact mode (docs/design.md, "The window"). The window [head, tail) is
// three runs: the front chunk [head, front_end), whose positions have suffix
// summaries in x_.suffix (position i: the summary of [i, front_end)); the
// DABA's chunks of kChunk entries each, [front_end, open_start); and the open
// chunk [open_start, tail), summarised in x_.open. The window's summary is
// front suffix + DABA query + open summary: two combines, and the DABA
// changes only once per kChunk events. A chunk's suffixes are computed in one
// pass when it becomes the front chunk (ComputeSuffixes).

template <bool kExact>
inline void WindowCore<kExact>::ExactEvict(TimeNs horizon) {
  if constexpr (kExact) {
    do {
      const uint32_t pos = ring_.head();
      asof_price_ = ring_[pos].last;
      evicted_any_ = true;
      ring_.pop_front();
      // (The front chunk ends at or before the tail, so an emptied window
      // takes this branch too.)
      if (pos + 1 == x_.front_end && !FrontChunkDrained()) return;
      front_start_ = ring_[pos + 1].start;
    } while (front_start_ <= horizon);
  }
}

template <bool kExact>
bool WindowCore<kExact>::FrontChunkDrained() {
  if constexpr (kExact) {
    if (ring_.empty()) {
      front_start_ = kNoFront;
      RestartChunks();
      return false;
    }
    NextFrontChunk();
  }
  return true;
}

template <bool kExact>
void WindowCore<kExact>::RestartChunks() {
  if constexpr (kExact) {
    const uint32_t tail = ring_.tail();
    x_.front_end = x_.open_start = tail;
    x_.open = kHotIdentity;
    // The DABA is empty: its positions restart at daba_'s.
    front_ = l_ = r_ = a_ = b_ = end_ = daba_.tail();
    mid_ = back_ = kHotIdentity;
    query_cached_ = false;
  }
}

template <bool kExact>
void WindowCore<kExact>::NextFrontChunk() {
  if constexpr (kExact) {
    if (front_ != end_) {  // the DABA's oldest chunk becomes the front chunk
      const uint32_t first = x_.front_end;
      ComputeSuffixes(first, first + kChunk);
      DabaEvict();
      x_.front_end = first + kChunk;
    } else {  // the DABA is empty: the open chunk becomes the front chunk
      ComputeSuffixes(x_.open_start, ring_.tail());
      RestartChunks();  // the front chunk now ends at the tail
    }
  }
}

template <bool kExact>
void WindowCore<kExact>::ExactAdd(TimeNs time, double price,
                                  WindowMetrics* out) {
  if constexpr (kExact) {
    const TimeNs horizon = time - options_.length;
    if (front_start_ <= horizon) ExactEvict(horizon);
    const uint32_t pos = ring_.tail();
    ring_.push_back() = {time, price};
    if (ABSL_PREDICT_FALSE(pos - x_.open_start == kChunk)) {
      // The open chunk is full.
      DabaInsert(x_.open);
      x_.open_start = pos;
      x_.open = Point(pos, price);
    } else if (ABSL_PREDICT_TRUE(x_.open.s.mdd >= 0)) {
      ThenPoint(&x_.open, pos, price);
    } else {
      x_.open = Point(pos, price);
    }
    if (x_.front_end == ring_.head()) {  // the window was empty
      NextFrontChunk();
      front_start_ = time;
    }
    if (!query_cached_) {
      query_cache_ = DabaQuery();
      query_cached_ = true;
    }
    Report(price,
           Combine(Combine(x_.suffix[ring_.head()], query_cache_), x_.open).s,
           out);
  }
}

template <bool kExact>
void WindowCore<kExact>::Add(TimeNs time, double price, WindowMetrics* out) {
  const TimeNs horizon = time - options_.length;
  if constexpr (kExact) {
    // The common event, without a call (so nothing to save and restore): the
    // DABA's answer is cached, the event extends the open chunk inside a
    // ring block already held, and it evicts nothing or one entry that is
    // neither the last of the front chunk nor of its ring block. ExactAdd takes
    // the others: in a window that slides by one entry per event, the ends of
    // chunks and ring blocks, 6 events in 128.
    constexpr uint32_t kBlockMask = RingT::kBlockSize - 1;
    const uint32_t head = ring_.head(), tail = ring_.tail();
    if (ABSL_PREDICT_TRUE(query_cached_ && x_.open.s.mdd >= 0 &&
                          tail - x_.open_start != kChunk &&
                          ring_.CanPushWithinBlock())) {
      uint32_t front = head;
      if (front_start_ <= horizon) {
        ++front;
        if (front == x_.front_end || (front & kBlockMask) == 0) {
          return ExactAdd(time, price, out);
        }
        const Entry* const oldest = &ring_[head];
        const TimeNs next_start = oldest[1].start;
        if (next_start <= horizon) return ExactAdd(time, price, out);
        asof_price_ = oldest->last;
        evicted_any_ = true;
        front_start_ = next_start;
        ring_.pop_front_within_block();
      }
      ring_.push_back_within_block() = {time, price};
      ThenPoint(&x_.open, tail, price);
      Report(price, Combine(Combine(x_.suffix[front], query_cache_), x_.open).s,
             out);
      return;
    }
    ExactAdd(time, price, out);
  } else {
    // The common event, without a call: it falls in the open bucket, evicts
    // nothing, and the closed buckets' summary is cached. BucketedAdd takes
    // the others (a bucket's first event, mostly).
    if (ABSL_PREDICT_TRUE(has_open_ && time < open_end_ &&
                          front_start_ > horizon && query_cached_)) {
      ReportBucketed(price, ExtendOpenBucket(time, price), out);
      return;
    }
    BucketedAdd(time, price, out);
  }
}

template <bool kExact>
void WindowCore<kExact>::BucketedAdd(TimeNs time, double price,
                                     WindowMetrics* out) {
  if constexpr (!kExact) {
    const TimeNs horizon = time - options_.length;
    // Events come in time order: one comparison tells whether the open bucket
    // still holds this one (the 64-bit division only runs for a new bucket).
    OpenBucket& x = open_;
    // Whether the open bucket's summary (mdd, max, min and their points)
    // changed: if not, and the closed buckets' did not either, the window's
    // summary is the one the previous event reported.
    bool open_changed = true;
    if (has_open_ && time < open_end_) {
      open_changed = ExtendOpenBucket(time, price);
    } else {
      if (has_open_) {  // close it: write its slots and enter it in the DABA
        const uint32_t pos = ring_.tail() - 1;
        ring_[pos].entry = {x.start, x.last};
        ring_.cold(pos) = {x.max, x.min, x.pk, x.tr};
        DabaInsert({{x.mdd, pos, pos, pos, pos}, x.max.price, x.min.price});
      }
      const TimeNs start = FloorTo(time, options_.resolution);
      open_end_ = start + options_.resolution;
      ring_.push_back();  // the open bucket's position; written when it closes
      const PricePoint p{price, time};
      x = {start, price, p, p, p, p, 0.0};
      has_open_ = true;
    }
    if (front_start_ <= horizon) Evict(horizon);
    // The closed buckets' summary changes only when one enters or leaves:
    // events inside the open bucket reuse it and pay one combine.
    if (!query_cached_) {
      query_cache_ = DabaQuery();
      query_cached_ = true;
      open_changed = true;
    }
    ReportBucketed(price, open_changed, out);
  }
}

template <bool kExact>
inline bool WindowCore<kExact>::ExtendOpenBucket(TimeNs time, double price) {
  bool changed = false;
  if constexpr (!kExact) {
    OpenBucket& x = open_;
    // Above the max, the decline would be negative: no division needed.
    if (price <= x.max.price) {
      const double cross = 1.0 - price / x.max.price;
      if (cross >= x.mdd) {
        x.mdd = cross;
        x.pk = x.max;
        x.tr = {price, time};
        changed = true;
      }
    }
    if (price >= x.max.price) {
      x.max = {price, time};
      changed = true;
    }
    if (price <= x.min.price) {
      x.min = {price, time};
      changed = true;
    }
    x.last = price;
  }
  return changed;
}

template <bool kExact>
inline void WindowCore<kExact>::ReportBucketed(double price, bool open_changed,
                                               WindowMetrics* out) {
  if constexpr (!kExact) {
    if (open_changed) {
      const OpenBucket& x = open_;
      const uint32_t open = ring_.tail() - 1;
      window_summary_ =
          Combine(query_cache_,
                  {{x.mdd, open, open, open, open}, x.max.price, x.min.price})
              .s;
    }
    Report(price, window_summary_, out);
  }
}

template <bool kExact>
inline void WindowCore<kExact>::Report(double price, const Summary& s,
                                       WindowMetrics* out) {
  if constexpr (kExact) {
    // In cache, reading the witness entries is cheaper than keeping a cache
    // of them (a falling series changes the pair on every event).
    // All three read before *out is written: a store through `out` could
    // alias the ring's block table, and would make every read reload it.
    const PricePoint peak = MaxPoint(s.max_at);
    const PricePoint mdd_peak = MaxPoint(s.pk_at);
    const PricePoint mdd_trough = MinPoint(s.tr_at);
    out->peak = peak;
    out->mdd_peak = mdd_peak;
    out->mdd_trough = mdd_trough;
  } else {
    ReportWitnessesCached(s, out);
  }
  out->drawdown = 1.0 - price / out->peak.price;
  out->max_drawdown = s.mdd;
  // A max_drawdown of 0 is realised by a single event: report one point, never
  // a pair of equal prices at different times (WindowMetrics: "equal when it is
  // 0").
  if (!(out->max_drawdown > 0)) out->mdd_trough = out->mdd_peak;
  out->full_window = evicted_any_;
  if (evicted_any_) {
    out->change = price / asof_price_ - 1.0;
  } else {
    out->change.reset();
  }
  out->entries = entries();
}

template <bool kExact>
inline void WindowCore<kExact>::ReportWitnessesCached(const Summary& s,
                                                      WindowMetrics* out) {
  if constexpr (!kExact) {  // exact mode reads its witnesses directly
    ReportCache& cache = report_cache_;
    // The open bucket's points still change; read them every time.
    const uint32_t open = newest();
    if (cache.has_peak && s.max_at == cache.max_at) {
      out->peak = cache.peak;
    } else {
      out->peak = MaxPoint(s.max_at);
      cache.has_peak = s.max_at != open;
      cache.max_at = s.max_at;
      cache.peak = out->peak;
    }
    if (cache.has_pair && s.pk_at == cache.pk_at && s.tr_at == cache.tr_at) {
      out->mdd_peak = cache.mdd_peak;
      out->mdd_trough = cache.mdd_trough;
    } else {
      if (s.pk_at != s.tr_at) {
        out->mdd_peak = MaxPoint(s.pk_at);
        out->mdd_trough = MinPoint(s.tr_at);
      } else if (s.pk_at == open) {  // the pair inside one bucket
        out->mdd_peak = open_.pk;
        out->mdd_trough = open_.tr;
      } else {
        const BucketPoints& points = ring_.cold(s.pk_at);
        out->mdd_peak = points.pk;
        out->mdd_trough = points.tr;
      }
      cache.has_pair = s.pk_at != open && s.tr_at != open;
      cache.pk_at = s.pk_at;
      cache.tr_at = s.tr_at;
      cache.mdd_peak = out->mdd_peak;
      cache.mdd_trough = out->mdd_trough;
    }
  }
}

// Restore (window_snapshot.cc) builds exact-mode chunk summaries with it.
template <bool kExact>
HotSummary WindowCore<kExact>::FoldPoints(uint32_t first, uint32_t end) const {
  HotSummary fold = Point(first, EntryAt(first).last);
  for (uint32_t pos = first + 1; pos != end; ++pos) {
    ThenPoint(&fold, pos, EntryAt(pos).last);
  }
  return fold;
}

template class WindowCore<true>;
template class WindowCore<false>;

}  // namespace window_internal

DrawdownWindow::DrawdownWindow(const WindowOptions& options)
    : core_(options.resolution == 0
                ? decltype(core_)(std::in_place_index<0>, options)
                : decltype(core_)(std::in_place_index<1>, options)) {}

}  // namespace ebb
