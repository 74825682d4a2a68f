// The real daily and minute series of ../shared/data through a Pipeline: every
// event's metrics must equal an independent computation of the definitions
// (docs/semantics.md, "Checked against real data"). Skipped when the data
// folder is absent.
//
// Daily rows labelled D are events at D+1 00:00:00 UTC (the end of that UTC
// day); minute rows are events at the bar's open time as given; the price is
// the Close column. The CSV reader here is deliberately independent of
// connectors/.

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/pipeline.h"
#include "engine/snapshot.h"
#include "gtest/gtest.h"
#include "tests/window/brute_force.h"

namespace ebb {
namespace {

using ebb_ref::BruteForce;
using ebb_ref::RefEvent;

constexpr TimeNs kDay = kNanosPerDay;
constexpr TimeNs kMinute = kNanosPerMinute;

// ---------------------------------------------------------------------------------------------
// A small CSV reader.

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool ParseInt(const std::string& s, size_t pos, size_t len, int64_t* out) {
  if (pos + len > s.size()) return false;
  int64_t v = 0;
  for (size_t i = pos; i < pos + len; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// "YYYY-MM-DD" -> days since the epoch.
bool ParseDate(const std::string& s, int64_t* days) {
  int64_t y, m, d;
  if (s.size() < 10 || s[4] != '-' || s[7] != '-' || !ParseInt(s, 0, 4, &y) ||
      !ParseInt(s, 5, 2, &m) || !ParseInt(s, 8, 2, &d) || m < 1 || m > 12 ||
      d < 1 || d > 31) {
    return false;
  }
  *days = DaysFromCivil(y, m, d);
  return true;
}

// "YYYY-MM-DD HH:MM:SS+00:00" -> ns since the epoch.
bool ParseIsoUtc(const std::string& s, TimeNs* t) {
  int64_t days, hh, mm, ss;
  if (s.size() != 25 || s.substr(19) != "+00:00" || s[10] != ' ' ||
      s[13] != ':' || s[16] != ':' || !ParseDate(s, &days) ||
      !ParseInt(s, 11, 2, &hh) || !ParseInt(s, 14, 2, &mm) ||
      !ParseInt(s, 17, 2, &ss)) {
    return false;
  }
  *t = ((days * 24 + hh) * 60 + mm) * 60 * kNanosPerSecond +
       ss * kNanosPerSecond;
  return true;
}

bool ParsePrice(const std::string& s, double* p) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  *p = std::strtod(s.c_str(), &end);
  return errno == 0 && end == s.c_str() + s.size();
}

std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  std::stringstream in(line);
  while (std::getline(in, field, ',')) out.push_back(field);
  if (!line.empty() && line.back() == ',') out.push_back("");
  return out;
}

enum class Layout { kDaily, kBybit, kBinance };

struct Series {
  std::string symbol;
  std::vector<RefEvent> events;
  std::vector<std::string> labels;  // the row's date or timestamp, for messages
};

// Reads a price CSV; adds a failure and returns false on any unreadable row.
bool ReadSeries(const std::string& path, Layout layout, Series* out) {
  std::ifstream in(path);
  if (!in) {
    ADD_FAILURE() << "cannot open " << path;
    return false;
  }
  std::string line;
  std::getline(in, line);
  const std::vector<std::string> header = SplitCsv(line);
  const std::string time_col = layout == Layout::kDaily   ? "Date"
                               : layout == Layout::kBybit ? "timestamp"
                                                          : "open_time";
  const std::string price_col = layout == Layout::kDaily ? "Close" : "close";
  const auto time_it = std::find(header.begin(), header.end(), time_col);
  const auto price_it = std::find(header.begin(), header.end(), price_col);
  if (time_it == header.end() || price_it == header.end()) {
    ADD_FAILURE() << path << ": unexpected header " << line;
    return false;
  }
  const size_t ti = static_cast<size_t>(time_it - header.begin());
  const size_t pi = static_cast<size_t>(price_it - header.begin());
  int line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::vector<std::string> f = SplitCsv(line);
    TimeNs t = 0;
    double p = 0;
    bool ok = f.size() == header.size() && ParsePrice(f[pi], &p);
    if (ok) {
      switch (layout) {
        case Layout::kDaily: {
          int64_t days;
          ok = ParseDate(f[ti], &days) && f[ti].size() == 10;
          t = (days + 1) * kDay;  // the end of the labelled UTC day
          break;
        }
        case Layout::kBybit:
          ok = ParseIsoUtc(f[ti], &t);
          break;
        case Layout::kBinance: {
          int64_t ms;
          ok = ParseInt(f[ti], 0, f[ti].size(), &ms) && !f[ti].empty();
          t = ms * 1'000'000;
          break;
        }
      }
    }
    if (!ok) {
      ADD_FAILURE() << path << ":" << line_no << ": unreadable row " << line;
      return false;
    }
    out->events.push_back({t, p});
    out->labels.push_back(f[ti]);
  }
  return true;
}

std::string DataDir() {
  const char* env = std::getenv("EBB_SHARED_DATA");
  return env != nullptr && *env != '\0' ? std::string(env)
                                        : std::string("../shared/data");
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// ---------------------------------------------------------------------------------------------
// Running the engine.

class MetricsCollector : public Output {
 public:
  bool WantsMetrics() const override { return true; }
  void OnMetrics(const MetricsView& v) override {
    times.push_back(v.time);
    prices.push_back(v.price);
    metrics.push_back(*v.metrics);
  }
  void OnDeadLetter(const DeadLetterView& d) override {
    dead.push_back(absl::StrCat(d.reason, ": ", d.detail));
  }
  std::vector<TimeNs> times;
  std::vector<double> prices;
  std::vector<WindowMetrics> metrics;
  std::vector<std::string> dead;
};

// Runs a series through a Pipeline with the given window; returns the metrics
// of every event.
std::vector<WindowMetrics> RunPipeline(const Series& s,
                                       const std::string& length,
                                       const std::string& resolution) {
  const std::string text = absl::StrCat(
      "window { length: \"", length, "\" resolution: \"", resolution, "\" }");
  auto parsed = ParseConfig(text, /*json=*/false, "real_data_test");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  auto compiled = CompileConfig(*parsed);
  EXPECT_TRUE(compiled.ok()) << compiled.status();
  FakeClock clock(4'102'444'800LL * kNanosPerSecond);  // 2100-01-01
  MetricsCollector out;
  auto pipeline = Pipeline::Create(std::move(*compiled), &clock, &out);
  EXPECT_TRUE(pipeline.ok()) << pipeline.status();
  for (size_t i = 0; i < s.events.size(); ++i) {
    (*pipeline)->OnPrice(s.symbol, s.events[i].time, s.events[i].price,
                         {0, -1, static_cast<int64_t>(i + 2)}, s.labels[i]);
  }
  (*pipeline)->Flush();
  EXPECT_TRUE(out.dead.empty())
      << out.dead.size() << " rejected, first: " << out.dead[0];
  EXPECT_EQ((*pipeline)->stats().applied, s.events.size());
  EXPECT_EQ(out.metrics.size(), s.events.size());
  for (size_t i = 0; i < out.metrics.size() && i < s.events.size(); ++i) {
    EXPECT_EQ(out.times[i], s.events[i].time);
    EXPECT_EQ(out.prices[i], s.events[i].price);
  }
  return out.metrics;
}

// ---------------------------------------------------------------------------------------------
// An O(n log n) reference for long sorted series, still straight from the
// definitions: window bounds by two pointers on the (sorted) keys, the peak by
// a monotonic deque, and the max drawdown as the fold of the contract's (max,
// min, mdd) summary over a segment tree. Each combine's cross term 1 - min(b) /
// max(a) is, by the monotonicity of IEEE division, the exact maximum of 1 - p_j
// / p_i over the pairs spanning the two halves, so the fold is the exact
// maximum over all pairs of the range.

struct Summary {
  double max, min, mdd;
};

Summary Combine(const Summary& a, const Summary& b) {
  return {std::max(a.max, b.max), std::min(a.min, b.min),
          std::max({a.mdd, b.mdd, 1.0 - b.min / a.max})};
}

class SegmentTree {
 public:
  explicit SegmentTree(const std::vector<RefEvent>& ev)
      : n_(ev.size()), tree_(4 * ev.size()) {
    if (n_ > 0) Build(1, 0, n_ - 1, ev);
  }
  // Summary of [lo, hi], in order.
  Summary Query(size_t lo, size_t hi) const {
    return Query(1, 0, n_ - 1, lo, hi);
  }

 private:
  void Build(size_t node, size_t l, size_t r, const std::vector<RefEvent>& ev) {
    if (l == r) {
      tree_[node] = {ev[l].price, ev[l].price, 0.0};
      return;
    }
    const size_t mid = (l + r) / 2;
    Build(2 * node, l, mid, ev);
    Build(2 * node + 1, mid + 1, r, ev);
    tree_[node] = Combine(tree_[2 * node], tree_[2 * node + 1]);
  }
  Summary Query(size_t node, size_t l, size_t r, size_t lo, size_t hi) const {
    if (lo <= l && r <= hi) return tree_[node];
    const size_t mid = (l + r) / 2;
    if (hi <= mid) return Query(2 * node, l, mid, lo, hi);
    if (lo > mid) return Query(2 * node + 1, mid + 1, r, lo, hi);
    return Combine(Query(2 * node, l, mid, lo, hi),
                   Query(2 * node + 1, mid + 1, r, lo, hi));
  }
  size_t n_;
  std::vector<Summary> tree_;
};

// Checks every event's metrics; the max drawdown is also re-derived by a full
// scan of the window every `scan_every` events. Returns the first mismatch, or
// "".
std::string CheckFast(const Series& s, TimeNs length, TimeNs resolution,
                      const std::vector<WindowMetrics>& got,
                      size_t scan_every) {
  const std::vector<RefEvent>& ev = s.events;
  if (got.size() != ev.size()) return "wrong number of metrics";
  auto key = [&](size_t i) {
    return resolution == 0 ? ev[i].time
                           : ebb_ref::RefBucketStart(ev[i].time, resolution);
  };
  std::unordered_map<TimeNs, size_t>
      index_of;  // times are unique in these series
  for (size_t i = 0; i < ev.size(); ++i) {
    if (i > 0 && ev[i].time <= ev[i - 1].time)
      return "series not strictly increasing";
    index_of[ev[i].time] = i;
  }
  const SegmentTree tree(ev);
  std::deque<size_t> peaks;
  std::vector<uint32_t> distinct(ev.size() + 1, 0);
  size_t lo = 0;
  for (size_t i = 0; i < ev.size(); ++i) {
    const WindowMetrics& m = got[i];
    const double p = ev[i].price;
    const TimeNs horizon = ev[i].time - length;
    distinct[i + 1] = distinct[i] + (i == 0 || key(i) != key(i - 1) ? 1 : 0);
    while (key(lo) <= horizon) ++lo;
    while (!peaks.empty() && ev[peaks.back()].price <= p) peaks.pop_back();
    peaks.push_back(i);
    while (peaks.front() < lo) peaks.pop_front();
    const std::string at = absl::StrCat("event ", i, " (", s.labels[i], "): ");
    const RefEvent& peak = ev[peaks.front()];
    if (!(m.peak == PricePoint{peak.price, peak.time})) {
      return at + "peak " + ebb_ref::FormatPoint(m.peak);
    }
    if (!(m.drawdown == 1.0 - p / peak.price)) return at + "drawdown";
    if (m.full_window != (lo > 0)) return at + "full_window";
    if (m.change.has_value() != (lo > 0)) return at + "change presence";
    if (lo > 0 && !(*m.change == p / ev[lo - 1].price - 1.0))
      return at + "change value";
    const uint32_t entries = resolution == 0 ? static_cast<uint32_t>(i - lo + 1)
                                             : distinct[i + 1] - distinct[lo];
    if (m.entries != entries)
      return at + absl::StrCat("entries ", m.entries, " want ", entries);
    const Summary sum = tree.Query(lo, i);
    if (!(m.max_drawdown == sum.mdd)) {
      return at + "max_drawdown " + ebb_ref::FormatDouble(m.max_drawdown) +
             " want " + ebb_ref::FormatDouble(sum.mdd);
    }
    const auto pk = index_of.find(m.mdd_peak.time);
    const auto tr = index_of.find(m.mdd_trough.time);
    if (pk == index_of.end() || tr == index_of.end() || pk->second < lo ||
        tr->second > i || ev[pk->second].price != m.mdd_peak.price ||
        ev[tr->second].price != m.mdd_trough.price) {
      return at + "mdd pair not in the window";
    }
    if (sum.mdd > 0) {
      if (pk->second >= tr->second) return at + "mdd pair out of order";
      if (!(1.0 - m.mdd_trough.price / m.mdd_peak.price == sum.mdd)) {
        return at + "mdd pair does not realise the value";
      }
    } else if (!(m.mdd_peak == m.mdd_trough)) {
      return at + "mdd 0 with two points";
    }
    if (i % scan_every == 0) {
      double best = 0, running = ev[lo].price;
      for (size_t j = lo + 1; j <= i; ++j) {
        best = std::max(best, 1.0 - ev[j].price / running);
        running = std::max(running, ev[j].price);
      }
      if (!(best == m.max_drawdown))
        return at + "max_drawdown differs from the full scan";
    }
  }
  return "";
}

// Checks every event against the O(n^2) brute force.
std::string CheckBrute(const Series& s, TimeNs length, TimeNs resolution,
                       const std::vector<WindowMetrics>& got) {
  if (got.size() != s.events.size()) return "wrong number of metrics";
  BruteForce ref(length, resolution);
  for (size_t i = 0; i < s.events.size(); ++i) {
    ref.Add(s.events[i].time, s.events[i].price);
    const std::string err = ref.Check(got[i]);
    if (!err.empty()) return s.labels[i] + ": " + err;
  }
  return "";
}

// ---------------------------------------------------------------------------------------------

struct DataFile {
  const char* name;  // for the test name
  const char* path;  // under $EBB_SHARED_DATA
  Layout layout;
  const char* symbol;
};

// Names the parameter in test output (and keeps ctest's test names stable).
void PrintTo(const DataFile& f, std::ostream* os) { *os << f.path; }

std::string FilePath(const DataFile& f) { return DataDir() + "/" + f.path; }

#define EBB_SKIP_WITHOUT_DATA()                                           \
  do {                                                                    \
    if (!IsDirectory(DataDir() + "/prices")) {                            \
      GTEST_SKIP() << "../shared/data not found: " << DataDir()           \
                   << "/prices is not a directory (set EBB_SHARED_DATA)"; \
    }                                                                     \
  } while (0)

class DailyTest : public ::testing::TestWithParam<DataFile> {};

TEST_P(DailyTest, EveryEventMatchesTheBruteForce) {
  EBB_SKIP_WITHOUT_DATA();
  Series s;
  s.symbol = GetParam().symbol;
  ASSERT_TRUE(ReadSeries(FilePath(GetParam()), GetParam().layout, &s));
  ASSERT_GT(s.events.size(), 50u);
  const TimeNs length = 30 * kDay;
  const std::vector<WindowMetrics> exact = RunPipeline(s, "30d", "exact");
  const std::vector<WindowMetrics> bucketed = RunPipeline(s, "30d", "1m");
  ASSERT_EQ(CheckBrute(s, length, 0, exact), "");
  ASSERT_EQ(CheckBrute(s, length, kMinute, bucketed), "");
  ASSERT_EQ(CheckFast(s, length, 0, exact, 1), "");
  ASSERT_EQ(CheckFast(s, length, kMinute, bucketed, 1), "");
  // Daily events lie on bucket starts, so bucketed and exact agree on every
  // value.
  for (size_t i = 0; i < exact.size(); ++i) {
    ASSERT_EQ(exact[i].peak, bucketed[i].peak) << s.labels[i];
    ASSERT_EQ(exact[i].max_drawdown, bucketed[i].max_drawdown) << s.labels[i];
    ASSERT_EQ(exact[i].change, bucketed[i].change) << s.labels[i];
    ASSERT_EQ(exact[i].entries, bucketed[i].entries) << s.labels[i];
  }
  // A 7-day window with 1-day buckets too.
  ASSERT_EQ(CheckBrute(s, 7 * kDay, kDay, RunPipeline(s, "7d", "1d")), "");
}

const DataFile kDailyFiles[] = {
    {"BTC_USD", "prices/daily/BTC-USD.csv", Layout::kDaily, "BTC-USD"},
    {"QQQ", "prices/daily/QQQ.csv", Layout::kDaily, "QQQ"},
    {"IREN", "prices/daily/IREN.csv", Layout::kDaily, "IREN"},
    {"CORZ", "prices/daily/CORZ.csv", Layout::kDaily, "CORZ"},
    {"CLSK", "prices/daily/CLSK.csv", Layout::kDaily, "CLSK"},
    {"WULF", "prices/daily/WULF.csv", Layout::kDaily, "WULF"},
    {"BTC_USD_2011_2025",
     "prices/daily/BTC-USD_2011-2025_bitstamp-coinbase.csv", Layout::kDaily,
     "BTC-USD"},
};

INSTANTIATE_TEST_SUITE_P(
    RealData, DailyTest, ::testing::ValuesIn(kDailyFiles),
    [](const ::testing::TestParamInfo<DataFile>& param_info) {
      return std::string(param_info.param.name);
    });

class MinuteTest : public ::testing::TestWithParam<DataFile> {};

TEST_P(MinuteTest, EveryEventMatchesTheReference) {
  EBB_SKIP_WITHOUT_DATA();
  Series s;
  s.symbol = GetParam().symbol;
  ASSERT_TRUE(ReadSeries(FilePath(GetParam()), GetParam().layout, &s));
  ASSERT_EQ(s.events.size(), 43'200u);
  // One row per minute, on the minute.
  for (size_t i = 0; i < s.events.size(); ++i) {
    ASSERT_EQ(s.events[i].time % kMinute, 0) << s.labels[i];
  }
  ASSERT_EQ(s.events.back().time - s.events.front().time, 43'199 * kMinute);
  // The 30-day window holds the whole file; the 1-day windows slide.
  ASSERT_EQ(CheckFast(s, 30 * kDay, 0, RunPipeline(s, "30d", "exact"), 101),
            "");
  ASSERT_EQ(CheckFast(s, 30 * kDay, kMinute, RunPipeline(s, "30d", "1m"), 101),
            "");
  ASSERT_EQ(CheckFast(s, kDay, 0, RunPipeline(s, "1d", "exact"), 101), "");
  ASSERT_EQ(CheckFast(s, kDay, 5 * kMinute, RunPipeline(s, "1d", "5m"), 101),
            "");
  // Bucketed 5m windows against the brute force on the first 3,000 minutes.
  Series head = s;
  head.events.resize(3000);
  head.labels.resize(3000);
  ASSERT_EQ(CheckBrute(head, 2 * 60 * kMinute, 5 * kMinute,
                       RunPipeline(head, "2h", "5m")),
            "");
}

const DataFile kMinuteFiles[] = {
    {"BTCUSDT_bybit", "prices/minute/BTCUSDT_bybit_1m_2025-06.csv",
     Layout::kBybit, "BTCUSDT"},
    {"DOTUSDT_binance", "prices/minute/DOTUSDT_binance_1m_2025-11.csv",
     Layout::kBinance, "DOTUSDT"},
    {"NEARUSDT_binance", "prices/minute/NEARUSDT_binance_1m_2025-11.csv",
     Layout::kBinance, "NEARUSDT"},
};

INSTANTIATE_TEST_SUITE_P(
    RealData, MinuteTest, ::testing::ValuesIn(kMinuteFiles),
    [](const ::testing::TestParamInfo<DataFile>& param_info) {
      return std::string(param_info.param.name);
    });

// Every real series, merged in time order into one engine with rules on all
// three metrics: cut at random points, snapshotted through bytes and restored
// into a new engine, it gives the metrics and alerts of the uninterrupted run.
class SnapshotCollector : public Output {
 public:
  bool WantsMetrics() const override { return true; }
  void OnMetrics(const MetricsView& v) override {
    lines.push_back(absl::StrCat(
        v.symbol, " ", v.time, " ", v.price, " ", v.metrics->peak.price, " ",
        v.metrics->peak.time, " ", v.metrics->drawdown, " ",
        v.metrics->max_drawdown, " ", v.metrics->mdd_peak.time, " ",
        v.metrics->mdd_trough.time, " ", v.metrics->change.value_or(-9), " ",
        v.metrics->full_window, " ", v.metrics->entries));
  }
  void OnAlert(const ebb::v1::Alert& alert) override {
    lines.push_back(alert.SerializeAsString());
    ++alerts;
  }
  void OnDeadLetter(const DeadLetterView& d) override {
    lines.push_back(absl::StrCat("dead letter ", d.detail));
  }
  std::vector<std::string> lines;
  size_t alerts = 0;
};

TEST(RealDataSnapshotTest, RestoredEnginesContinueAsTheUninterruptedRun) {
  EBB_SKIP_WITHOUT_DATA();
  struct Event {
    TimeNs time;
    double price;
    const std::string* symbol;
  };
  std::vector<Series> series;
  const auto read = [&](const DataFile& f, const std::string& symbol) {
    Series s;
    s.symbol = symbol;
    ASSERT_TRUE(ReadSeries(FilePath(f), f.layout, &s));
    series.push_back(std::move(s));
  };
  for (const DataFile& f : kDailyFiles) read(f, f.name);
  for (const char* name : {"AMZN", "BITF", "GOOGL", "MSFT", "NVDA"}) {
    const std::string path = absl::StrCat("prices/daily/", name, ".csv");
    read({name, path.c_str(), Layout::kDaily, name}, name);
  }
  for (const DataFile& f : kMinuteFiles) read(f, f.name);
  if (HasFatalFailure()) return;
  std::vector<Event> events;
  for (const Series& s : series) {
    for (const RefEvent& e : s.events) {
      events.push_back({e.time, e.price, &s.symbol});
    }
  }
  std::stable_sort(
      events.begin(), events.end(),
      [](const Event& a, const Event& b) { return a.time < b.time; });
  ASSERT_GT(events.size(), 139'000u);
  const std::string rules =
      "rules { name: \"dd\" metric: \"drawdown\" levels { threshold: 0.1 } "
      "levels { threshold: 0.2 severity: CRITICAL } rearm: 0.02 }\n"
      "rules { name: \"mdd\" metric: \"max_drawdown\" levels { threshold: "
      "0.15 } rearm: 0.02 }\n"
      "rules { name: \"decl\" metric: \"decline\" levels { threshold: 0.05 } "
      "rearm: 0.01 }\n";
  for (const auto& [length, resolution] :
       std::vector<std::pair<std::string, std::string>>{
           {"30d", "exact"}, {"30d", "1m"}, {"1d", "5m"}, {"7d", "1d"}}) {
    const std::string text =
        absl::StrCat("window { length: \"", length, "\" resolution: \"",
                     resolution, "\" }\n", rules);
    auto parsed = ParseConfig(text, /*json=*/false, "real_data_test");
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    auto config = CompileConfig(*parsed);
    ASSERT_TRUE(config.ok()) << config.status();
    FakeClock clock(4'102'444'800LL * kNanosPerSecond);  // 2100-01-01
    const auto run = [&](size_t cut_every, SnapshotCollector* out) {
      auto pipeline = Pipeline::Create(*config, &clock, out);
      EXPECT_TRUE(pipeline.ok());
      std::unique_ptr<Pipeline> p = std::move(*pipeline);
      size_t cuts = 0;
      for (size_t i = 0; i < events.size(); ++i) {
        if (cut_every != 0 && i % cut_every == cut_every / 2) {
          ebb::v1::EngineSnapshot snapshot;
          p->Snapshot(&snapshot);
          auto parsed_snapshot =
              ParseEngineSnapshot(snapshot.SerializeAsString());
          EXPECT_TRUE(parsed_snapshot.ok()) << parsed_snapshot.status();
          p = std::move(*Pipeline::Create(*config, &clock, out));
          const absl::Status restored = p->Restore(*parsed_snapshot);
          EXPECT_TRUE(restored.ok()) << restored;
          ++cuts;
        }
        p->OnPrice(*events[i].symbol, events[i].time, events[i].price,
                   {0, -1, static_cast<int64_t>(i)}, "row");
      }
      p->Flush();
      return cuts;
    };
    SnapshotCollector want, got;
    run(0, &want);
    EXPECT_GT(run(events.size() / 25, &got), 20u);
    ASSERT_EQ(got.lines.size(), want.lines.size())
        << length << " " << resolution;
    for (size_t i = 0; i < got.lines.size(); ++i) {
      ASSERT_EQ(got.lines[i], want.lines[i])
          << length << " " << resolution << " line " << i;
    }
    EXPECT_GT(want.alerts, 100u) << length << " " << resolution;
  }
}

// ---------------------------------------------------------------------------------------------
// Sanity anchors: figures read off the data (computed separately, by a script
// over the CSV files), which the engine must reproduce to the cent and to the
// second.

void Report(const std::string& key, const std::string& value) {
  ::testing::Test::RecordProperty(key, value);
  std::cout << "  " << key << ": " << value << "\n";
}

std::string Describe(const WindowMetrics& m) {
  return absl::StrCat(ebb_ref::FormatDouble(m.max_drawdown), " from ",
                      ebb_ref::FormatDouble(m.mdd_peak.price), " at ",
                      FormatTime(m.mdd_peak.time), " to ",
                      ebb_ref::FormatDouble(m.mdd_trough.price), " at ",
                      FormatTime(m.mdd_trough.time));
}

TimeNs Utc(int64_t y, int64_t m, int64_t d) {
  return DaysFromCivil(y, m, d) * kDay;
}

// The event with the largest max_drawdown among events with time in [from, to).
size_t ArgMaxMdd(const Series& s, const std::vector<WindowMetrics>& m,
                 TimeNs from, TimeNs to) {
  size_t best = s.events.size();
  for (size_t i = 0; i < s.events.size(); ++i) {
    if (s.events[i].time < from || s.events[i].time >= to) continue;
    if (best == s.events.size() || m[i].max_drawdown > m[best].max_drawdown)
      best = i;
  }
  return best;
}

TEST(RealDataAnchorsTest, BitcoinNovember2025) {
  EBB_SKIP_WITHOUT_DATA();
  Series s;
  s.symbol = "BTC-USD";
  ASSERT_TRUE(
      ReadSeries(DataDir() + "/prices/daily/BTC-USD.csv", Layout::kDaily, &s));
  const std::vector<WindowMetrics> m = RunPipeline(s, "30d", "1m");
  const size_t i = ArgMaxMdd(s, m, Utc(2025, 11, 1), Utc(2025, 12, 1));
  ASSERT_LT(i, s.events.size());
  Report("btc_usd_nov2025_max_30d_drawdown",
         absl::StrCat(Describe(m[i]), " (event ", FormatTime(s.events[i].time),
                      ", row ", s.labels[i], ")"));
  EXPECT_GT(m[i].max_drawdown, 0.17);
  // The row 2025-11-22 (event 2025-11-23T00:00:00Z) closes 26.05 % below the
  // 2025-10-26 close.
  EXPECT_EQ(s.labels[i], "2025-11-22");
  EXPECT_EQ(s.events[i].time, Utc(2025, 11, 23));
  EXPECT_EQ(m[i].mdd_peak, (PricePoint{114472.4453125, Utc(2025, 10, 27)}));
  EXPECT_EQ(m[i].mdd_trough, (PricePoint{84648.359375, Utc(2025, 11, 23)}));
  EXPECT_EQ(m[i].max_drawdown, 1.0 - 84648.359375 / 114472.4453125);
  EXPECT_NEAR(m[i].max_drawdown, 0.2605350646269746, 1e-15);
  EXPECT_EQ(m[i].drawdown,
            m[i].max_drawdown);  // the trough is the event itself
  EXPECT_EQ(m[i].peak, m[i].mdd_peak);
}

TEST(RealDataAnchorsTest, OtherSeries) {
  EBB_SKIP_WITHOUT_DATA();
  struct Anchor {
    const char* path;
    Layout layout;
    double peak, trough;
    const char* peak_label;
    const char* trough_label;
  };
  // The largest 30-day max drawdown of the whole series.
  const Anchor anchors[] = {
      {"prices/daily/BTC-USD_2011-2025_bitstamp-coinbase.csv", Layout::kDaily,
       229.0, 68.09, "2013-04-09", "2013-04-16"},
      {"prices/daily/IREN.csv", Layout::kDaily, 76.41, 41.12, "2025-11-05",
       "2025-12-02"},
      {"prices/daily/QQQ.csv", Layout::kDaily, 635.77, 585.67, "2025-10-29",
       "2025-11-20"},
  };
  for (const Anchor& a : anchors) {
    Series s;
    s.symbol = "X";
    ASSERT_TRUE(ReadSeries(DataDir() + "/" + a.path, a.layout, &s));
    const std::vector<WindowMetrics> m = RunPipeline(s, "30d", "exact");
    const size_t i = ArgMaxMdd(s, m, INT64_MIN, INT64_MAX);
    ASSERT_LT(i, s.events.size());
    Report(absl::StrCat(a.path, "_max_30d_drawdown"),
           absl::StrCat(Describe(m[i]), " (row ", s.labels[i], ")"));
    EXPECT_EQ(m[i].max_drawdown, 1.0 - a.trough / a.peak) << a.path;
    EXPECT_EQ(m[i].mdd_peak.price, a.peak) << a.path;
    EXPECT_EQ(m[i].mdd_trough.price, a.trough) << a.path;
    int64_t pd, td;
    ASSERT_TRUE(ParseDate(a.peak_label, &pd));
    ASSERT_TRUE(ParseDate(a.trough_label, &td));
    EXPECT_EQ(m[i].mdd_peak.time, (pd + 1) * kDay) << a.path;
    EXPECT_EQ(m[i].mdd_trough.time, (td + 1) * kDay) << a.path;
  }
  // Minute files: the max drawdown over the whole file (the 30-day window holds
  // all of it).
  struct MinuteAnchor {
    const char* path;
    Layout layout;
    double peak, trough;
  };
  const MinuteAnchor minute[] = {
      {"prices/minute/BTCUSDT_bybit_1m_2025-06.csv", Layout::kBybit, 110514.7,
       98295.8},
      {"prices/minute/DOTUSDT_binance_1m_2025-11.csv", Layout::kBinance, 3.524,
       2.18},
      {"prices/minute/NEARUSDT_binance_1m_2025-11.csv", Layout::kBinance, 3.174,
       1.796},
  };
  for (const MinuteAnchor& a : minute) {
    Series s;
    s.symbol = "X";
    ASSERT_TRUE(ReadSeries(DataDir() + "/" + a.path, a.layout, &s));
    const std::vector<WindowMetrics> m = RunPipeline(s, "30d", "1m");
    Report(absl::StrCat(a.path, "_max_drawdown"), Describe(m.back()));
    EXPECT_EQ(m.back().max_drawdown, 1.0 - a.trough / a.peak) << a.path;
    EXPECT_EQ(m.back().entries, 43'200u);
    EXPECT_FALSE(
        m.back()
            .full_window);  // 43,200 minutes is 30 days less one minute of span
  }
}

TEST(RealDataReaderTest, DateMapping) {
  // Independent of the data: the reader's calendar arithmetic.
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1), 11017);
  EXPECT_EQ(DaysFromCivil(1900, 1, 1), -25567);
  EXPECT_EQ(Utc(2025, 11, 21), 1'763'683'200LL * kNanosPerSecond);
  TimeNs t;
  ASSERT_TRUE(ParseIsoUtc("2025-05-30 16:39:00+00:00", &t));
  EXPECT_EQ(FormatTime(t), "2025-05-30T16:39:00Z");
  EXPECT_FALSE(ParseIsoUtc("2025-05-30 16:39:00+02:00", &t));
}

}  // namespace
}  // namespace ebb
