#pragma once

// The rolling window of one symbol and its metrics (docs/semantics.md, "The
// window").
//
// Entries are events (exact mode) or per-bucket summaries (bucketed mode). The
// max-drawdown summary (max, min, mdd) is folded over the window by DABA Lite
// (Tangwongsan, Hirzel and Schneider, "In-order sliding-window aggregation in
// worst-case constant time", VLDB J. 2021): O(1) combines per insert, evict and
// query in the worst case, so no event ever pays for a stack flip. Exact mode
// runs it over chunks of 64 events, with suffix summaries for the oldest chunk
// (drawdown_window.cc): an event that evicts at most one entry does at most
// 64 suffix steps and a few combines (the front moving to the next chunk), most
// do 3 combines. One that evicts k entries at once also pays O(k). A summary
// names its witnesses by ring position (4 x 32 bits) instead of copying prices
// and times. An exact-mode entry is its time and price, 16 bytes: the chunks'
// summaries and the oldest chunk's suffixes are kept beside the ring, not per
// entry. A
// bucketed-mode summary also carries its max and min prices, and a bucket's
// own points sit in a separate cold slot, so the DABA's steps read one line
// per position.

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/time_util.h"
#include "ebb/v1/state.pb.h"
#include "window/chunked_ring.h"
#include "window/huge_pages.h"

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

namespace window_internal {

// An entry. Exact mode: an event (start = its time, last = its price).
// Bucketed mode: a bucket (start, last price), with its points in a cold slot.
struct Entry {
  TimeNs start;
  double last;
};
// A bucket's own extremes and internal max-drawdown pair (the cold slot: read
// only to report a witness).
struct BucketPoints {
  PricePoint max, min, pk, tr;
};
// The bucket still receiving events: kept in the window, not the ring, until
// it closes.
struct OpenBucket {
  TimeNs start = 0;
  double last = 0;
  PricePoint max, min, pk, tr;
  double mdd = 0;
};
// The type of a bucketed-mode-only member in exact mode.
struct BucketedOnly {};
// The (max, min, mdd) summary of a range of entries, by witness positions.
// pk == tr means the pair inside that one entry; otherwise (max of entry pk,
// min of entry tr).
struct Summary {
  double mdd;  // < 0: the identity (empty range)
  uint32_t max_at, min_at, pk_at, tr_at;
};
// A summary kept outside the ring (the DABA's back and mid aggregates, the
// query cache) with its witnesses' prices beside it, so that combining with it
// reads no ring slot: with thousands of windows interleaved, every slot read is
// a likely cache miss. Unset prices for the identity.
struct HotSummary {
  Summary s;
  double max, min;  // the prices at s.max_at and s.min_at
};
// Exact mode's suffix summaries: the summary of [pos, end of the front chunk)
// for the positions of the front chunk, at pos % kSlots (a chunk spans at
// most kSlots consecutive positions). A pool block per window, taken by the
// first event: while the front chunk lies in the ring's first kSlots
// positions, only as many slots as reach its end (a power of two), so that a
// window of a few events holds a few summaries; kSlots afterwards.
class SuffixBuffer {
 public:
  static constexpr uint32_t kSlots = 64;
  SuffixBuffer() = default;
  SuffixBuffer(SuffixBuffer&& other) noexcept
      : slots_(std::exchange(other.slots_, nullptr)),
        capacity_(std::exchange(other.capacity_, 0)) {}
  SuffixBuffer& operator=(SuffixBuffer&& other) noexcept {
    std::swap(slots_, other.slots_);  // ours are freed with `other`
    std::swap(capacity_, other.capacity_);
    return *this;
  }
  ~SuffixBuffer() {
    if (slots_ != nullptr) Pool(capacity_).Free(slots_);
  }
  bool allocated() const { return slots_ != nullptr; }
  // Makes room for the suffixes of the front chunk [first, end). The
  // suffixes held before are not kept (their chunk has left the window).
  void Reserve(uint32_t first, uint32_t end) {
    uint32_t need = kSlots;
    if (first < end && end <= kSlots) {
      need = 1;
      while (need < end) need *= 2;
    }
    if (need <= capacity_) return;
    if (slots_ != nullptr) Pool(capacity_).Free(slots_);
    slots_ = static_cast<HotSummary*>(Pool(need).Allocate());
    capacity_ = need;
    std::uninitialized_default_construct_n(slots_, capacity_);
  }
  HotSummary& operator[](uint32_t pos) { return slots_[pos & (kSlots - 1)]; }
  const HotSummary& operator[](uint32_t pos) const {
    return slots_[pos & (kSlots - 1)];
  }
  size_t MemoryBytes() const {
    return slots_ != nullptr ? Pool(capacity_).Footprint() : 0;
  }

 private:
  // The pool of buffers of `capacity` (a power of two up to kSlots) slots.
  static BlockPool& Pool(uint32_t capacity) {
    static BlockPool* const* const pools = [] {
      static BlockPool* by_shift[7];
      for (uint32_t shift = 0; shift < 7; ++shift) {
        by_shift[shift] = &BlockPool::For(
            (size_t{1} << shift) * sizeof(HotSummary), alignof(HotSummary));
      }
      return by_shift;
    }();
    return *pools[__builtin_ctz(capacity)];
  }
  static_assert(kSlots == 1u << 6);
  HotSummary* slots_ = nullptr;
  uint32_t capacity_ = 0;
};
// Bucketed mode: one cache line per hot slot, plus a 64-byte BucketPoints.
struct alignas(64) BucketSlot {
  Entry entry;
  HotSummary agg;
};

// The window of one mode; the mode is a template parameter so the per-event
// path has no mode branches and a window holds only its mode's ring.
template <bool kExact>
class WindowCore {
 public:
  explicit WindowCore(const WindowOptions& options) : options_(options) {}
  WindowCore(WindowCore&&) noexcept = default;
  WindowCore& operator=(WindowCore&&) noexcept = default;

  void Add(TimeNs time, double price, WindowMetrics* out);
  double NewestPrice() const {
    if constexpr (kExact) {
      return ring_.empty() ? asof_price_ : ring_[newest()].last;
    } else {
      return has_open_ ? open_.last : asof_price_;
    }
  }
  void StartAfter(double asof_price) {
    asof_price_ = asof_price;
    evicted_any_ = true;
  }
  void PrefetchNextAdd() const;
  void PrefetchTable() const;
  uint32_t entries() const { return ring_.size(); }
  TimeNs NewestEntryTime() const {
    if constexpr (kExact) {
      return ring_[newest()].start;
    } else {
      return open_.start;  // the open bucket's slots are written when it closes
    }
  }
  size_t MemoryBytes() const {
    if constexpr (kExact) {
      return ring_.MemoryBytes() + daba_.MemoryBytes() +
             x_.suffix.MemoryBytes();
    } else {
      return ring_.MemoryBytes();
    }
  }
  bool TEST_CheckInvariants() const;

  // DrawdownWindow::Snapshot and Restore (window_snapshot.cc). Restore
  // REQUIRES: a window that has taken no event, and a snapshot that
  // ValidateWindowSnapshot accepted for these options.
  void Snapshot(ebb::v1::WindowSnapshot* out) const;
  void Restore(const ebb::v1::WindowSnapshot& in);

 private:
  // The summary of the exact-mode events [first, end), folded from the left
  // point by point (as the open chunk is). REQUIRES: first < end.
  HotSummary FoldPoints(uint32_t first, uint32_t end) const;
  using RingT = std::conditional_t<kExact, ChunkedRing<Entry>,
                                   ChunkedRing<BucketSlot, BucketPoints>>;
  static constexpr Summary kIdentity = {-1.0, 0, 0, 0, 0};
  static constexpr HotSummary kHotIdentity = {kIdentity, 0.0, 0.0};

  const Entry& EntryAt(uint32_t pos) const {
    if constexpr (kExact) {
      return ring_[pos];
    } else {
      return ring_[pos].entry;
    }
  }
  // An entry's own max or min point (bucketed: the open bucket's, for the
  // newest position).
  PricePoint MaxPoint(uint32_t pos) const;
  PricePoint MinPoint(uint32_t pos) const;
  // Bucketed mode: the summary stored at ring position `pos` (exact mode's
  // entries hold none).
  HotSummary AggAt(uint32_t pos) const {
    if constexpr (kExact) {
      return kHotIdentity;
    } else {
      return ring_[pos].agg;
    }
  }
  void SetAgg(uint32_t pos, const HotSummary& h) {
    if constexpr (!kExact) ring_[pos].agg = h;
  }
  ABSL_ATTRIBUTE_ALWAYS_INLINE static HotSummary Combine(const HotSummary& a,
                                                         const HotSummary& b);
  // Combine(a, Point(pos, price)) for a non-identity a: the same result, with
  // the comparisons a point makes constant folded away (exact mode's
  // per-event combine).
  ABSL_ATTRIBUTE_ALWAYS_INLINE static void ThenPoint(HotSummary* a,
                                                     uint32_t pos,
                                                     double price);

  // DABA Lite over positions [front_, end_): bucketed mode, ring positions
  // (one per bucket); exact mode, positions in daba_ (one per chunk of
  // kChunk events). `lifted` is the summary of the element inserted at end_.
  void DabaInsert(const HotSummary& lifted);
  void DabaEvict();
  HotSummary DabaQuery() const;
  void DabaStep();
  HotSummary DabaAgg(uint32_t i) const {
    if constexpr (kExact) {
      return daba_[i];
    } else {
      return AggAt(i);
    }
  }
  void SetDabaAgg(uint32_t i, const HotSummary& h) {
    if constexpr (kExact) {
      daba_[i] = h;
    } else {
      SetAgg(i, h);
    }
  }

  // Exact mode's chunks (drawdown_window.cc explains them).
  static constexpr uint32_t kChunk = 64;
  static_assert(kChunk <= SuffixBuffer::kSlots);
  // The summary of one event.
  static HotSummary Point(uint32_t pos, double price) {
    return {{0.0, pos, pos, pos, pos}, price, price};
  }
  HotSummary Lift(uint32_t pos) const { return Point(pos, EntryAt(pos).last); }
  // Add for any event, by mode (Add takes the common one itself).
  ABSL_ATTRIBUTE_NOINLINE void ExactAdd(TimeNs time, double price,
                                        WindowMetrics* out);
  ABSL_ATTRIBUTE_NOINLINE void BucketedAdd(TimeNs time, double price,
                                           WindowMetrics* out);
  // Bucketed mode: applies an event inside the open bucket to it; true when
  // its summary changed.
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool ExtendOpenBucket(TimeNs time, double price);
  // Bucketed mode: the window's summary (recomputed when the open bucket's
  // changed or the DABA's answer was just recomputed) reported for `price`.
  ABSL_ATTRIBUTE_ALWAYS_INLINE void ReportBucketed(double price,
                                                   bool open_changed,
                                                   WindowMetrics* out);
  // Exact mode's eviction of the entries at or before `horizon`. REQUIRES:
  // front_start_ <= horizon.
  ABSL_ATTRIBUTE_ALWAYS_INLINE void ExactEvict(TimeNs horizon);
  // The front chunk's last entry has just left: the next chunk becomes the
  // front chunk, or the window restarts empty. Returns false when the window
  // is empty.
  ABSL_ATTRIBUTE_NOINLINE bool FrontChunkDrained();
  void NextFrontChunk();
  void RestartChunks();
  // x_.suffix[pos] for every pos in [first, end): the summary of [pos, end).
  // REQUIRES: 0 < end - first <= kChunk, [first, end) in the ring.
  void ComputeSuffixes(uint32_t first, uint32_t end);
  // The position whose line PrefetchNextAdd loads for the chunk after the
  // front chunk: over the front chunk's last kChunk / 4 + 1 events, one line
  // of that chunk each (ComputeSuffixes reads them all when the front moves
  // into it); the head otherwise.
  uint32_t NextChunkProbe() const;
  bool ExactLayoutHolds() const;

  // Evicts the entries at or before `horizon`. REQUIRES: front_start_ <=
  // horizon (callers test it inline: most events evict nothing).
  void Evict(TimeNs horizon);
  // Inlined into the Add paths: as a call, its register saves and restores
  // would be a noticeable share of an in-cache event's instructions.
  ABSL_ATTRIBUTE_ALWAYS_INLINE void Report(double price, const Summary& s,
                                           WindowMetrics* out);
  // Bucketed mode: the witnesses' points through report_cache_.
  ABSL_ATTRIBUTE_ALWAYS_INLINE void ReportWitnessesCached(const Summary& s,
                                                          WindowMetrics* out);
  // The newest position: the open bucket's (bucketed) or the newest event's.
  uint32_t newest() const { return ring_.tail() - 1; }

  // Members in per-event order, flags together: with thousands of windows
  // interleaved, every cache line of this object is a likely miss.
  WindowOptions options_;
  // Bucketed: the newest entry is open (not yet in the DABA) until open_end_.
  // Its ring slots are written when it closes; until then it lives in open_.
  bool has_open_ = false;
  // query_cache_ holds DabaQuery() (valid until the DABA's next insert or
  // evict).
  bool query_cached_ = false;
  bool evicted_any_ = false;
  uint32_t front_ = 0, l_ = 0, r_ = 0, a_ = 0, b_ = 0, end_ = 0;
  TimeNs open_end_ = 0;
  // The start of the entry at front_ (kNoFront when the DABA is empty).
  static constexpr TimeNs kNoFront = std::numeric_limits<TimeNs>::max();
  TimeNs front_start_ = kNoFront;
  double asof_price_ = 0;
  HotSummary mid_ = kHotIdentity, back_ = kHotIdentity;
  // Bucketed mode: the summary stored at a_ whenever a_ != b_. The step that
  // moves a_ has just computed or read it, and the next step needs it again
  // (one ring read fewer per event). Exact mode re-reads it: in cache that is
  // cheaper than keeping the copy.
  [[no_unique_address]] std::conditional_t<kExact, BucketedOnly, HotSummary>
      a_agg_{};
  HotSummary query_cache_ = kHotIdentity;
  // Bucketed: the whole window's summary as last reported (the query cache
  // combined with the open bucket).
  Summary window_summary_ = kIdentity;

  // The points Report() looked up last, by position. The witnesses rarely
  // change from one event to the next, and their ring slots are likely cache
  // misses, while this is beside the rest of the window's state. A position
  // names one entry for as long as that entry is in the window, and every
  // cached position was in the window at the previous Add, so a hit is that
  // same entry. The open bucket (still changing) is never cached.
  struct ReportCache {
    uint32_t max_at = 0, pk_at = 0, tr_at = 0;
    bool has_peak = false, has_pair = false;
    PricePoint peak, mdd_peak, mdd_trough;
  };
  // Bucketed mode only (see Report()).
  [[no_unique_address]] std::conditional_t<kExact, BucketedOnly, ReportCache>
      report_cache_{};
  [[no_unique_address]] std::conditional_t<kExact, BucketedOnly, OpenBucket>
      open_;
  // Exact mode: the chunks. Positions are ring positions.
  struct Chunks {
    uint32_t front_end = 0;          // the end of the front chunk
    uint32_t open_start = 0;         // the start of the open chunk
    HotSummary open = kHotIdentity;  // of [open_start, tail)
    // The suffixes of the front chunk, computed when it becomes the front.
    SuffixBuffer suffix;
  };
  [[no_unique_address]] std::conditional_t<kExact, Chunks, BucketedOnly> x_;
  RingT ring_;
  // Exact mode: the DABA's elements, one per full chunk between the front and
  // the open chunk; [front_, end_) are its positions. Touched once per kChunk
  // events, hence last. Blocks of 32 summaries (1,280 bytes), so that the
  // block and the spare a short window holds stay small.
  [[no_unique_address]] std::conditional_t<
      kExact, ChunkedRing<HotSummary, void, 5>, BucketedOnly>
      daba_;
};

extern template class WindowCore<true>;
extern template class WindowCore<false>;

}  // namespace window_internal

class DrawdownWindow {
 public:
  // REQUIRES: options.length > 0, 0 <= options.resolution <= options.length.
  explicit DrawdownWindow(const WindowOptions& options);
  DrawdownWindow(DrawdownWindow&&) noexcept = default;
  DrawdownWindow& operator=(DrawdownWindow&&) noexcept = default;

  // Applies an event and computes its metrics into *out.
  // REQUIRES: time >= the time of the previous Add; price finite and > 0;
  // !full().
  void Add(TimeNs time, double price, WindowMetrics* out) {
    if (auto* exact = std::get_if<0>(&core_)) {
      exact->Add(time, price, out);
    } else {
      std::get<1>(core_).Add(time, price, out);
    }
  }

  // The price of the newest event added, or if none was, the one given to
  // StartAfter(). REQUIRES: an event was added or StartAfter() called.
  double NewestPrice() const {
    return std::visit([](const auto& core) { return core.NewestPrice(); },
                      core_);
  }
  // Makes a new window continue one whose entries have all left: the next
  // Add() reports `change` against `asof_price` (the newest price of that
  // window) and a full window, as the old window would have after evicting
  // everything. REQUIRES: no event added yet.
  void StartAfter(double asof_price) {
    std::visit([&](auto& core) { core.StartAfter(asof_price); }, core_);
  }

  // A hint: starts loading the ring slots the next Add() will most likely
  // read or write (the front entry, the DABA's cursors or the next suffix
  // step, the newest entry).
  // No effect on results.
  void PrefetchNextAdd() const {
    std::visit([](const auto& core) { core.PrefetchNextAdd(); }, core_);
  }
  // The step before: the block-table entries PrefetchNextAdd will read.
  void PrefetchTable() const {
    std::visit([](const auto& core) { core.PrefetchTable(); }, core_);
  }

  // True when the window cannot take another entry (ChunkedRing::kMaxSize).
  bool full() const {
    return entries() + 1 >= ChunkedRing<window_internal::Entry>::kMaxSize;
  }
  uint32_t entries() const {
    return std::visit([](const auto& core) { return core.entries(); }, core_);
  }
  size_t MemoryBytes() const {
    return std::visit([](const auto& core) { return core.MemoryBytes(); },
                      core_);
  }

  // The window as data (proto/ebb/v1/state.proto): its entries, oldest first,
  // the chunk layout of exact mode, and what `change` needs.
  void Snapshot(ebb::v1::WindowSnapshot* out) const;
  // A window equal to the one `snapshot` was taken of: every later Add
  // reports the metrics the original would have. O(entries): the entries are
  // written to the ring in order and each exact-mode chunk or bucket is
  // inserted into DABA Lite, O(1) worst case per insert. An error, naming the
  // field, when the snapshot is inconsistent (counts, order or alignment of
  // times, prices that are not finite and positive) or was taken with other
  // options.
  static absl::StatusOr<DrawdownWindow> Restore(
      const WindowOptions& options, const ebb::v1::WindowSnapshot& snapshot);
  // The time of the newest entry: exact, the newest event's; bucketed, the
  // open bucket's start. REQUIRES: entries() > 0.
  TimeNs NewestEntryTime() const {
    return std::visit([](const auto& core) { return core.NewestEntryTime(); },
                      core_);
  }

  // Test hook: checks DABA Lite's pointer invariants; false when broken.
  bool TEST_CheckInvariants() const {
    return std::visit(
        [](const auto& core) { return core.TEST_CheckInvariants(); }, core_);
  }

 private:
  std::variant<window_internal::WindowCore<true>,
               window_internal::WindowCore<false>>
      core_;
};

}  // namespace ebb
