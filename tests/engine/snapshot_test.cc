// Snapshots of the window and the engine (engine/snapshot.h): a run cut at
// random points, snapshotted through bytes and restored into a new engine,
// gives the metrics, alerts and dead letters of the uninterrupted run; deltas
// merged into a full snapshot give the full snapshot; every corrupt or
// inconsistent snapshot is an error naming the field.

#include "engine/snapshot.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/pipeline.h"
#include "gtest/gtest.h"
#include "window/drawdown_window.h"

namespace ebb {
namespace {

// 2025-01-01T00:00:00Z.
constexpr TimeNs kT0 = 1'735'689'600LL * kNanosPerSecond;
constexpr TimeNs kSecond = kNanosPerSecond;

std::string Diff(const WindowMetrics& a, const WindowMetrics& b) {
  std::string err;
  if (!(a.peak == b.peak)) err += "peak; ";
  if (!(a.drawdown == b.drawdown)) err += "drawdown; ";
  if (!(a.max_drawdown == b.max_drawdown)) err += "max_drawdown; ";
  if (!(a.mdd_peak == b.mdd_peak)) err += "mdd_peak; ";
  if (!(a.mdd_trough == b.mdd_trough)) err += "mdd_trough; ";
  if (a.change != b.change) err += "change; ";
  if (a.full_window != b.full_window) err += "full_window; ";
  if (a.entries != b.entries) err += "entries; ";
  return err;
}

// Serializes and parses: every restore in these tests goes through bytes.
ebb::v1::WindowSnapshot ThroughBytes(const ebb::v1::WindowSnapshot& s) {
  std::string bytes;
  EXPECT_TRUE(s.SerializeToString(&bytes));
  ebb::v1::WindowSnapshot parsed;
  EXPECT_TRUE(parsed.ParseFromString(bytes));
  return parsed;
}

// ---------------------------------------------------------------------------
// The window.

// Random windows, exact and bucketed, of a few to a few thousand entries
// (exact mode's chunks of 64 and its DABA included), with bursts of equal
// times, gaps that empty the window, and prices on a coarse grid so that
// peaks and pairs tie: at 1 to 3 random points the window is replaced by one
// restored from its snapshot, and every event's metrics must equal those of a
// window never snapshotted.
TEST(WindowSnapshotTest, RestoredWindowContinuesAsTheOriginal) {
  std::mt19937_64 rng(17);
  constexpr int kCases = 4000;
  uint64_t restores = 0, chunked = 0;
  for (int c = 0; c < kCases; ++c) {
    const bool exact = c % 2 == 0;
    const TimeNs length = (10 + static_cast<TimeNs>(rng() % 300)) * kSecond;
    const TimeNs resolution =
        exact ? 0 : std::min<TimeNs>(length, (1 + rng() % 10) * kSecond);
    const WindowOptions options{length, resolution};
    const int n = c % 50 == 0 ? 6000 : 1 + static_cast<int>(rng() % 800);
    const bool grid = rng() % 3 == 0;
    DrawdownWindow reference(options);
    DrawdownWindow window(options);
    std::vector<int> cuts;
    for (int k = 1 + static_cast<int>(rng() % 3); k > 0; --k) {
      cuts.push_back(static_cast<int>(rng() % (n + 1)));
    }
    std::sort(cuts.begin(), cuts.end());
    TimeNs t = kT0 + static_cast<TimeNs>(rng() % 1000) * kSecond;
    double price = 100;
    size_t next_cut = 0;
    for (int i = 0; i <= n; ++i) {
      while (next_cut < cuts.size() && cuts[next_cut] == i) {
        ++next_cut;
        ebb::v1::WindowSnapshot snapshot;
        window.Snapshot(&snapshot);
        absl::StatusOr<DrawdownWindow> restored =
            DrawdownWindow::Restore(options, ThroughBytes(snapshot));
        ASSERT_TRUE(restored.ok()) << restored.status() << " case " << c;
        ASSERT_TRUE(restored->TEST_CheckInvariants()) << "case " << c;
        // The restored window's snapshot is the same.
        ebb::v1::WindowSnapshot again;
        restored->Snapshot(&again);
        ASSERT_EQ(again.SerializeAsString(), snapshot.SerializeAsString())
            << "case " << c;
        window = *std::move(restored);
        ++restores;
        if (exact && snapshot.prices_size() > 2 * 64) ++chunked;
      }
      if (i == n) break;
      const uint64_t r = rng() % 100;
      if (r < 15) {
        // a burst: the same time
      } else if (r < 99) {
        t += static_cast<TimeNs>(rng() % 2000) * kSecond / 1000;
      } else {
        t += length + static_cast<TimeNs>(rng() % 10) * kSecond;
      }
      price =
          grid ? static_cast<double>(90 + rng() % 20)
               : price * std::exp(0.03 *
                                  (static_cast<double>(rng() % 2001) / 1000.0 -
                                   1.0));
      WindowMetrics want, got;
      reference.Add(t, price, &want);
      window.Add(t, price, &got);
      ASSERT_EQ(Diff(got, want), "") << "case " << c << " event " << i;
    }
    ASSERT_TRUE(window.TEST_CheckInvariants()) << "case " << c;
  }
  EXPECT_GT(restores, 8000u);
  EXPECT_GT(chunked, 300u);  // restores of exact windows with DABA chunks
}

// A window restored from its snapshot reports what the original would for
// every possible next event, on windows that a long run left with any chunk
// layout: the front chunk and the open chunk at every length.
TEST(WindowSnapshotTest, EveryChunkLayoutRestores) {
  const WindowOptions options{200 * kSecond, 0};
  DrawdownWindow window(options);
  std::mt19937_64 rng(3);
  TimeNs t = kT0;
  std::vector<std::pair<uint32_t, uint32_t>> layouts;
  for (int i = 0; i < 3000; ++i) {
    t += static_cast<TimeNs>(1 + rng() % 1000) * kSecond / 1000;
    WindowMetrics m;
    window.Add(t, 50 + static_cast<double>(rng() % 100), &m);
    ebb::v1::WindowSnapshot snapshot;
    window.Snapshot(&snapshot);
    layouts.push_back({snapshot.front_chunk(), snapshot.open_chunk()});
    absl::StatusOr<DrawdownWindow> restored =
        DrawdownWindow::Restore(options, snapshot);
    ASSERT_TRUE(restored.ok()) << restored.status();
    ASSERT_TRUE(restored->TEST_CheckInvariants()) << "event " << i;
    for (double next : {1.0, 75.0, 500.0}) {
      WindowMetrics a, b;
      DrawdownWindow copy = *DrawdownWindow::Restore(options, snapshot);
      copy.Add(t + kSecond, next, &a);
      restored->Add(t + kSecond, next, &b);
      ASSERT_EQ(Diff(b, a), "") << "event " << i;
      restored = DrawdownWindow::Restore(options, snapshot);
    }
  }
  std::sort(layouts.begin(), layouts.end());
  layouts.erase(std::unique(layouts.begin(), layouts.end()), layouts.end());
  EXPECT_GT(layouts.size(), 64u * 10);
}

// ---------------------------------------------------------------------------
// Window errors.

ebb::v1::WindowSnapshot ExactSnapshot(int n) {
  DrawdownWindow window({100 * kSecond, 0});
  WindowMetrics m;
  for (int i = 0; i < n; ++i) {
    window.Add(kT0 + i * kSecond, 10 + i % 7, &m);
  }
  ebb::v1::WindowSnapshot s;
  window.Snapshot(&s);
  return s;
}

ebb::v1::WindowSnapshot BucketedSnapshot() {
  DrawdownWindow window({100 * kSecond, 10 * kSecond});
  WindowMetrics m;
  for (int i = 0; i < 30; ++i) {
    window.Add(kT0 + i * 3 * kSecond, 10 + i % 7, &m);
  }
  ebb::v1::WindowSnapshot s;
  window.Snapshot(&s);
  return s;
}

void ExpectWindowError(const WindowOptions& options,
                       const ebb::v1::WindowSnapshot& s, absl::StatusCode code,
                       const std::string& message) {
  absl::StatusOr<DrawdownWindow> restored = DrawdownWindow::Restore(options, s);
  ASSERT_FALSE(restored.ok()) << message;
  EXPECT_EQ(restored.status().code(), code) << restored.status();
  EXPECT_EQ(std::string(restored.status().message()), message);
}

TEST(WindowSnapshotTest, InconsistentSnapshotsAreErrors) {
  const WindowOptions exact{100 * kSecond, 0};
  const WindowOptions bucketed{100 * kSecond, 10 * kSecond};
  ASSERT_TRUE(DrawdownWindow::Restore(exact, ExactSnapshot(80)).ok());
  ASSERT_TRUE(DrawdownWindow::Restore(bucketed, BucketedSnapshot()).ok());
  {
    ebb::v1::WindowSnapshot s = ExactSnapshot(80);
    s.mutable_time_steps()->RemoveLast();
    ExpectWindowError(exact, s, absl::StatusCode::kInvalidArgument,
                      "time_steps: 78 steps for 80 entries (want one fewer "
                      "than entries)");
  }
  {
    ebb::v1::WindowSnapshot s = ExactSnapshot(80);
    s.set_prices(5, -1);
    ExpectWindowError(exact, s, absl::StatusCode::kInvalidArgument,
                      "prices[5]: -1 is not a finite positive price");
    s.set_prices(5, std::nan(""));
    ExpectWindowError(exact, s, absl::StatusCode::kInvalidArgument,
                      "prices[5]: nan is not a finite positive price");
  }
  {
    ebb::v1::WindowSnapshot s = ExactSnapshot(80);
    s.set_time_steps(3, 60 * kSecond);
    ExpectWindowError(exact, s, absl::StatusCode::kInvalidArgument,
                      "time_steps: the entries span 100000000000 ns, not less "
                      "than the window (100000000000 ns)");
    s.set_time_steps(3, uint64_t{1} << 63);
    ExpectWindowError(exact, s, absl::StatusCode::kInvalidArgument,
                      "time_steps[3]: 9223372036854775808 reaches beyond the "
                      "window");
  }
  {
    ebb::v1::WindowSnapshot s = ExactSnapshot(80);
    s.set_front_chunk(10);
    ExpectWindowError(
        exact, s, absl::StatusCode::kInvalidArgument,
        absl::StrCat("front_chunk: front chunk 10 and open chunk ",
                     s.open_chunk(),
                     " do not divide 80 entries into chunks of "
                     "64"));
  }
  {
    ebb::v1::WindowSnapshot s = ExactSnapshot(80);
    s.set_evicted_any(true);
    s.set_asof_price(0);
    ExpectWindowError(exact, s, absl::StatusCode::kInvalidArgument,
                      "asof_price: 0 is not a finite positive price");
  }
  ExpectWindowError(bucketed, ExactSnapshot(3),
                    absl::StatusCode::kFailedPrecondition,
                    "window taken with length 100000000000 ns and resolution "
                    "0 ns; this engine has 100000000000 and 10000000000");
  {
    ebb::v1::WindowSnapshot s = BucketedSnapshot();
    s.set_first_time(s.first_time() + 1);
    ExpectWindowError(bucketed, s, absl::StatusCode::kInvalidArgument,
                      absl::StrCat("first_time: ", s.first_time(),
                                   " is not a bucket start (resolution "
                                   "10000000000 ns)"));
  }
  {
    ebb::v1::WindowSnapshot s = BucketedSnapshot();
    s.set_time_steps(0, 0);
    ExpectWindowError(bucketed, s, absl::StatusCode::kInvalidArgument,
                      "time_steps[0]: 0: bucket starts must increase");
  }
  {
    ebb::v1::WindowSnapshot s = BucketedSnapshot();
    ASSERT_GT(s.buckets_size(), 1);
    s.mutable_buckets(1)->set_index(s.buckets(0).index());
    ExpectWindowError(
        bucketed, s, absl::StatusCode::kInvalidArgument,
        absl::StrCat("buckets[1].index: ", s.buckets(0).index(),
                     " is not after the previous bucket's and below the "
                     "entries (",
                     s.prices_size(), ")"));
  }
  {
    ebb::v1::WindowSnapshot s = BucketedSnapshot();
    s.mutable_buckets(0)->mutable_trough()->set_offset_ns(10 * kSecond);
    ExpectWindowError(bucketed, s, absl::StatusCode::kInvalidArgument,
                      "buckets[0].trough.offset_ns: 10000000000 is not inside "
                      "the bucket (resolution 10000000000 ns)");
  }
  {
    ebb::v1::WindowSnapshot s = BucketedSnapshot();
    s.mutable_buckets(0)->mutable_max()->set_price(1);
    ExpectWindowError(bucketed, s, absl::StatusCode::kInvalidArgument,
                      "buckets[0]: prices out of order (want min <= trough <= "
                      "peak <= max and min <= last price <= max)");
  }
  {
    ebb::v1::WindowSnapshot s = BucketedSnapshot();
    s.add_point_offsets(0);
    ExpectWindowError(
        bucketed, s, absl::StatusCode::kInvalidArgument,
        absl::StrCat("point_offsets: ", s.point_offsets_size(),
                     " one-point buckets and ", s.buckets_size(),
                     " others for ", s.prices_size(), " entries"));
  }
}

// ---------------------------------------------------------------------------
// The engine.

struct DeadLetterRecord {
  ebb::v1::RejectReason reason;
  std::string detail;
  int64_t offset;
};

struct MetricsRecord {
  std::string symbol;
  TimeNs time;
  double price;
  WindowMetrics metrics;
};

class CollectingOutput : public Output {
 public:
  bool WantsMetrics() const override { return true; }
  void OnMetrics(const MetricsView& v) override {
    metrics.push_back({std::string(v.symbol), v.time, v.price, *v.metrics});
  }
  void OnAlert(const ebb::v1::Alert& alert) override {
    alerts.push_back(alert.SerializeAsString());
  }
  void OnDeadLetter(const DeadLetterView& d) override {
    dead_letters.push_back({d.reason, std::string(d.detail), d.origin.offset});
  }
  std::vector<MetricsRecord> metrics;
  std::vector<std::string> alerts;
  std::vector<DeadLetterRecord> dead_letters;
};

constexpr absl::string_view kRules =
    "rules { name: \"dd\" metric: \"drawdown\" levels { threshold: 0.05 } "
    "levels { threshold: 0.1 severity: CRITICAL } rearm: 0.01 }\n"
    "rules { name: \"mdd\" metric: \"max_drawdown\" levels { threshold: 0.08 "
    "} rearm: 0.02 }\n"
    "rules { name: \"decl\" metric: \"decline\" symbols: \"S1*\" "
    "levels { threshold: 0.03 } rearm: 0 }\n";

EngineConfig Compile(TimeNs length, TimeNs resolution, TimeNs lateness,
                     uint64_t max_symbols = 0) {
  const std::string text = absl::StrCat(
      "window { length: \"", length, "ns\" resolution: \"",
      resolution == 0 ? std::string("exact") : absl::StrCat(resolution, "ns"),
      "\" }\nallowed_lateness: \"", lateness, "ns\"\nmax_future: \"1d\"\n",
      "max_symbols: ", max_symbols, "\n", kRules);
  absl::StatusOr<ebb::v1::EbbConfig> parsed =
      ParseConfig(text, /*json=*/false, "test");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  absl::StatusOr<EngineConfig> compiled = CompileConfig(*parsed);
  EXPECT_TRUE(compiled.ok()) << compiled.status();
  return *compiled;
}

std::unique_ptr<Pipeline> NewPipeline(const EngineConfig& config,
                                      const Clock* clock, Output* out) {
  absl::StatusOr<std::unique_ptr<Pipeline>> created =
      Pipeline::Create(config, clock, out);
  EXPECT_TRUE(created.ok()) << created.status();
  (*created)->RegisterSource("prices");
  return std::move(*created);
}

// A full snapshot through bytes.
ebb::v1::EngineSnapshot TakeSnapshot(Pipeline& p, bool delta = false) {
  ebb::v1::EngineSnapshot s;
  if (delta) {
    p.SnapshotChanged(&s);
  } else {
    p.Snapshot(&s);
  }
  absl::StatusOr<ebb::v1::EngineSnapshot> parsed =
      ParseEngineSnapshot(s.SerializeAsString());
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return *parsed;
}

struct Ev {
  std::string symbol;
  TimeNs time;
  double price;
};

// Events of a few symbols of which a changing few are active (so others go
// quiet and are freed), in an arrival order at most `lateness` behind, with
// repeats that are late when lateness is 0.
std::vector<Ev> RandomFeed(std::mt19937_64& rng, TimeNs length,
                           TimeNs lateness) {
  std::normal_distribution<double> z(0.0, 0.04);
  const int nsym = 2 + static_cast<int>(rng() % 8);
  std::vector<Ev> events;
  std::vector<double> price(nsym);
  for (double& p : price) p = 10 + static_cast<double>(rng() % 100);
  std::vector<int> active = {0};
  TimeNs t = kT0;
  const int n = 20 + static_cast<int>(rng() % 300);
  for (int i = 0; i < n; ++i) {
    if (rng() % 25 == 0) {
      active.clear();
      for (int k = 0; k < nsym; ++k) {
        if (rng() % 3 == 0) active.push_back(k);
      }
      if (active.empty()) active.push_back(static_cast<int>(rng() % nsym));
    }
    const uint64_t step = rng() % 100;
    t += step < 90   ? static_cast<TimeNs>(rng() % 3000) * kSecond / 1000
         : step < 97 ? static_cast<TimeNs>(rng() % 15) * kSecond
                     : length + static_cast<TimeNs>(rng() % 30) * kSecond;
    const int k = active[rng() % active.size()];
    price[k] *= std::exp(z(rng));
    events.push_back({absl::StrCat("S", k), t, price[k]});
  }
  std::vector<std::pair<TimeNs, size_t>> keys;
  for (size_t i = 0; i < events.size(); ++i) {
    keys.push_back(
        {events[i].time + static_cast<TimeNs>(rng() % (lateness + 1)), i});
  }
  std::stable_sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
    return a.first < b.first;
  });
  std::vector<Ev> arrival;
  for (const auto& key : keys) arrival.push_back(events[key.second]);
  for (int j = 0; j < (lateness == 0 ? 3 : 0); ++j) {
    const size_t from = rng() % arrival.size();
    const size_t to =
        std::min(arrival.size(), from + 10 + rng() % arrival.size());
    Ev repeat = arrival[from];
    repeat.time -= kSecond;
    arrival.insert(arrival.begin() + static_cast<std::ptrdiff_t>(to), repeat);
  }
  return arrival;
}

// Thousands of random feeds, exact and bucketed, with and without lateness,
// with quiet symbols freed and brought back and, in some, max_symbols below
// the number of symbols: at 1 to 4 random points the engine is snapshotted
// (through bytes) and replaced by a new engine restored from the snapshot. The
// metrics, alerts and dead letters equal the uninterrupted run's, and so do
// its counters. Between the cuts, deltas (SnapshotChanged) merged into the
// previous full snapshot equal the next full snapshot, byte for byte, and a
// restored engine's snapshot equals the one it was restored from.
TEST(EngineSnapshotTest, RestoredEngineContinuesAsTheUninterruptedRun) {
  std::mt19937_64 rng(29);
  const TimeNs length = 20 * kSecond;
  constexpr int kCases = 3000;
  uint64_t cuts_total = 0, with_pending = 0, with_open_episode = 0,
           with_quiet = 0, forgotten = 0, limited = 0, deltas = 0, alerts = 0;
  for (int c = 0; c < kCases; ++c) {
    const TimeNs resolution = c % 2 == 0 ? 0 : 4 * kSecond;
    const TimeNs lateness = c % 3 == 0 ? 0 : (1 + rng() % 5) * kSecond;
    const uint64_t max_symbols = c % 5 == 0 ? 2 + rng() % 3 : 0;
    const uint64_t quiet_records = rng() % 4;
    const EngineConfig config =
        Compile(length, resolution, lateness, max_symbols);
    const std::vector<Ev> feed = RandomFeed(rng, length, lateness);
    const std::string where =
        absl::StrCat("case ", c, " R=", resolution, " L=", lateness,
                     " max_symbols=", max_symbols);
    FakeClock clock(kT0 + 3650 * kNanosPerDay);

    CollectingOutput want;
    std::unique_ptr<Pipeline> reference = NewPipeline(config, &clock, &want);
    reference->TEST_set_quiet_records(quiet_records);
    for (size_t i = 0; i < feed.size(); ++i) {
      reference->OnPrice(feed[i].symbol, feed[i].time, feed[i].price,
                         Origin{1, 3, static_cast<int64_t>(i)}, "r",
                         absl::StrCat("e", i));
    }
    const size_t want_metrics = want.metrics.size();
    const size_t want_alerts = want.alerts.size();
    reference->Flush();

    CollectingOutput got;
    std::unique_ptr<Pipeline> engine = NewPipeline(config, &clock, &got);
    engine->TEST_set_quiet_records(quiet_records);
    std::vector<size_t> cuts;
    for (int k = 1 + static_cast<int>(rng() % 4); k > 0; --k) {
      cuts.push_back(rng() % (feed.size() + 1));
    }
    std::sort(cuts.begin(), cuts.end());
    size_t next_cut = 0;
    bool have_full = false;
    ebb::v1::EngineSnapshot merged;
    for (size_t i = 0; i <= feed.size(); ++i) {
      if (have_full && rng() % 16 == 0) {
        ASSERT_TRUE(
            ApplySnapshotDelta(TakeSnapshot(*engine, true), &merged).ok())
            << where;
        ++deltas;
      }
      while (next_cut < cuts.size() && cuts[next_cut] == i) {
        ++next_cut;
        ++cuts_total;
        if (have_full) {
          const absl::Status applied =
              ApplySnapshotDelta(TakeSnapshot(*engine, true), &merged);
          ASSERT_TRUE(applied.ok()) << applied << " " << where;
        }
        const ebb::v1::EngineSnapshot full = TakeSnapshot(*engine);
        if (have_full) {
          ASSERT_EQ(merged.SerializeAsString(), full.SerializeAsString())
              << where << " cut at " << i;
        }
        for (const ebb::v1::SymbolSnapshot& s : full.symbols()) {
          with_pending += s.pending_size() > 0;
          for (const ebb::v1::EpisodeSnapshot& e : s.episodes()) {
            with_open_episode += e.active();
          }
        }
        with_quiet += full.quiet_size() > 0;
        engine = NewPipeline(config, &clock, &got);
        engine->TEST_set_quiet_records(quiet_records);
        const absl::Status restored = engine->Restore(full);
        ASSERT_TRUE(restored.ok()) << restored << " " << where;
        ASSERT_EQ(TakeSnapshot(*engine).SerializeAsString(),
                  full.SerializeAsString())
            << where;
        merged = full;
        have_full = true;
      }
      if (i == feed.size()) break;
      engine->OnPrice(feed[i].symbol, feed[i].time, feed[i].price,
                      Origin{1, 3, static_cast<int64_t>(i)}, "r",
                      absl::StrCat("e", i));
    }
    const size_t got_metrics = got.metrics.size();
    const size_t got_alerts = got.alerts.size();
    engine->Flush();

    ASSERT_EQ(got_metrics, want_metrics) << where;
    ASSERT_EQ(got_alerts, want_alerts) << where;
    ASSERT_EQ(got.metrics.size(), want.metrics.size()) << where;
    for (size_t i = 0; i < got.metrics.size(); ++i) {
      ASSERT_EQ(got.metrics[i].symbol, want.metrics[i].symbol) << where;
      ASSERT_EQ(got.metrics[i].time, want.metrics[i].time) << where;
      ASSERT_EQ(got.metrics[i].price, want.metrics[i].price) << where;
      ASSERT_EQ(Diff(got.metrics[i].metrics, want.metrics[i].metrics), "")
          << where << " metrics " << i;
    }
    ASSERT_EQ(got.alerts, want.alerts) << where;
    ASSERT_EQ(got.dead_letters.size(), want.dead_letters.size()) << where;
    for (size_t i = 0; i < got.dead_letters.size(); ++i) {
      ASSERT_EQ(got.dead_letters[i].reason, want.dead_letters[i].reason);
      ASSERT_EQ(got.dead_letters[i].detail, want.dead_letters[i].detail);
      ASSERT_EQ(got.dead_letters[i].offset, want.dead_letters[i].offset);
    }
    const PipelineStats& a = engine->stats();
    const PipelineStats& b = reference->stats();
    ASSERT_EQ(a.received, b.received) << where;
    ASSERT_EQ(a.applied, b.applied) << where;
    ASSERT_EQ(a.rejected, b.rejected) << where;
    ASSERT_EQ(a.alerts, b.alerts) << where;
    ASSERT_EQ(a.symbols, b.symbols) << where;
    ASSERT_EQ(a.freed, b.freed) << where;
    ASSERT_EQ(a.forgotten, b.forgotten) << where;
    forgotten += b.forgotten;
    limited += b.rejected[ebb::v1::SYMBOL_LIMIT];
    alerts += want.alerts.size();
  }
  // The feeds exercise what they are meant to.
  EXPECT_GT(cuts_total, 6000u);
  EXPECT_GT(with_pending, 1000u);
  EXPECT_GT(with_open_episode, 1000u);
  EXPECT_GT(with_quiet, 1000u);
  EXPECT_GT(forgotten, 100u);
  EXPECT_GT(limited, 100u);
  EXPECT_GT(deltas, 10000u);
  EXPECT_GT(alerts, 10000u);
  std::printf(
      "%llu cuts: %llu symbols with pending events, %llu open episodes, %llu "
      "with quiet records; %llu forgotten, %llu symbol-limit dead letters, "
      "%llu deltas, %llu alerts\n",
      static_cast<unsigned long long>(cuts_total),
      static_cast<unsigned long long>(with_pending),
      static_cast<unsigned long long>(with_open_episode),
      static_cast<unsigned long long>(with_quiet),
      static_cast<unsigned long long>(forgotten),
      static_cast<unsigned long long>(limited),
      static_cast<unsigned long long>(deltas),
      static_cast<unsigned long long>(alerts));
}

// ---------------------------------------------------------------------------
// Engine errors.

// An engine with two symbols, one of them with an open episode and events in
// its reorder buffer, and one quiet record.
ebb::v1::EngineSnapshot SampleSnapshot(const EngineConfig& config) {
  FakeClock clock(kT0 + 3650 * kNanosPerDay);
  CollectingOutput out;
  std::unique_ptr<Pipeline> p = NewPipeline(config, &clock, &out);
  p->TEST_set_quiet_records(0);
  const Origin origin{1, 0, 7};
  for (int i = 0; i < 40; ++i) {
    p->OnPrice("S1", kT0 + (30 + i) * kSecond, 100 - i, origin, "r");
    p->OnPrice("S2", kT0 + (30 + i) * kSecond, 10 + i, origin, "r");
    // Q, the last state, is freed as soon as it has gone quiet.
    if (i == 0) p->OnPrice("Q", kT0, 50, origin, "r");
  }
  ebb::v1::EngineSnapshot s;
  p->Snapshot(&s);
  return s;
}

void ExpectRestoreError(const EngineConfig& config,
                        const ebb::v1::EngineSnapshot& s, absl::StatusCode code,
                        const std::string& message) {
  FakeClock clock(kT0);
  CollectingOutput out;
  std::unique_ptr<Pipeline> p = NewPipeline(config, &clock, &out);
  const absl::Status status = p->Restore(s);
  EXPECT_EQ(status.code(), code) << status;
  EXPECT_EQ(std::string(status.message()), message);
  // The engine is as new.
  EXPECT_EQ(p->live_symbols(), 0u);
  EXPECT_EQ(p->quiet_symbols(), 0u);
  EXPECT_EQ(p->stats().received, 0u);
}

TEST(EngineSnapshotTest, SampleHasWhatTheErrorTestsNeed) {
  const EngineConfig config = Compile(20 * kSecond, 0, 3 * kSecond);
  const ebb::v1::EngineSnapshot s = SampleSnapshot(config);
  ASSERT_EQ(s.symbols_size(), 2);
  ASSERT_EQ(s.quiet_size(), 1);
  EXPECT_EQ(s.symbols(0).symbol(), "S1");
  EXPECT_GT(s.symbols(0).pending_size(), 1);
  ASSERT_GT(s.symbols(0).episodes_size(), 0);
  EXPECT_TRUE(s.symbols(0).episodes(0).active());
  FakeClock clock(kT0);
  CollectingOutput out;
  std::unique_ptr<Pipeline> p = NewPipeline(config, &clock, &out);
  ASSERT_TRUE(p->Restore(s).ok());
  EXPECT_EQ(p->live_symbols(), 2u);
  EXPECT_EQ(p->quiet_symbols(), 1u);
  EXPECT_EQ(p->pending(), static_cast<uint64_t>(s.symbols(0).pending_size() +
                                                s.symbols(1).pending_size()));
}

TEST(EngineSnapshotTest, UnknownVersionIsAnError) {
  const EngineConfig config = Compile(20 * kSecond, 0, 3 * kSecond);
  ebb::v1::EngineSnapshot s = SampleSnapshot(config);
  s.set_version(2);
  ExpectRestoreError(config, s, absl::StatusCode::kFailedPrecondition,
                     "snapshot: version 2 is not supported (this build reads "
                     "version 1)");
  s.clear_version();
  absl::StatusOr<ebb::v1::EngineSnapshot> parsed =
      ParseEngineSnapshot(s.SerializeAsString());
  EXPECT_EQ(parsed.status().message(),
            "snapshot: version 0 is not supported (this build reads version "
            "1)");
}

// Every strict prefix of a snapshot's bytes is refused: it does not parse,
// or it lacks the 'complete' field written last.
TEST(EngineSnapshotTest, TruncatedBytesAreErrors) {
  const EngineConfig config = Compile(20 * kSecond, 4 * kSecond, 3 * kSecond);
  const std::string bytes = SampleSnapshot(config).SerializeAsString();
  ASSERT_TRUE(ParseEngineSnapshot(bytes).ok());
  int unparsable = 0, incomplete = 0;
  for (size_t n = 0; n < bytes.size(); ++n) {
    absl::StatusOr<ebb::v1::EngineSnapshot> parsed =
        ParseEngineSnapshot(absl::string_view(bytes).substr(0, n));
    ASSERT_FALSE(parsed.ok()) << n << " of " << bytes.size() << " bytes";
    if (parsed.status().code() == absl::StatusCode::kDataLoss) {
      EXPECT_EQ(parsed.status().message(),
                absl::StrCat("snapshot: ", n,
                             " bytes do not parse as ebb.v1.EngineSnapshot"));
      ++unparsable;
    } else if (parsed.status().message() ==
               "snapshot: no 'complete' field: the snapshot was cut short") {
      ++incomplete;
    } else {
      // A prefix without the version field at all.
      EXPECT_EQ(parsed.status().message(),
                "snapshot: version 0 is not supported (this build reads "
                "version 1)");
    }
  }
  EXPECT_GT(unparsable, 100);
  EXPECT_GT(incomplete, 5);
}

TEST(EngineSnapshotTest, InconsistentSnapshotsAreErrors) {
  const EngineConfig config = Compile(20 * kSecond, 0, 3 * kSecond);
  const ebb::v1::EngineSnapshot good = SampleSnapshot(config);
  {
    ebb::v1::EngineSnapshot s = good;
    s.mutable_symbols(0)->mutable_window()->mutable_time_steps()->Add(5);
    ExpectRestoreError(
        config, s, absl::StatusCode::kInvalidArgument,
        absl::StrCat("snapshot: symbols[0] (\"S1\"): window."
                     "time_steps: ",
                     s.symbols(0).window().time_steps_size(), " steps for ",
                     s.symbols(0).window().prices_size(),
                     " entries (want one fewer than entries)"));
  }
  {
    ebb::v1::EngineSnapshot s = good;
    ebb::v1::SymbolSnapshot* sym = s.mutable_symbols(0);
    ASSERT_GE(sym->pending_size(), 2);
    std::swap(*sym->mutable_pending(0), *sym->mutable_pending(1));
    ExpectRestoreError(config, s, absl::StatusCode::kInvalidArgument,
                       "snapshot: symbols[0] (\"S1\"): pending[1].time: not "
                       "after the previous pending event (time, then "
                       "arrival)");
  }
  {
    ebb::v1::EngineSnapshot s = good;
    s.mutable_symbols(0)->mutable_pending(0)->set_time(kT0);
    ExpectRestoreError(config, s, absl::StatusCode::kInvalidArgument,
                       absl::StrCat("snapshot: symbols[0] (\"S1\"): "
                                    "pending[0].time: ",
                                    kT0,
                                    " is not between the watermark and "
                                    "newest_seen, at or after last_applied"));
  }
  {
    ebb::v1::EngineSnapshot s = good;
    s.mutable_symbols(0)->mutable_episodes(0)->set_rule("gone");
    ExpectRestoreError(config, s, absl::StatusCode::kInvalidArgument,
                       "snapshot: symbols[0] (\"S1\"): episodes[0].rule: "
                       "\"gone\" is not a rule of this engine that matches "
                       "the symbol");
  }
  {
    ebb::v1::EngineSnapshot s = good;
    s.mutable_symbols(0)->mutable_episodes(0)->set_reached(2);
    ExpectRestoreError(
        config, s, absl::StatusCode::kInvalidArgument,
        absl::StrCat("snapshot: symbols[0] (\"S1\"): "
                     "episodes[0].reached: 2 is not a level of "
                     "rule \"",
                     s.symbols(0).episodes(0).rule(), "\" (",
                     s.symbols(0).episodes(0).rule() == "dd" ? 2 : 1,
                     " levels) for an open episode"));
  }
  {
    ebb::v1::EngineSnapshot s = good;
    s.mutable_symbols(1)->set_symbol("S1");
    ExpectRestoreError(config, s, absl::StatusCode::kInvalidArgument,
                       "snapshot: symbols[1] (\"S1\"): symbol: listed twice");
  }
  {
    ebb::v1::EngineSnapshot s = good;
    s.mutable_symbols(1)->set_live_index(0);
    ExpectRestoreError(config, s, absl::StatusCode::kInvalidArgument,
                       "snapshot: symbols[1] (\"S2\"): live_index: 0 is not "
                       "its position");
  }
  {
    ebb::v1::EngineSnapshot s = good;
    s.mutable_quiet(0)->set_last_price(std::numeric_limits<double>::infinity());
    ExpectRestoreError(config, s, absl::StatusCode::kInvalidArgument,
                       "snapshot: quiet[0] (\"Q\"): last_price: inf is not a "
                       "finite positive price");
  }
  {
    ebb::v1::EngineSnapshot s = good;
    s.mutable_symbols(0)->mutable_window()->set_first_time(kT0);
    TimeNs newest = kT0;
    for (uint64_t step : s.symbols(0).window().time_steps()) {
      newest += static_cast<TimeNs>(step);
    }
    ExpectRestoreError(config, s, absl::StatusCode::kInvalidArgument,
                       absl::StrCat("snapshot: symbols[0] (\"S1\"): window: "
                                    "the newest entry is at ",
                                    newest, ", not at last_applied (",
                                    s.symbols(0).last_applied(), ")"));
  }
  {
    ebb::v1::EngineSnapshot s = good;
    s.set_delta(true);
    ExpectRestoreError(config, s, absl::StatusCode::kInvalidArgument,
                       "snapshot: a delta; restore a full snapshot "
                       "(ApplySnapshotDelta merges deltas into one)");
  }
  ExpectRestoreError(Compile(20 * kSecond, 4 * kSecond, 3 * kSecond), good,
                     absl::StatusCode::kFailedPrecondition,
                     "snapshot: taken with window 20000000000 ns, resolution "
                     "0 ns, allowed_lateness 3000000000 ns; this engine has "
                     "20000000000, 4000000000, 3000000000");
  ExpectRestoreError(Compile(20 * kSecond, 0, 3 * kSecond, 2), good,
                     absl::StatusCode::kFailedPrecondition,
                     "snapshot: 2 symbols with state and 1 quiet ones are "
                     "more than this engine's max_symbols (2)");
  // An engine that has taken records already.
  FakeClock clock(kT0 + 3650 * kNanosPerDay);
  CollectingOutput out;
  std::unique_ptr<Pipeline> used = NewPipeline(config, &clock, &out);
  used->OnPrice("S9", kT0, 1, Origin{}, "r");
  EXPECT_EQ(used->Restore(good).message(),
            "snapshot: the engine has received records already");
}

// Corrupted bytes: random bytes of a snapshot changed, dropped or repeated.
// Each is refused with an error or restores an engine that then takes events
// (the sanitizer build runs this too): never a crash.
TEST(EngineSnapshotTest, CorruptedBytesNeverCrash) {
  for (TimeNs resolution : {TimeNs{0}, 4 * kSecond}) {
    const EngineConfig config = Compile(20 * kSecond, resolution, 3 * kSecond);
    const std::string good = SampleSnapshot(config).SerializeAsString();
    std::mt19937_64 rng(5 + resolution);
    int refused = 0, restored = 0;
    for (int c = 0; c < 10000; ++c) {
      std::string bytes = good;
      for (int k = 1 + static_cast<int>(rng() % 4); k > 0; --k) {
        const size_t at = rng() % bytes.size();
        switch (rng() % 3) {
          case 0:
            bytes[at] = static_cast<char>(rng());
            break;
          case 1:
            bytes.erase(at, 1 + rng() % 8);
            break;
          default:
            bytes.insert(at, bytes.substr(at, 1 + rng() % 8));
            break;
        }
        if (bytes.empty()) bytes = good;
      }
      absl::StatusOr<ebb::v1::EngineSnapshot> parsed =
          ParseEngineSnapshot(bytes);
      if (!parsed.ok()) {
        ++refused;
        continue;
      }
      FakeClock clock(kT0 + 3650 * kNanosPerDay);
      CollectingOutput out;
      std::unique_ptr<Pipeline> p = NewPipeline(config, &clock, &out);
      if (!p->Restore(*parsed).ok()) {
        ++refused;
        continue;
      }
      ++restored;
      for (int i = 0; i < 50; ++i) {
        p->OnPrice(i % 2 == 0 ? "S1" : "S2", kT0 + (60 + i) * kSecond, 50 + i,
                   Origin{1, 0, i}, "r");
      }
      p->Flush();
    }
    EXPECT_GT(refused, 5000);
    EXPECT_GT(restored, 100);
  }
}

// A delta that is missing from the chain, or applied twice, is refused.
TEST(EngineSnapshotTest, DeltaOutOfOrderIsAnError) {
  const EngineConfig config = Compile(20 * kSecond, 0, 0);
  FakeClock clock(kT0 + 3650 * kNanosPerDay);
  CollectingOutput out;
  std::unique_ptr<Pipeline> p = NewPipeline(config, &clock, &out);
  p->OnPrice("A", kT0, 1, Origin{}, "r");
  ebb::v1::EngineSnapshot full = TakeSnapshot(*p);
  p->OnPrice("B", kT0 + 1, 1, Origin{}, "r");
  const ebb::v1::EngineSnapshot first = TakeSnapshot(*p, true);
  p->OnPrice("C", kT0 + 2, 1, Origin{}, "r");
  const ebb::v1::EngineSnapshot second = TakeSnapshot(*p, true);
  ebb::v1::EngineSnapshot merged = full;
  EXPECT_EQ(ApplySnapshotDelta(second, &merged).message(),
            "snapshot: after the delta the live indices are not "
            "0..live_symbols-1 (a delta missing, or applied twice?)");
  merged = full;
  ASSERT_TRUE(ApplySnapshotDelta(first, &merged).ok());
  ASSERT_TRUE(ApplySnapshotDelta(second, &merged).ok());
  EXPECT_EQ(merged.SerializeAsString(), TakeSnapshot(*p).SerializeAsString());
  EXPECT_EQ(ApplySnapshotDelta(full, &merged).message(),
            "snapshot: ApplySnapshotDelta takes a delta and a full snapshot");
}

// Only the symbols that changed are in a delta.
TEST(EngineSnapshotTest, DeltaHoldsTheChangedSymbols) {
  const EngineConfig config = Compile(20 * kSecond, 0, 0);
  FakeClock clock(kT0 + 3650 * kNanosPerDay);
  CollectingOutput out;
  std::unique_ptr<Pipeline> p = NewPipeline(config, &clock, &out);
  for (int k = 0; k < 100; ++k) {
    p->OnPrice(absl::StrCat("S", k), kT0, 1 + k, Origin{}, "r");
  }
  EXPECT_EQ(TakeSnapshot(*p).symbols_size(), 100);
  p->OnPrice("S7", kT0 + 1, 2, Origin{}, "r");
  p->OnPrice("S42", kT0 + 1, 2, Origin{}, "r");
  p->OnPrice("S42", kT0 - 1, 2, Origin{}, "r");  // late: no change
  const ebb::v1::EngineSnapshot delta = TakeSnapshot(*p, true);
  ASSERT_EQ(delta.symbols_size(), 2);
  EXPECT_EQ(delta.symbols(0).symbol(), "S7");
  EXPECT_EQ(delta.symbols(1).symbol(), "S42");
  EXPECT_EQ(TakeSnapshot(*p, true).symbols_size(), 0);
}

}  // namespace
}  // namespace ebb
