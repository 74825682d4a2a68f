#pragma once

// The synthetic feed both window benchmarks use: a seeded price series, one
// event per second, and the window options that make a window of N entries.

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "window/drawdown_window.h"

namespace ebb {
namespace bench {

constexpr uint64_t kSeed = 20250101;
constexpr TimeNs kStart =
    1'735'689'600 * kNanosPerSecond;  // 2025-01-01T00:00:00Z
constexpr double kSigma = 2e-4;       // log-volatility per one-second event
constexpr uint32_t kEventsPerBucket = 60;

enum class Mode { kExact, kBucketed };
enum class Series { kRandomWalk, kFalling };

// A seeded, positive price series.
class PriceSeries {
 public:
  PriceSeries(Series series, uint64_t seed)
      : series_(series),
        rng_(seed),
        price_(series == Series::kFalling ? 1e7 : 100.0) {}

  double Next() {
    if (series_ == Series::kFalling) {
      price_ -= 1e-3;  // strictly falling: the step is far above the ulp at 1e7
    } else {
      price_ *= std::exp(kSigma * normal_(rng_));
    }
    return price_;
  }

  void Fill(std::vector<double>* prices) {
    for (double& p : *prices) p = Next();
  }

 private:
  Series series_;
  std::mt19937_64 rng_;
  std::normal_distribution<double> normal_;
  double price_;
};

// Exact mode: N one-second events in a window of N seconds. Bucketed mode: N
// one-minute buckets in a window of N minutes.
inline WindowOptions OptionsFor(Mode mode, uint32_t entries) {
  WindowOptions options;
  if (mode == Mode::kExact) {
    options.length = TimeNs{entries} * kNanosPerSecond;
    options.resolution = 0;
  } else {
    options.length = TimeNs{entries} * kNanosPerMinute;
    options.resolution = kNanosPerMinute;
  }
  return options;
}

// The naive design, the baseline: keep the window's prices and rescan them
// for every event.
class BruteForceWindow {
 public:
  explicit BruteForceWindow(uint32_t entries) : prices_(entries) {}

  // Slides the window by one event; returns the max and the max drawdown.
  void Add(double price, double* max, double* mdd) {
    prices_[head_] = price;
    head_ = head_ + 1 == prices_.size() ? 0 : head_ + 1;
    if (count_ < prices_.size()) ++count_;
    // Oldest first: [head_, size) then [0, head_) once full; [0, count_)
    // before.
    double peak = 0, worst = 0;
    auto scan = [&](size_t from, size_t to) {
      for (size_t i = from; i < to; ++i) {
        const double p = prices_[i];
        if (p >= peak) peak = p;
        const double dd = 1.0 - p / peak;
        if (dd > worst) worst = dd;
      }
    };
    if (count_ == prices_.size()) {
      scan(head_, prices_.size());
      scan(0, head_);
    } else {
      scan(0, count_);
    }
    *max = peak;
    *mdd = worst;
  }

 private:
  std::vector<double> prices_;
  size_t head_ = 0;
  size_t count_ = 0;
};

}  // namespace bench
}  // namespace ebb
