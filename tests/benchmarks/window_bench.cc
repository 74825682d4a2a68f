// Google Benchmark: one DrawdownWindow::Add in steady state. The window is full
// and slides, so every timed call inserts, evicts and queries. Time per
// iteration is ns per event.
//
// BM_WindowAdd/exact/N
//     Exact mode, N entries: one event per second, W = N seconds; prices are a
//     seeded geometric random walk.
// BM_WindowAdd/exact_falling/N
//     Exact mode, a strictly falling series: the window's max is always its
//     oldest entry (a full rescan per event in naive designs).
// BM_WindowAdd/bucketed/N
//     Bucketed mode, N one-minute buckets of 60 one-second events each (W = N
//     minutes): 59 of 60 calls update the open bucket, one closes it, evicts
//     the oldest bucket and queries.
// BM_BruteForce/exact/N
//     The baseline: keep the N prices and rescan them for every event.
//
// N = 30, 43,200 and 2,592,000 (the brute force: 30 and 43,200 only).
// Counters: entries (retained by the window) and bytes_per_entry
// (MemoryBytes() / entries()). Each case is warmed up once (the window filled
// and slid past two ring blocks, so block recycling is in steady state) and
// reused by gbench's runs and repetitions. Prices are generated in batches
// outside the timed region (PauseTiming once per 65,536 events).
//
// Run (medians of 3):
//   build/release/tests/benchmarks/ebb_window_bench --benchmark_repetitions=3
//       --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "base/time_util.h"
#include "tests/benchmarks/window_feed.h"
#include "window/chunked_ring.h"
#include "window/drawdown_window.h"

namespace ebb {
namespace {

constexpr size_t kBatch = size_t{1} << 16;
using bench::kEventsPerBucket;
using bench::kSeed;
using bench::kStart;
using bench::Mode;
using bench::OptionsFor;
using bench::PriceSeries;
using bench::Series;

// A window in steady state and the series that feeds it, one event per second.
struct WindowCase {
  WindowCase(Mode m, Series s, uint32_t n)
      : mode(m),
        series(s),
        entries(n),
        window(OptionsFor(m, n)),
        prices(s, kSeed),
        batch(kBatch) {
    Refill();
    const uint64_t per_entry = mode == Mode::kExact ? 1 : kEventsPerBucket;
    const uint64_t warm_up =
        (uint64_t{n} + 2 * ChunkedRing<int>::kBlockSize) * per_entry;
    for (uint64_t i = 0; i < warm_up; ++i) {
      if (next == batch.size()) Refill();
      AddNext();
    }
    Refill();
  }

  void Refill() {
    for (double& p : batch) p = prices.Next();
    next = 0;
  }

  void AddNext() {
    window.Add(time, batch[next++], &metrics);
    time += kNanosPerSecond;
  }

  Mode mode;
  Series series;
  uint32_t entries;
  DrawdownWindow window;
  PriceSeries prices;
  std::vector<double> batch;
  size_t next = 0;
  TimeNs time = kStart;
  WindowMetrics metrics;
};

// One warmed-up case at a time (the 2,592,000-entry ones hold 100-300 MB).
WindowCase& GetCase(Mode mode, Series series, uint32_t entries) {
  static auto* const current = new std::unique_ptr<WindowCase>;
  if (*current == nullptr || (*current)->mode != mode ||
      (*current)->series != series || (*current)->entries != entries) {
    current->reset();
    *current = std::make_unique<WindowCase>(mode, series, entries);
  }
  return **current;
}

void BM_WindowAdd(benchmark::State& state, Mode mode, Series series) {
  const auto entries = static_cast<uint32_t>(state.range(0));
  WindowCase& c = GetCase(mode, series, entries);
  if (c.window.entries() != entries) {
    state.SkipWithError(
        "the warmed-up window does not hold the expected entries");
    return;
  }
  for (auto _ : state) {
    if (c.next == c.batch.size()) {
      state.PauseTiming();
      c.Refill();
      state.ResumeTiming();
    }
    c.AddNext();
  }
  benchmark::DoNotOptimize(c.metrics);
  state.SetItemsProcessed(state.iterations());
  state.counters["entries"] = c.window.entries();
  state.counters["bytes_per_entry"] =
      static_cast<double>(c.window.MemoryBytes()) / c.window.entries();
}

using bench::BruteForceWindow;

void BM_BruteForce(benchmark::State& state, Series series) {
  const auto entries = static_cast<uint32_t>(state.range(0));
  BruteForceWindow window(entries);
  PriceSeries prices(series, kSeed);
  std::vector<double> batch(kBatch);
  double max = 0, mdd = 0;
  for (uint32_t i = 0; i < entries; ++i) window.Add(prices.Next(), &max, &mdd);
  for (double& p : batch) p = prices.Next();
  size_t next = 0;
  for (auto _ : state) {
    if (next == batch.size()) {
      state.PauseTiming();
      for (double& p : batch) p = prices.Next();
      next = 0;
      state.ResumeTiming();
    }
    window.Add(batch[next++], &max, &mdd);
    benchmark::DoNotOptimize(max);
    benchmark::DoNotOptimize(mdd);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["entries"] = entries;
}

constexpr int64_t kSmall = 30;        // 30 events, or 30 one-minute buckets
constexpr int64_t kHalfDay = 43'200;  // 12 h of seconds, or 30 days of minutes
constexpr int64_t kMonth =
    2'592'000;  // 30 days of seconds, or 1,800 days of minutes

BENCHMARK_CAPTURE(BM_WindowAdd, exact, Mode::kExact, Series::kRandomWalk)
    ->Arg(kSmall)
    ->Arg(kHalfDay)
    ->Arg(kMonth);
BENCHMARK_CAPTURE(BM_WindowAdd, exact_falling, Mode::kExact, Series::kFalling)
    ->Arg(kSmall)
    ->Arg(kHalfDay)
    ->Arg(kMonth);
BENCHMARK_CAPTURE(BM_WindowAdd, bucketed, Mode::kBucketed, Series::kRandomWalk)
    ->Arg(kSmall)
    ->Arg(kHalfDay)
    ->Arg(kMonth);
BENCHMARK_CAPTURE(BM_BruteForce, exact, Series::kRandomWalk)
    ->Arg(kSmall)
    ->Arg(kHalfDay);

}  // namespace
}  // namespace ebb

BENCHMARK_MAIN();
