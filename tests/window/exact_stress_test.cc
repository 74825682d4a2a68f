// Exact mode under stress: windows of 1..200 entries, gaps that evict 0..300
// entries in one event, bursts of equal times, tied prices, long runs; every
// event against the brute force (short runs) or a windowed reference (long
// runs).
#include <algorithm>
#include <cmath>
#include <deque>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/window/brute_force.h"
#include "window/drawdown_window.h"

namespace ebb {
namespace {

struct Gen {
  std::mt19937_64 rng;
  TimeNs length;
  int price_kind;
  double price = 100;
  TimeNs t = 0;
  explicit Gen(uint64_t seed) : rng(seed) {
    length = 1 + static_cast<TimeNs>(rng() % 200);
    price_kind = static_cast<int>(rng() % 3);
    t = static_cast<TimeNs>(rng() % 1000) - 500;
  }
  std::pair<TimeNs, double> Next() {
    const uint64_t r = rng() % 1000;
    TimeNs step;
    if (r < 300)
      step = 0;  // burst
    else if (r < 960)
      step = 1;  // steady slide
    else if (r < 990)
      step = static_cast<TimeNs>(rng() % 301);  // evict 0..300
    else
      step = length + static_cast<TimeNs>(
                          rng() % (3 * length + 1));  // empties or nearly
    t += step;
    switch (price_kind) {
      case 0:
        price = static_cast<double>(1 + rng() % 4);
        break;  // ties
      case 1: {
        std::normal_distribution<double> z(0.0, 0.02);
        price *= std::exp(z(rng));
        break;
      }
      default:  // runs with plateaus
        if (rng() % 3 == 0) break;
        price = (rng() % 2 == 0) ? price * 1.01 : price / 1.01;
        break;
    }
    return {t, price};
  }
};

TEST(ExactStressTest, AgainstBruteForce) {
  for (uint64_t seed = 1; seed <= 400; ++seed) {
    Gen g(seed);
    DrawdownWindow window(WindowOptions{g.length, 0});
    ebb_ref::BruteForce ref(g.length, 0);
    WindowMetrics m;
    const int n = 200 + static_cast<int>(g.rng() % 1300);
    for (int i = 0; i < n; ++i) {
      auto [t, p] = g.Next();
      window.Add(t, p, &m);
      ref.Add(t, p);
      const std::string err = ref.Check(m);
      ASSERT_EQ(err, "") << "seed " << seed << " W " << g.length;
      ASSERT_TRUE(window.TEST_CheckInvariants())
          << "seed " << seed << " event " << i;
    }
  }
}

// Long runs: an O(window) reference (peak latest on ties, mdd by running max).
TEST(ExactStressTest, LongRuns) {
  for (uint64_t seed = 1000; seed < 1012; ++seed) {
    Gen g(seed);
    DrawdownWindow window(WindowOptions{g.length, 0});
    WindowMetrics m;
    std::deque<std::pair<TimeNs, double>> win;
    bool have_asof = false;
    double asof = 0;
    for (int i = 0; i < 300'000; ++i) {
      auto [t, p] = g.Next();
      window.Add(t, p, &m);
      win.push_back({t, p});
      while (win.front().first <= t - g.length) {
        have_asof = true;
        asof = win.front().second;
        win.pop_front();
      }
      PricePoint peak{win[0].second, win[0].first};
      double best = 0, running = win[0].second;
      for (size_t k = 0; k < win.size(); ++k) {
        if (win[k].second >= peak.price) peak = {win[k].second, win[k].first};
        if (k > 0) {
          best = std::max(best, 1.0 - win[k].second / running);
          running = std::max(running, win[k].second);
        }
      }
      const std::string where = "seed " + std::to_string(seed) + " event " +
                                std::to_string(i) + " W " +
                                std::to_string(g.length);
      ASSERT_EQ(m.entries, win.size()) << where;
      ASSERT_EQ(m.peak, peak) << where;
      ASSERT_EQ(m.max_drawdown, best) << where;
      ASSERT_EQ(m.full_window, have_asof) << where;
      if (have_asof) {
        ASSERT_EQ(*m.change, p / asof - 1.0) << where;
      }
      // The pair: two window events in order realising the value.
      int pk = -1, tr = -1;
      for (size_t k = 0; k < win.size(); ++k) {
        if (pk < 0 && win[k].first == m.mdd_peak.time &&
            win[k].second == m.mdd_peak.price) {
          pk = static_cast<int>(k);
        }
        if (win[k].first == m.mdd_trough.time &&
            win[k].second == m.mdd_trough.price) {
          tr = static_cast<int>(k);
        }
      }
      ASSERT_GE(pk, 0) << where;
      ASSERT_GE(tr, 0) << where;
      if (best > 0) {
        ASSERT_LT(pk, tr) << where;
        ASSERT_EQ(1.0 - m.mdd_trough.price / m.mdd_peak.price, best) << where;
      } else {
        ASSERT_EQ(m.mdd_peak, m.mdd_trough) << where;
      }
      if (i % 64 == 0) {
        ASSERT_TRUE(window.TEST_CheckInvariants()) << where;
      }
    }
  }
}

}  // namespace
}  // namespace ebb
