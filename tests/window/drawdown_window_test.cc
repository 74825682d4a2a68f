// DrawdownWindow against the brute-force reference of the contract
// (brute_force.h), on many thousands of deterministic random sequences, in
// exact and bucketed modes.

#include "window/drawdown_window.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/window/brute_force.h"
#include "window/huge_pages.h"

namespace ebb {
namespace {

using ebb_ref::BruteForce;
using ebb_ref::RefEvent;

constexpr TimeNs kHour = 60 * kNanosPerMinute;

// ---------------------------------------------------------------------------------------------
// Random sequences.

enum class PriceKind { kWalk, kDiscrete, kRuns, kExtreme, kUlps, kMixed };

struct SequenceParams {
  int n = 100;
  TimeNs length = 30;
  TimeNs resolution = 0;
  TimeNs start = 0;
  TimeNs grid = 1;       // every increment is a multiple of this
  double mean_step = 1;  // mean increment (ns) of a non-burst step
  double burst = 0;      // probability of a zero increment
  double gap = 0;        // probability of a gap in [W, 3W]
  PriceKind prices = PriceKind::kWalk;
};

std::string Describe(const SequenceParams& p) {
  return "n=" + std::to_string(p.n) + " W=" + std::to_string(p.length) +
         " R=" + std::to_string(p.resolution) +
         " start=" + std::to_string(p.start) +
         " grid=" + std::to_string(p.grid) +
         " mean_step=" + std::to_string(p.mean_step) +
         " burst=" + std::to_string(p.burst) + " gap=" + std::to_string(p.gap) +
         " prices=" + std::to_string(static_cast<int>(p.prices));
}

double NextPrice(std::mt19937_64& rng, PriceKind kind, double prev, int* run,
                 bool* rising) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  switch (kind) {
    case PriceKind::kWalk: {
      std::normal_distribution<double> z(0.0, 0.03);
      return prev * std::exp(z(rng));
    }
    case PriceKind::kDiscrete:
      return static_cast<double>(1 + rng() % 5);
    case PriceKind::kRuns: {
      if (*run <= 0) {
        *run = 1 + static_cast<int>(rng() % 40);
        *rising = (rng() & 1) != 0;
      }
      --*run;
      const double step = 1.0 + 0.001 + 0.05 * u(rng);
      return *rising ? prev * step : prev / step;
    }
    case PriceKind::kExtreme:
      // Log-uniform over 1e-300 .. 1e300: ratios underflow to 0 and overflow to
      // infinity.
      return std::pow(10.0, -300.0 + 600.0 * u(rng));
    case PriceKind::kUlps: {
      // A few ulps around 1.0 (and around a large and a tiny magnitude).
      static const double kBases[] = {1.0, 3.0e7, 7.0e-9};
      double p = kBases[rng() % 3];
      const int ulps = static_cast<int>(rng() % 9) - 4;
      for (int i = 0; i < std::abs(ulps); ++i) {
        p = std::nextafter(p, ulps > 0 ? INFINITY : 0.0);
      }
      return p;
    }
    case PriceKind::kMixed:
      break;
  }
  return prev;
}

std::vector<RefEvent> Generate(std::mt19937_64& rng, const SequenceParams& p) {
  std::vector<RefEvent> out;
  out.reserve(p.n);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::exponential_distribution<double> expo(1.0);
  TimeNs t = p.start;
  double price = 100.0;
  int run = 0;
  bool rising = true;
  PriceKind kind = p.prices == PriceKind::kMixed ? PriceKind::kWalk : p.prices;
  for (int i = 0; i < p.n; ++i) {
    if (i > 0) {
      TimeNs step;
      const double r = u(rng);
      if (r < p.gap) {
        step = p.length + static_cast<TimeNs>(u(rng) * 2.0 *
                                              static_cast<double>(p.length));
      } else if (r < p.gap + p.burst) {
        step = 0;
      } else {
        step = static_cast<TimeNs>(expo(rng) * p.mean_step);
      }
      step = step / p.grid * p.grid;
      t += step;
    }
    if (p.prices == PriceKind::kMixed && rng() % 16 == 0) {
      kind = static_cast<PriceKind>(rng() % 5);
      if (kind == PriceKind::kExtreme || kind == PriceKind::kUlps)
        price = 100.0;
    }
    price = NextPrice(rng, kind, price, &run, &rising);
    if (!(price > 0) || !std::isfinite(price))
      price = 1.0;  // the walk cannot leave (0, inf)
    out.push_back({t, price});
  }
  return out;
}

// Random parameters: window 30 units of a random base unit, resolution a
// divisor of it (or 7 units, which does not divide it), windows holding 1 to a
// few hundred entries.
SequenceParams RandomParams(std::mt19937_64& rng, int max_n) {
  static const TimeNs kUnits[] = {
      1, 7, 1000, kNanosPerSecond, kNanosPerMinute, kHour, kNanosPerDay};
  static const int kResolutionUnits[] = {0, 0, 1, 3, 5, 10, 30, 7};
  static const double kStepFractions[] = {0.5, 0.12, 0.03, 0.01, 0.004};
  std::uniform_real_distribution<double> u(0.0, 1.0);
  SequenceParams p;
  const TimeNs unit = kUnits[rng() % std::size(kUnits)];
  p.length = 30 * unit;
  p.resolution = kResolutionUnits[rng() % std::size(kResolutionUnits)] * unit;
  p.n = 1 + static_cast<int>(rng() % max_n);
  switch (rng() % 4) {
    case 0:
      p.grid = 1;
      break;
    case 1:
      p.grid = unit;  // many events exactly W apart: the half-open edge of the
                      // window
      break;
    case 2:
      p.grid = p.resolution > 0 ? p.resolution : unit;
      break;
    default:
      p.grid = std::max<TimeNs>(1, unit / 2);
      break;
  }
  p.mean_step = kStepFractions[rng() % std::size(kStepFractions)] *
                static_cast<double>(p.length);
  if (p.mean_step < static_cast<double>(p.grid))
    p.mean_step = static_cast<double>(p.grid);
  static const double kBursts[] = {0.0, 0.2, 0.6};
  p.burst = kBursts[rng() % 3];
  p.gap = rng() % 3 == 0 ? 0.03 : 0.0;
  // Starts anywhere in +-1e18 ns (1938 .. 2001), sometimes on 0 or on a bucket
  // boundary.
  switch (rng() % 3) {
    case 0:
      p.start = 0;
      break;
    case 1:
      p.start = static_cast<TimeNs>((u(rng) * 2.0 - 1.0) * 1e18);
      break;
    default:
      p.start = (static_cast<TimeNs>(rng() % 2000) - 1000) * p.length;
      break;
  }
  p.prices = static_cast<PriceKind>(rng() % 6);
  return p;
}

// What the random sequences exercised (so a generator change cannot quietly
// stop covering a case).
struct Coverage {
  int events = 0;
  int full_window = 0;
  int mdd_positive = 0;
  int edge = 0;       // some earlier entry's key is exactly t - W
  int same_time = 0;  // the previous event had the same time
  int extreme = 0;    // the price is below 1e-100 or above 1e100
  uint32_t max_entries = 0;
};

// Runs one sequence through a DrawdownWindow and the brute force; returns the
// first mismatch.
std::string RunAgainstBruteForce(const SequenceParams& p,
                                 const std::vector<RefEvent>& events,
                                 Coverage* coverage = nullptr) {
  DrawdownWindow window(WindowOptions{p.length, p.resolution});
  BruteForce ref(p.length, p.resolution);
  WindowMetrics m;
  for (size_t i = 0; i < events.size(); ++i) {
    window.Add(events[i].time, events[i].price, &m);
    ref.Add(events[i].time, events[i].price);
    std::string err = ref.Check(m);
    if (!window.TEST_CheckInvariants())
      err += "TEST_CheckInvariants() failed; ";
    if (window.entries() != m.entries)
      err += "entries() differs from metrics.entries; ";
    if (coverage != nullptr) {
      Coverage& c = *coverage;
      ++c.events;
      c.full_window += m.full_window ? 1 : 0;
      c.mdd_positive += m.max_drawdown > 0 ? 1 : 0;
      c.same_time += i > 0 && events[i - 1].time == events[i].time ? 1 : 0;
      c.extreme += events[i].price < 1e-100 || events[i].price > 1e100 ? 1 : 0;
      c.max_entries = std::max(c.max_entries, m.entries);
      for (const RefEvent& x : ref.events()) {
        if (ref.Key(x) == events[i].time - p.length) {
          ++c.edge;
          break;
        }
      }
    }
    if (!err.empty()) {
      std::string seq;
      for (size_t j = 0; j <= i && j < 40; ++j) {
        seq += " (" + std::to_string(events[j].time) + ", " +
               ebb_ref::FormatDouble(events[j].price) + ")";
      }
      return Describe(p) + ": " + err + " first events:" + seq;
    }
  }
  return "";
}

TEST(DrawdownWindowTest, SingleEvent) {
  for (TimeNs resolution : {TimeNs{0}, TimeNs{10}}) {
    DrawdownWindow window(WindowOptions{30, resolution});
    WindowMetrics m;
    window.Add(1234, 42.5, &m);
    EXPECT_EQ(m.peak, (PricePoint{42.5, 1234}));
    EXPECT_EQ(m.drawdown, 0.0);
    EXPECT_EQ(m.max_drawdown, 0.0);
    EXPECT_EQ(m.mdd_peak, m.mdd_trough);
    EXPECT_EQ(m.mdd_peak, (PricePoint{42.5, 1234}));
    EXPECT_FALSE(m.change.has_value());
    EXPECT_FALSE(m.full_window);
    EXPECT_EQ(m.entries, 1u);
    EXPECT_TRUE(window.TEST_CheckInvariants());
  }
}

// A window takes storage as it fills: one event holds a short ring block
// (exact: 4 entries of 16 bytes; bucketed: one 64-byte slot and its 64-byte
// cold slot), the rings' inline block tables (64 bytes each) and, in exact
// mode, one 40-byte suffix summary; 30 events, 32 entries and 32 summaries.
TEST(DrawdownWindowTest, StorageGrowsAsTheWindowFills) {
  constexpr size_t kTable = 64;
  DrawdownWindow exact(WindowOptions{30 * kNanosPerDay, 0});
  DrawdownWindow bucketed(WindowOptions{30 * kNanosPerDay, kNanosPerMinute});
  WindowMetrics m;
  exact.Add(kNanosPerDay, 10, &m);
  bucketed.Add(kNanosPerDay, 10, &m);
  EXPECT_EQ(exact.MemoryBytes(), 4 * 16 + kTable + kTable + 40);
  EXPECT_EQ(bucketed.MemoryBytes(), 128 + kTable);
  for (int day = 2; day <= 30; ++day) {
    exact.Add(day * kNanosPerDay, 10 + day, &m);
    bucketed.Add(day * kNanosPerDay, 10 + day, &m);
  }
  EXPECT_EQ(exact.MemoryBytes(), 32 * 16 + kTable + kTable + 40);
  exact.Add(31 * kNanosPerDay, 5, &m);  // the first event leaves
  EXPECT_EQ(m.entries, 30u);
  // The open chunk (days 2-31) became the front chunk: 32 suffixes (1,280
  // bytes and a cache line's gap, but under ASan, where each block is its own
  // allocation).
  const auto gap = [](size_t bytes, size_t align) {
    return BlockPool::For(bytes, align).Footprint() - bytes;
  };
  EXPECT_EQ(exact.MemoryBytes(),
            32 * 16 + kTable + kTable + 32 * 40 + gap(32 * 40, 8));
  // 30 one-minute buckets: 32 slots of 128 bytes and a cache line's gap.
  EXPECT_EQ(bucketed.MemoryBytes(), 32 * 128 + gap(32 * 128, 64) + kTable);
  EXPECT_TRUE(exact.TEST_CheckInvariants());
  EXPECT_TRUE(bucketed.TEST_CheckInvariants());
}

TEST(DrawdownWindowTest, HandComputedExactWindow) {
  // W = 10. Events: (0, 100) (3, 120) (5, 90) (10, 100) (13, 80) (20, 130) (30,
  // 65).
  DrawdownWindow window(WindowOptions{10, 0});
  WindowMetrics m;
  window.Add(0, 100, &m);
  window.Add(3, 120, &m);
  window.Add(5, 90, &m);
  EXPECT_EQ(m.peak, (PricePoint{120, 3}));
  EXPECT_EQ(m.drawdown, 1.0 - 90.0 / 120.0);
  EXPECT_EQ(m.max_drawdown, 1.0 - 90.0 / 120.0);
  EXPECT_EQ(m.mdd_peak, (PricePoint{120, 3}));
  EXPECT_EQ(m.mdd_trough, (PricePoint{90, 5}));
  EXPECT_FALSE(m.change.has_value());
  EXPECT_EQ(m.entries, 3u);
  // t = 10: the window is (0, 10], the event at 0 has left; change = 100 / 100
  // - 1.
  window.Add(10, 100, &m);
  EXPECT_EQ(m.entries, 3u);
  ASSERT_TRUE(m.change.has_value());
  EXPECT_EQ(*m.change, 0.0);
  EXPECT_TRUE(m.full_window);
  // t = 13: (3, 13]: 90, 100, 80. Peak 100 at 10, drawdown 0.2, mdd = 1 -
  // 80/100.
  window.Add(13, 80, &m);
  EXPECT_EQ(m.peak, (PricePoint{100, 10}));
  EXPECT_EQ(m.entries, 3u);
  EXPECT_EQ(m.max_drawdown, 1.0 - 80.0 / 100.0);
  EXPECT_EQ(m.mdd_peak, (PricePoint{100, 10}));
  EXPECT_EQ(m.mdd_trough, (PricePoint{80, 13}));
  ASSERT_TRUE(m.change.has_value());
  EXPECT_EQ(*m.change, 80.0 / 120.0 - 1.0);  // asof(3) = 120
  // t = 20: (10, 20]: 80, 130; the asof event is (10, 100).
  window.Add(20, 130, &m);
  EXPECT_EQ(m.peak, (PricePoint{130, 20}));
  EXPECT_EQ(m.drawdown, 0.0);
  EXPECT_EQ(m.max_drawdown, 0.0);
  EXPECT_EQ(m.mdd_peak, m.mdd_trough);
  EXPECT_EQ(*m.change, 130.0 / 100.0 - 1.0);
  EXPECT_EQ(m.entries, 2u);
  // t = 30: (20, 30]: only itself; asof(20) = 130.
  window.Add(30, 65, &m);
  EXPECT_EQ(m.peak, (PricePoint{65, 30}));
  EXPECT_EQ(m.entries, 1u);
  EXPECT_EQ(*m.change, 65.0 / 130.0 - 1.0);
}

TEST(DrawdownWindowTest, HandComputedBucketedWindow) {
  // W = 30, R = 10. Buckets [0,10) [10,20) [20,30) ...
  DrawdownWindow window(WindowOptions{30, 10});
  WindowMetrics m;
  window.Add(1, 50, &m);
  window.Add(9, 40, &m);   // bucket 0: max 50, min 40
  window.Add(12, 45, &m);  // bucket 10
  EXPECT_EQ(m.entries, 2u);
  EXPECT_EQ(m.max_drawdown, 1.0 - 40.0 / 50.0);
  EXPECT_EQ(m.mdd_peak, (PricePoint{50, 1}));
  EXPECT_EQ(m.mdd_trough, (PricePoint{40, 9}));
  // t = 30: horizon 0, bucket 0 starts at 0 <= 0 and leaves; change uses its
  // last price 40.
  window.Add(30, 44, &m);
  EXPECT_EQ(m.entries, 2u);  // buckets 10 and 30
  EXPECT_EQ(m.peak, (PricePoint{45, 12}));
  ASSERT_TRUE(m.change.has_value());
  EXPECT_EQ(*m.change, 44.0 / 40.0 - 1.0);
  EXPECT_TRUE(m.full_window);
  // t = 39: horizon 9: bucket 10 stays (its start 10 > 9) although its event at
  // 12 is not.
  window.Add(39, 30, &m);
  EXPECT_EQ(m.entries, 2u);
  EXPECT_EQ(m.peak, (PricePoint{45, 12}));
  EXPECT_EQ(m.max_drawdown, 1.0 - 30.0 / 45.0);
  EXPECT_EQ(*m.change, 30.0 / 40.0 - 1.0);
}

TEST(DrawdownWindowTest, TiesPreferTheLatestPeak) {
  DrawdownWindow window(WindowOptions{100, 0});
  WindowMetrics m;
  window.Add(1, 10, &m);
  window.Add(2, 7, &m);
  window.Add(3, 10, &m);
  window.Add(3, 10, &m);
  window.Add(4, 9, &m);
  EXPECT_EQ(m.peak, (PricePoint{10, 3}));
  EXPECT_EQ(m.max_drawdown, 1.0 - 7.0 / 10.0);
  EXPECT_EQ(m.mdd_peak, (PricePoint{10, 1}));
  EXPECT_EQ(m.mdd_trough, (PricePoint{7, 2}));
}

TEST(DrawdownWindowTest, EqualPricesHaveZeroDrawdownAndOnePoint) {
  // Prices that never fall: max_drawdown 0 and, per the contract, mdd_peak ==
  // mdd_trough.
  for (TimeNs resolution : {TimeNs{0}, TimeNs{10}}) {
    DrawdownWindow window(WindowOptions{30, resolution});
    WindowMetrics m;
    window.Add(1, 5.0, &m);
    window.Add(2, 5.0, &m);
    EXPECT_EQ(m.max_drawdown, 0.0);
    EXPECT_EQ(m.mdd_peak, m.mdd_trough)
        << "resolution " << resolution << ": "
        << ebb_ref::FormatPoint(m.mdd_peak) << " vs "
        << ebb_ref::FormatPoint(m.mdd_trough);
    window.Add(15, 6.0, &m);
    window.Add(16, 6.0, &m);
    EXPECT_EQ(m.max_drawdown, 0.0);
    EXPECT_EQ(m.mdd_peak, m.mdd_trough) << "resolution " << resolution;
  }
}

TEST(DrawdownWindowTest, RandomSequencesSmall) {
  std::mt19937_64 rng(20251121);
  Coverage coverage;
  int exact = 0, bucketed = 0;
  for (int c = 0; c < 6000; ++c) {
    const SequenceParams p = RandomParams(rng, 120);
    const std::vector<RefEvent> events = Generate(rng, p);
    (p.resolution == 0 ? exact : bucketed)++;
    const std::string err = RunAgainstBruteForce(p, events, &coverage);
    ASSERT_TRUE(err.empty()) << "case " << c << ": " << err;
  }
  std::cout << "  " << coverage.events << " events: full_window "
            << coverage.full_window << ", max_drawdown > 0 "
            << coverage.mdd_positive << ", key at t - W " << coverage.edge
            << ", same time " << coverage.same_time << ", extreme "
            << coverage.extreme << ", max entries " << coverage.max_entries
            << "\n";
  EXPECT_GT(exact, 1000);
  EXPECT_GT(bucketed, 3000);
  EXPECT_GT(coverage.events, 300'000);
  EXPECT_GT(coverage.full_window, 100'000);
  EXPECT_GT(coverage.mdd_positive, 100'000);
  EXPECT_GT(coverage.edge, 10'000);
  EXPECT_GT(coverage.same_time, 50'000);
  EXPECT_GT(coverage.extreme, 10'000);
  EXPECT_GE(coverage.max_entries, 60u);
}

TEST(DrawdownWindowTest, RandomSequencesLargeWindows) {
  // Dense sequences whose windows hold up to a few hundred entries.
  std::mt19937_64 rng(77);
  Coverage coverage;
  for (int c = 0; c < 150; ++c) {
    SequenceParams p = RandomParams(rng, 1);
    p.n = 300 + static_cast<int>(rng() % 500);
    p.mean_step = static_cast<double>(p.length) / 300.0;
    p.grid = 1;
    p.burst = c % 2 == 0 ? 0.0 : 0.3;
    const std::vector<RefEvent> events = Generate(rng, p);
    const std::string err = RunAgainstBruteForce(p, events, &coverage);
    ASSERT_TRUE(err.empty()) << "case " << c << ": " << err;
  }
  EXPECT_GE(coverage.max_entries, 250u);
}

TEST(DrawdownWindowTest, MonotoneRunsAndPlateaus) {
  for (TimeNs resolution :
       {TimeNs{0}, TimeNs{1}, TimeNs{3}, TimeNs{5}, TimeNs{10}, TimeNs{30}}) {
    SequenceParams p;
    p.length = 30;
    p.resolution = resolution;
    for (int shape = 0; shape < 4; ++shape) {
      std::vector<RefEvent> events;
      for (int i = 0; i < 200; ++i) {
        double price;
        switch (shape) {
          case 0:
            price = 1.0 + i;  // strictly rising
            break;
          case 1:
            price = 1000.0 - i;  // strictly falling
            break;
          case 2:
            price = 7.0;  // flat
            break;
          default:
            price =
                (i / 20) % 2 == 0 ? 100.0 + i : 400.0 - i;  // alternating runs
            break;
        }
        events.push_back({i / 2, price});  // two events per time unit
      }
      const std::string err = RunAgainstBruteForce(p, events);
      ASSERT_TRUE(err.empty()) << "shape " << shape << ": " << err;
    }
  }
}

TEST(DrawdownWindowTest, GapsLongerThanTheWindowEmptyIt) {
  for (TimeNs resolution : {TimeNs{0}, TimeNs{10}}) {
    DrawdownWindow window(WindowOptions{30, resolution});
    WindowMetrics m;
    window.Add(0, 100, &m);
    window.Add(5, 50, &m);
    EXPECT_EQ(m.max_drawdown, 0.5);
    window.Add(1000, 20, &m);
    EXPECT_EQ(m.entries, 1u);
    EXPECT_EQ(m.peak, (PricePoint{20, 1000}));
    EXPECT_EQ(m.max_drawdown, 0.0);
    EXPECT_EQ(m.drawdown, 0.0);
    ASSERT_TRUE(m.change.has_value());
    EXPECT_EQ(*m.change,
              20.0 / 50.0 - 1.0);  // asof = the last event before the gap
    EXPECT_TRUE(m.full_window);
    EXPECT_TRUE(window.TEST_CheckInvariants());
  }
}

TEST(DrawdownWindowTest, ExtremeValues) {
  DrawdownWindow window(WindowOptions{30, 0});
  BruteForce ref(30, 0);
  WindowMetrics m;
  const double prices[] = {
      1e300,   1e-300, 1e300, std::nextafter(1e300, 0.0), 5e-324, 1.0,
      1.7e308, 1e-300, 2.0,   std::nextafter(2.0, 0.0),   2.0};
  TimeNs t = 0;
  for (double p : prices) {
    window.Add(t, p, &m);
    ref.Add(t, p);
    const std::string err = ref.Check(m);
    ASSERT_TRUE(err.empty()) << err;
    ++t;
  }
  // 1 - 1e-300 / 1e300 underflows to exactly 1.
  EXPECT_EQ(m.max_drawdown, 1.0);
}

// Events only on bucket starts (daily bars, R dividing a day): bucketed ==
// exact.
TEST(DrawdownWindowTest, BucketStartEventsMatchExactMode) {
  std::mt19937_64 rng(1234);
  const TimeNs kResolutions[] = {kNanosPerMinute, kHour, 6 * kHour,
                                 kNanosPerDay};
  const TimeNs length = 30 * kNanosPerDay;
  int compared_pairs = 0;
  for (int c = 0; c < 400; ++c) {
    const TimeNs resolution = kResolutions[c % 4];
    const bool bursts = c % 5 == 4;  // several events on the same bucket start
    std::vector<RefEvent> events;
    TimeNs day = static_cast<TimeNs>(rng() % 40000) - 20000;  // 1915 .. 2024
    double price = 100;
    const int n = 1 + static_cast<int>(rng() % 120);
    std::normal_distribution<double> z(0.0, 0.04);
    for (int i = 0; i < n; ++i) {
      if (i > 0 && !(bursts && rng() % 3 == 0)) {
        const uint64_t r = rng() % 20;
        day += r < 15 ? 1 : r < 18 ? 3 : 45;
      }
      price = rng() % 7 == 0 ? price : price * std::exp(z(rng));
      events.push_back({day * kNanosPerDay, price});
    }
    DrawdownWindow exact(WindowOptions{length, 0});
    DrawdownWindow bucketed(WindowOptions{length, resolution});
    BruteForce ref(length, 0);
    BruteForce ref_bucketed(length, resolution);
    WindowMetrics a, b;
    for (const RefEvent& e : events) {
      exact.Add(e.time, e.price, &a);
      bucketed.Add(e.time, e.price, &b);
      ref.Add(e.time, e.price);
      ref_bucketed.Add(e.time, e.price);
      ASSERT_EQ(ref.Check(a), "");
      ASSERT_EQ(ref_bucketed.Check(b), "");
      ASSERT_EQ(a.peak, b.peak);
      ASSERT_EQ(a.drawdown, b.drawdown);
      ASSERT_EQ(a.max_drawdown, b.max_drawdown);
      ASSERT_EQ(a.change.has_value(), b.change.has_value());
      if (a.change) {
        ASSERT_EQ(*a.change, *b.change);
      }
      ASSERT_EQ(a.full_window, b.full_window);
      if (!bursts) {
        ASSERT_EQ(a.entries, b.entries);
      }
      if (a.max_drawdown > 0 && ref.CountMaxPairs() == 1) {
        ASSERT_EQ(a.mdd_peak, b.mdd_peak);
        ASSERT_EQ(a.mdd_trough, b.mdd_trough);
        ++compared_pairs;
      }
    }
  }
  EXPECT_GT(compared_pairs, 1000);
}

// Shifting every event by the same amount (a multiple of R when bucketed)
// changes no metric.
TEST(DrawdownWindowTest, ShiftInvariance) {
  std::mt19937_64 rng(99);
  for (int c = 0; c < 1500; ++c) {
    const SequenceParams p = RandomParams(rng, 150);
    const std::vector<RefEvent> events = Generate(rng, p);
    // Shift so the result stays within +-2e18 ns.
    TimeNs shift = static_cast<TimeNs>(rng() % 1'000'000'000'000'000'000ull) -
                   500'000'000'000'000'000;
    if (c % 3 == 0)
      shift = static_cast<TimeNs>(rng() % 2001) - 1000;  // small, crossing 0
    if (p.resolution > 0) shift = shift / p.resolution * p.resolution;
    DrawdownWindow a(WindowOptions{p.length, p.resolution});
    DrawdownWindow b(WindowOptions{p.length, p.resolution});
    WindowMetrics ma, mb;
    for (const RefEvent& e : events) {
      a.Add(e.time, e.price, &ma);
      b.Add(e.time + shift, e.price, &mb);
      const std::string where = Describe(p) +
                                " shift=" + std::to_string(shift) + " case " +
                                std::to_string(c);
      ASSERT_EQ(ma.peak.price, mb.peak.price) << where;
      ASSERT_EQ(ma.peak.time + shift, mb.peak.time) << where;
      ASSERT_EQ(ma.drawdown, mb.drawdown) << where;
      ASSERT_EQ(ma.max_drawdown, mb.max_drawdown) << where;
      ASSERT_EQ(ma.mdd_peak.price, mb.mdd_peak.price) << where;
      ASSERT_EQ(ma.mdd_peak.time + shift, mb.mdd_peak.time) << where;
      ASSERT_EQ(ma.mdd_trough.price, mb.mdd_trough.price) << where;
      ASSERT_EQ(ma.mdd_trough.time + shift, mb.mdd_trough.time) << where;
      ASSERT_EQ(ma.change.has_value(), mb.change.has_value()) << where;
      if (ma.change) {
        ASSERT_EQ(*ma.change, *mb.change) << where;
      }
      ASSERT_EQ(ma.full_window, mb.full_window) << where;
      ASSERT_EQ(ma.entries, mb.entries) << where;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// A long slide: ~100k-200k entries, 1M events, against an O(n) incremental
// reference.

struct LongCheck {
  TimeNs length;
  TimeNs resolution;
};

TimeNs Key(const LongCheck& c, TimeNs t) {
  return c.resolution == 0 ? t : ebb_ref::RefBucketStart(t, c.resolution);
}

void RunLongSlide(const LongCheck& c, const std::vector<RefEvent>& ev,
                  uint32_t* max_entries) {
  DrawdownWindow window(WindowOptions{c.length, c.resolution});
  WindowMetrics m;
  std::deque<size_t>
      peaks;     // indices with decreasing prices; the front is the window max
  size_t s = 0;  // first index in the window
  // new_bucket[i]: ev[i] starts a new key (prefix counts give distinct keys in
  // [s, i]).
  std::vector<uint32_t> distinct(ev.size() + 1, 0);
  int full_checks = 0;
  for (size_t i = 0; i < ev.size(); ++i) {
    const TimeNs t = ev[i].time;
    const double p = ev[i].price;
    window.Add(t, p, &m);
    distinct[i + 1] =
        distinct[i] + ((i == 0 || Key(c, ev[i - 1].time) != Key(c, t)) ? 1 : 0);
    const TimeNs horizon = t - c.length;
    while (Key(c, ev[s].time) <= horizon) ++s;
    while (!peaks.empty() && ev[peaks.back()].price <= p) peaks.pop_back();
    peaks.push_back(i);
    while (peaks.front() < s) peaks.pop_front();
    const RefEvent& peak = ev[peaks.front()];
    ASSERT_EQ(m.peak, (PricePoint{peak.price, peak.time})) << "event " << i;
    ASSERT_EQ(m.drawdown, 1.0 - p / peak.price) << "event " << i;
    ASSERT_EQ(m.full_window, s > 0) << "event " << i;
    ASSERT_EQ(m.change.has_value(), s > 0) << "event " << i;
    if (s > 0) {
      ASSERT_EQ(*m.change, p / ev[s - 1].price - 1.0) << "event " << i;
    }
    const uint32_t entries = c.resolution == 0
                                 ? static_cast<uint32_t>(i - s + 1)
                                 : distinct[i + 1] - distinct[s];
    ASSERT_EQ(m.entries, entries) << "event " << i;
    *max_entries = std::max(*max_entries, entries);
    ASSERT_TRUE(window.TEST_CheckInvariants()) << "event " << i;
    // Cheap witness checks on every event.
    ASSERT_GE(m.max_drawdown, m.drawdown) << "event " << i;
    if (m.max_drawdown > 0) {
      ASSERT_EQ(1.0 - m.mdd_trough.price / m.mdd_peak.price, m.max_drawdown)
          << "event " << i;
      ASSERT_LE(m.mdd_peak.time, m.mdd_trough.time) << "event " << i;
      ASSERT_GT(Key(c, m.mdd_peak.time), horizon) << "event " << i;
    }
    if (i % 997 == 0) {
      // Full scan of the window: running max of the earlier prices.
      double best = 0, running = ev[s].price;
      for (size_t j = s + 1; j <= i; ++j) {
        best = std::max(best, 1.0 - ev[j].price / running);
        running = std::max(running, ev[j].price);
      }
      ASSERT_EQ(m.max_drawdown, best) << "event " << i;
      if (best > 0) {
        size_t pk = i + 1, tr = i + 1;
        for (size_t j = s; j <= i; ++j) {
          if (ev[j].price == m.mdd_peak.price &&
              ev[j].time == m.mdd_peak.time) {
            pk = j;
            break;
          }
        }
        for (size_t j = i + 1; j-- > s;) {
          if (ev[j].price == m.mdd_trough.price &&
              ev[j].time == m.mdd_trough.time) {
            tr = j;
            break;
          }
        }
        ASSERT_LE(pk, i) << "event " << i;
        ASSERT_LE(tr, i) << "event " << i;
        ASSERT_LT(pk, tr) << "event " << i;
      }
      ++full_checks;
    }
  }
  EXPECT_GT(full_checks, 1000);
}

// Phases of different densities (the window grows to ~200k entries, shrinks,
// empties in a gap and regrows), so ring blocks are recycled and the block
// table grows while its head is mid-table and wraps around.
std::vector<RefEvent> LongSequence(uint64_t seed, TimeNs length, int n) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0.0, 0.002);
  std::vector<RefEvent> ev;
  ev.reserve(n);
  TimeNs t = 1'700'000'000'000'000'000;
  double price = 50000;
  for (int i = 0; i < n; ++i) {
    const int phase = i / (n / 5);
    TimeNs step;
    switch (phase) {
      case 0:
        step = static_cast<TimeNs>(rng() % 3);  // mean 1
        break;
      case 1:
        step = rng() % 4 == 0 ? 2 : 0;  // mean 0.5: the window doubles
        break;
      case 2:
        step = static_cast<TimeNs>(rng() % 5);  // mean 2: the window halves
        break;
      case 3:
        step = (i % 100000 == 0) ? 3 * length : static_cast<TimeNs>(rng() % 3);
        break;
      default:
        step = static_cast<TimeNs>(rng() % 3);
        break;
    }
    t += step;
    price *= std::exp(z(rng));
    ev.push_back({t, price});
  }
  return ev;
}

TEST(DrawdownWindowTest, LongSlideExact) {
  const LongCheck c{100'000, 0};
  const std::vector<RefEvent> ev = LongSequence(5, c.length, 1'000'000);
  uint32_t max_entries = 0;
  RunLongSlide(c, ev, &max_entries);
  EXPECT_GT(max_entries, 150'000u);
}

TEST(DrawdownWindowTest, LongSlideBucketed) {
  // R = 3: about 3 events per bucket, ~100k buckets in the window.
  const LongCheck c{300'000, 3};
  const std::vector<RefEvent> ev = LongSequence(6, c.length, 1'000'000);
  uint32_t max_entries = 0;
  RunLongSlide(c, ev, &max_entries);
  EXPECT_GT(max_entries, 50'000u);
}

}  // namespace
}  // namespace ebb
