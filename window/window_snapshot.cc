// DrawdownWindow's snapshot and restore (proto/ebb/v1/state.proto,
// docs/state.md).

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "window/drawdown_window.h"

namespace ebb {

namespace window_internal {

template <bool kExact>
void WindowCore<kExact>::Snapshot(ebb::v1::WindowSnapshot* out) const {
  out->Clear();
  out->set_length_ns(options_.length);
  out->set_resolution_ns(options_.resolution);
  out->set_evicted_any(evicted_any_);
  out->set_asof_price(asof_price_);
  const uint32_t head = ring_.head(), tail = ring_.tail(), n = ring_.size();
  if (n == 0) return;
  out->mutable_prices()->Reserve(static_cast<int>(n));
  out->mutable_time_steps()->Reserve(static_cast<int>(n - 1));
  if constexpr (kExact) {
    out->set_first_time(ring_[head].start);
    TimeNs previous = ring_[head].start;
    for (uint32_t pos = head; pos != tail; ++pos) {
      const Entry& entry = ring_[pos];
      if (pos != head) {
        out->add_time_steps(static_cast<uint64_t>(entry.start - previous));
      }
      previous = entry.start;
      out->add_prices(entry.last);
    }
    out->set_front_chunk(x_.front_end - head);
    out->set_open_chunk(tail - x_.open_start);
  } else {
    const uint32_t open = newest();
    TimeNs previous = 0;
    for (uint32_t pos = head; pos != tail; ++pos) {
      const TimeNs start = pos == open ? open_.start : ring_[pos].entry.start;
      const double last = pos == open ? open_.last : ring_[pos].entry.last;
      const BucketPoints points =
          pos == open ? BucketPoints{open_.max, open_.min, open_.pk, open_.tr}
                      : ring_.cold(pos);
      if (pos == head) {
        out->set_first_time(start);
      } else {
        out->add_time_steps(
            static_cast<uint64_t>((start - previous) / options_.resolution));
      }
      previous = start;
      out->add_prices(last);
      if (points.max == points.min && points.max == points.pk &&
          points.max == points.tr && points.max.price == last) {
        out->add_point_offsets(static_cast<uint64_t>(points.max.time - start));
        continue;
      }
      ebb::v1::BucketPointsSnapshot* b = out->add_buckets();
      b->set_index(pos - head);
      const auto put = [start](const PricePoint& p, ebb::v1::BucketPoint* to) {
        to->set_price(p.price);
        to->set_offset_ns(static_cast<uint64_t>(p.time - start));
      };
      put(points.max, b->mutable_max());
      put(points.min, b->mutable_min());
      put(points.pk, b->mutable_peak());
      put(points.tr, b->mutable_trough());
    }
  }
}

template <bool kExact>
void WindowCore<kExact>::Restore(const ebb::v1::WindowSnapshot& in) {
  evicted_any_ = in.evicted_any();
  asof_price_ = in.asof_price();
  const uint32_t n = static_cast<uint32_t>(in.prices_size());
  if (n == 0) return;
  if constexpr (kExact) {
    TimeNs time = in.first_time();
    for (uint32_t i = 0; i < n; ++i) {
      if (i > 0) time += static_cast<TimeNs>(in.time_steps(i - 1));
      ring_.push_back() = {time, in.prices(i)};
    }
    // The chunks as they were: the front chunk's suffixes, the DABA's chunks
    // of kChunk events (one insert each, O(1) worst case), the open chunk.
    const uint32_t front_end = in.front_chunk();
    const uint32_t open_start = n - in.open_chunk();
    ComputeSuffixes(0, front_end);
    x_.front_end = front_end;
    for (uint32_t first = front_end; first != open_start; first += kChunk) {
      DabaInsert(FoldPoints(first, first + kChunk));
    }
    x_.open_start = open_start;
    x_.open = open_start != n ? FoldPoints(open_start, n) : kHotIdentity;
    front_start_ = ring_[0].start;
  } else {
    TimeNs start = in.first_time();
    int general = 0, single = 0;
    for (uint32_t i = 0; i < n; ++i) {
      if (i > 0) {
        start +=
            static_cast<TimeNs>(in.time_steps(i - 1)) * options_.resolution;
      }
      const double last = in.prices(static_cast<int>(i));
      BucketPoints points;
      if (general < in.buckets_size() && in.buckets(general).index() == i) {
        const ebb::v1::BucketPointsSnapshot& b = in.buckets(general++);
        const auto get = [start](const ebb::v1::BucketPoint& p) {
          return PricePoint{p.price(),
                            start + static_cast<TimeNs>(p.offset_ns())};
        };
        points = {get(b.max()), get(b.min()), get(b.peak()), get(b.trough())};
      } else {
        const PricePoint p{
            last, start + static_cast<TimeNs>(in.point_offsets(single++))};
        points = {p, p, p, p};
      }
      // A bucket's own max drawdown is that of its pair (ExtendOpenBucket
      // computes it so, and 1 - p / p is 0 for a one-point bucket).
      const double mdd = 1.0 - points.tr.price / points.pk.price;
      const uint32_t pos = ring_.tail();
      ring_.push_back();
      if (i + 1 < n) {  // a closed bucket, as BucketedAdd closes one
        ring_[pos].entry = {start, last};
        ring_.cold(pos) = points;
        DabaInsert(
            {{mdd, pos, pos, pos, pos}, points.max.price, points.min.price});
      } else {  // the newest bucket is the open one
        open_ = {start,     last,      points.max, points.min,
                 points.pk, points.tr, mdd};
        has_open_ = true;
        open_end_ = start + options_.resolution;
      }
    }
    front_start_ = front_ != end_ ? ring_[front_].entry.start : kNoFront;
  }
}

template void WindowCore<true>::Snapshot(ebb::v1::WindowSnapshot*) const;
template void WindowCore<false>::Snapshot(ebb::v1::WindowSnapshot*) const;
template void WindowCore<true>::Restore(const ebb::v1::WindowSnapshot&);
template void WindowCore<false>::Restore(const ebb::v1::WindowSnapshot&);

}  // namespace window_internal

namespace {

bool PositiveFinite(double x) { return std::isfinite(x) && x > 0; }

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// The bucket points of a bucketed snapshot: each point in its bucket, the
// extremes and the pair consistent with each other and the last price.
absl::Status CheckBucketPoints(const ebb::v1::BucketPointsSnapshot& b,
                               double last, TimeNs resolution, int k) {
  const std::string field = absl::StrCat("buckets[", k, "]");
  const ebb::v1::BucketPoint* points[] = {&b.max(), &b.min(), &b.peak(),
                                          &b.trough()};
  const char* names[] = {"max", "min", "peak", "trough"};
  for (int i = 0; i < 4; ++i) {
    if (!PositiveFinite(points[i]->price())) {
      return Invalid(
          absl::StrCat(field, ".", names[i], ".price"),
          absl::StrCat(points[i]->price(), " is not a finite positive price"));
    }
    if (points[i]->offset_ns() >= static_cast<uint64_t>(resolution)) {
      return Invalid(absl::StrCat(field, ".", names[i], ".offset_ns"),
                     absl::StrCat(points[i]->offset_ns(),
                                  " is not inside the bucket (resolution ",
                                  resolution, " ns)"));
    }
  }
  const double max = b.max().price(), min = b.min().price();
  if (!(min <= last && last <= max && min <= b.trough().price() &&
        b.trough().price() <= b.peak().price() && b.peak().price() <= max)) {
    return Invalid(field,
                   "prices out of order (want min <= trough <= peak <= max "
                   "and min <= last price <= max)");
  }
  if (b.peak().offset_ns() > b.trough().offset_ns()) {
    return Invalid(field, "the peak comes after the trough");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DrawdownWindow> DrawdownWindow::Restore(
    const WindowOptions& options, const ebb::v1::WindowSnapshot& in) {
  if (in.length_ns() != options.length ||
      in.resolution_ns() != options.resolution) {
    return absl::FailedPreconditionError(absl::StrCat(
        "window taken with length ", in.length_ns(), " ns and resolution ",
        in.resolution_ns(), " ns; this engine has ", options.length, " and ",
        options.resolution));
  }
  const bool exact = options.resolution == 0;
  const int n = in.prices_size();
  if (static_cast<uint64_t>(n) + 1 >=
      ChunkedRing<window_internal::Entry>::kMaxSize) {
    return Invalid("prices", absl::StrCat(n, " entries is over the maximum"));
  }
  if (in.time_steps_size() != (n == 0 ? 0 : n - 1)) {
    return Invalid("time_steps",
                   absl::StrCat(in.time_steps_size(), " steps for ", n,
                                " entries (want one fewer than entries)"));
  }
  if (in.evicted_any() ? !PositiveFinite(in.asof_price())
                       : in.asof_price() != 0) {
    return Invalid("asof_price",
                   absl::StrCat(in.asof_price(),
                                in.evicted_any()
                                    ? " is not a finite positive price"
                                    : " is set although evicted_any is false"));
  }
  for (int i = 0; i < n; ++i) {
    if (!PositiveFinite(in.prices(i))) {
      return Invalid(
          absl::StrCat("prices[", i, "]"),
          absl::StrCat(in.prices(i), " is not a finite positive price"));
    }
  }
  // Times: each step within the window (which also keeps the sums from
  // overflowing), the span shorter than the window.
  const TimeNs unit = exact ? 1 : options.resolution;
  uint64_t span = 0;
  for (int i = 0; i + 1 < n; ++i) {
    const uint64_t step = in.time_steps(i);
    if (!exact && step == 0) {
      return Invalid(absl::StrCat("time_steps[", i, "]"),
                     "0: bucket starts must increase");
    }
    if (step >= static_cast<uint64_t>(options.length) / unit + 1) {
      return Invalid(absl::StrCat("time_steps[", i, "]"),
                     absl::StrCat(step, " reaches beyond the window"));
    }
    span += step * static_cast<uint64_t>(unit);
    if (span >= static_cast<uint64_t>(options.length)) {
      return Invalid("time_steps",
                     absl::StrCat("the entries span ", span,
                                  " ns, not less than the window (",
                                  options.length, " ns)"));
    }
  }
  // Far enough from the ends of the range that every entry's time minus or
  // plus a window is one.
  if (n > 0 &&
      (in.first_time() < std::numeric_limits<TimeNs>::min() + options.length ||
       in.first_time() > std::numeric_limits<TimeNs>::max() -
                             static_cast<TimeNs>(span) - options.length)) {
    return Invalid("first_time",
                   absl::StrCat(in.first_time(), " is out of range"));
  }
  if (exact) {
    if (in.point_offsets_size() != 0 || in.buckets_size() != 0) {
      return Invalid("buckets", "bucket points in an exact window");
    }
    constexpr uint32_t kChunk = 64;
    const uint32_t front = in.front_chunk(), open = in.open_chunk();
    const uint32_t size = static_cast<uint32_t>(n);
    const bool layout_ok = size == 0 ? front == 0 && open == 0
                                     : front >= 1 && front <= kChunk &&
                                           open <= kChunk && front <= size &&
                                           open <= size - front &&
                                           (size - front - open) % kChunk == 0;
    if (!layout_ok) {
      return Invalid("front_chunk",
                     absl::StrCat("front chunk ", front, " and open chunk ",
                                  open, " do not divide ", n,
                                  " entries into chunks of ", kChunk));
    }
    DrawdownWindow window(options);
    std::get<0>(window.core_).Restore(in);
    return window;
  }
  if (in.front_chunk() != 0 || in.open_chunk() != 0) {
    return Invalid("front_chunk", "a chunk layout in a bucketed window");
  }
  if (n > 0 &&
      FloorTo(in.first_time(), options.resolution) != in.first_time()) {
    return Invalid(
        "first_time",
        absl::StrCat(in.first_time(), " is not a bucket start (resolution ",
                     options.resolution, " ns)"));
  }
  if (in.point_offsets_size() + in.buckets_size() != n) {
    return Invalid(
        "point_offsets",
        absl::StrCat(in.point_offsets_size(), " one-point buckets and ",
                     in.buckets_size(), " others for ", n, " entries"));
  }
  for (int k = 0; k < in.buckets_size(); ++k) {
    const ebb::v1::BucketPointsSnapshot& b = in.buckets(k);
    if (b.index() >= static_cast<uint32_t>(n) ||
        (k > 0 && b.index() <= in.buckets(k - 1).index())) {
      return Invalid(absl::StrCat("buckets[", k, "].index"),
                     absl::StrCat(b.index(),
                                  " is not after the previous bucket's and "
                                  "below the entries (",
                                  n, ")"));
    }
    RETURN_IF_ERROR(CheckBucketPoints(b, in.prices(static_cast<int>(b.index())),
                                      options.resolution, k));
  }
  for (int k = 0; k < in.point_offsets_size(); ++k) {
    if (in.point_offsets(k) >= static_cast<uint64_t>(options.resolution)) {
      return Invalid(absl::StrCat("point_offsets[", k, "]"),
                     absl::StrCat(in.point_offsets(k),
                                  " is not inside the bucket (resolution ",
                                  options.resolution, " ns)"));
    }
  }
  DrawdownWindow window(options);
  std::get<1>(window.core_).Restore(in);
  return window;
}

void DrawdownWindow::Snapshot(ebb::v1::WindowSnapshot* out) const {
  std::visit([out](const auto& core) { core.Snapshot(out); }, core_);
}

}  // namespace ebb
