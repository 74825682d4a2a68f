// `ebb replay` on the real series of ../shared/data: every metric of every
// event it writes equals an independent computation of the contract's
// definitions (tests/window/brute_force.h for the daily files; a direct O(n *
// w) scan for the minute files).

#include <unistd.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <string>
#include <vector>

#include "apps/cli_test_util.h"
#include "ebb/v1/metrics.pb.h"
#include "gtest/gtest.h"
#include "tests/window/brute_force.h"

namespace {

using ::ebb_test::ReadJsonLines;
using ::ebb_test::RunEbb;

constexpr int64_t kDay = 86'400'000'000'000;
constexpr int64_t kMinute = 60'000'000'000;

int64_t Nanos(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1'000'000'000 + t.nanos();
}

std::string DataDir() {
  const std::string dir = ebb_test::SharedData();
  if (dir.empty() || !std::filesystem::is_directory(dir + "/prices")) return "";
  return dir;
}

#define SKIP_WITHOUT_DATA(dir)                                             \
  const std::string dir = DataDir();                                       \
  if (dir.empty()) {                                                       \
    GTEST_SKIP() << "../shared/data not found (EBB_SHARED_DATA="           \
                 << ebb_test::SharedData()                                 \
                 << "): the real-data checks need it beside the checkout"; \
  }

std::vector<ebb::v1::DrawdownMetrics> Replay(const std::string& file,
                                             const std::string& mode) {
  const std::string out =
      ::testing::TempDir() + "/real_" + std::to_string(getpid()) + "_" +
      std::filesystem::path(file).stem().string() + "_" + mode + ".jsonl";
  auto r = RunEbb("replay --no-progress --resolution " + mode + " --prices " +
                  file + " --metrics-out " + out + " --alerts-out /dev/null");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("rejected  0"), std::string::npos) << r.err;
  return ReadJsonLines<ebb::v1::DrawdownMetrics>(out);
}

class DailyReplayTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DailyReplayTest, EveryEventEqualsTheBruteForce) {
  SKIP_WITHOUT_DATA(dir);
  const std::string file = dir + "/prices/daily/" + GetParam();
  for (const std::string mode : {"exact", "1m", "1d"}) {
    const int64_t resolution = mode == "exact" ? 0
                               : mode == "1m"  ? kMinute
                                               : kDay;
    auto metrics = Replay(file, mode);
    ASSERT_GT(metrics.size(), 90u);
    ebb_ref::BruteForce ref(30 * kDay, resolution);
    for (size_t i = 0; i < metrics.size(); ++i) {
      const auto& m = metrics[i];
      const int64_t t = Nanos(m.event_time());
      // Daily rows are stamped at the end of their UTC day.
      ASSERT_EQ(t % kDay, 0) << i;
      const ebb_ref::RefMetrics& want = ref.Add(t, m.price());
      ASSERT_EQ(m.peak().price(), want.peak.price)
          << GetParam() << " " << mode << " #" << i;
      ASSERT_EQ(Nanos(m.peak().time()), want.peak.time) << i;
      ASSERT_EQ(m.drawdown(), want.drawdown) << i;
      ASSERT_EQ(m.max_drawdown(), want.max_drawdown) << i;
      ASSERT_EQ(m.full_window(), want.full_window) << i;
      ASSERT_EQ(m.has_change(), want.change.has_value()) << i;
      if (m.has_change()) {
        ASSERT_EQ(m.change(), *want.change) << i;
      }
      ASSERT_EQ(m.window_entries(), want.entries) << i;
      // The reported pair is a witness of max_drawdown.
      ASSERT_EQ(
          1.0 - m.max_drawdown_trough().price() / m.max_drawdown_peak().price(),
          m.max_drawdown())
          << i;
      ASSERT_LE(Nanos(m.max_drawdown_peak().time()),
                Nanos(m.max_drawdown_trough().time()));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    RealSeries, DailyReplayTest,
    ::testing::Values("BTC-USD.csv", "QQQ.csv", "IREN.csv", "CORZ.csv",
                      "CLSK.csv", "WULF.csv", "BITF.csv", "NVDA.csv",
                      "BTC-USD_2011-2025_bitstamp-coinbase.csv"),
    [](const auto& param_info) {
      std::string name = param_info.param.substr(0, param_info.param.find('.'));
      std::replace_if(
          name.begin(), name.end(),
          [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); },
          '_');
      return name;
    });

// The anchor events the product exists for, read off the replayed metrics.
TEST(DailyReplayFacts, November2025Drawdowns) {
  SKIP_WITHOUT_DATA(dir);
  // The largest drawdown from the rolling peak among events in [from, to)
  // (epoch seconds).
  auto worst = [&](const std::string& name, int64_t from, int64_t to) {
    double best = 0;
    for (const auto& m : Replay(dir + "/prices/daily/" + name, "exact")) {
      const int64_t s = m.event_time().seconds();
      if (s >= from && s < to) best = std::max(best, m.drawdown());
    }
    return best;
  };
  // 2025-11-01 .. 2025-12-01 (epoch seconds).
  const int64_t nov = 1761955200, dec = 1764547200;
  const double btc = worst("BTC-USD.csv", nov, dec);
  const double iren = worst("IREN.csv", nov, dec);
  const double qqq = worst("QQQ.csv", nov, dec);
  std::printf(
      "worst 30-day drawdown from the rolling peak in November 2025: BTC-USD "
      "%.4f, "
      "IREN %.4f, QQQ %.4f\n",
      btc, iren, qqq);
  EXPECT_GT(btc, 0.17);   // Bitcoin fell more than 17 % in 30 days
  EXPECT_GT(iren, 0.30);  // the miners fell 30-50 % from their peaks
  EXPECT_GT(qqq,
            0.05);  // the Nasdaq-100 went through a drawdown of several percent
  EXPECT_LT(qqq, 0.10);
}

// Minute files: 43,200 rows. Peak, drawdown, change and full_window are checked
// on every event with a direct scan of the window; that the max-drawdown pair
// lies in the window, in order, and realises max_drawdown, on every event too;
// that no pair beats it, on every 13th event (O(w) each). One-minute buckets
// hold one event each here, so the bucketed replay must equal the exact one.
class MinuteReplayTest : public ::testing::TestWithParam<std::string> {};

TEST_P(MinuteReplayTest, EveryEventEqualsADirectScan) {
  SKIP_WITHOUT_DATA(dir);
  const std::string file = dir + "/prices/minute/" + GetParam();
  auto metrics = Replay(file, "exact");
  ASSERT_EQ(metrics.size(), 43200u);
  const auto bucketed = Replay(file, "1m");
  ASSERT_EQ(bucketed.size(), metrics.size());
  for (size_t i = 0; i < metrics.size(); ++i) {
    ASSERT_EQ(bucketed[i].SerializeAsString(), metrics[i].SerializeAsString())
        << "event " << i << ": 1m buckets " << bucketed[i].DebugString()
        << " exact " << metrics[i].DebugString();
  }
  std::vector<int64_t> t(metrics.size());
  std::vector<double> p(metrics.size());
  for (size_t i = 0; i < metrics.size(); ++i) {
    t[i] = Nanos(metrics[i].event_time());
    p[i] = metrics[i].price();
    if (i > 0) {
      ASSERT_EQ(t[i] - t[i - 1], kMinute) << "minute rows, one a minute";
    }
  }
  const int64_t w = 30 * kDay;
  size_t start = 0;
  std::deque<size_t>
      peaks;  // indices with decreasing prices (latest wins ties)
  for (size_t j = 0; j < metrics.size(); ++j) {
    while (t[start] <= t[j] - w) ++start;
    while (!peaks.empty() && p[peaks.back()] <= p[j]) peaks.pop_back();
    peaks.push_back(j);
    while (peaks.front() < start) peaks.pop_front();
    const auto& m = metrics[j];
    ASSERT_EQ(m.peak().price(), p[peaks.front()]) << j;
    ASSERT_EQ(Nanos(m.peak().time()), t[peaks.front()]) << j;
    ASSERT_EQ(m.drawdown(), 1.0 - p[j] / p[peaks.front()]) << j;
    ASSERT_EQ(m.full_window(), start > 0) << j;
    ASSERT_EQ(m.has_change(), start > 0) << j;
    if (start > 0) {
      ASSERT_EQ(m.change(), p[j] / p[start - 1] - 1.0) << j;
    }
    // The pair: two events of the window, the peak first, that realise the
    // value (one event when it is 0).
    const int64_t pk_time = Nanos(m.max_drawdown_peak().time());
    const int64_t tr_time = Nanos(m.max_drawdown_trough().time());
    ASSERT_GE(pk_time, t[start]) << j;
    ASSERT_LE(pk_time, tr_time) << j;
    ASSERT_LE(tr_time, t[j]) << j;
    const size_t pk = start + (pk_time - t[start]) / kMinute;
    const size_t tr = start + (tr_time - t[start]) / kMinute;
    ASSERT_EQ(m.max_drawdown_peak().price(), p[pk]) << j;
    ASSERT_EQ(m.max_drawdown_trough().price(), p[tr]) << j;
    if (m.max_drawdown() > 0) {
      ASSERT_EQ(m.max_drawdown(), 1.0 - p[tr] / p[pk]) << j;
    } else {
      ASSERT_EQ(pk, tr) << j;
    }
    if (j % 13 == 0 || j + 1 == metrics.size()) {
      double mdd = 0, running_max = p[start];
      for (size_t k = start + 1; k <= j; ++k) {
        mdd = std::max(mdd, 1.0 - p[k] / running_max);
        running_max = std::max(running_max, p[k]);
      }
      ASSERT_EQ(m.max_drawdown(), mdd) << j;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(RealSeries, MinuteReplayTest,
                         ::testing::Values("BTCUSDT_bybit_1m_2025-06.csv",
                                           "DOTUSDT_binance_1m_2025-11.csv",
                                           "NEARUSDT_binance_1m_2025-11.csv"),
                         [](const auto& param_info) {
                           return param_info.param.substr(
                               0, param_info.param.find('_'));
                         });

}  // namespace
