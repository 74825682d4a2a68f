// The Pipeline against the contract: per-symbol results independent of
// interleaving, the lateness rule, the reorder buffer, validation reasons and
// the bookkeeping of every record.

#include "engine/pipeline.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "ebb/v1/events.pb.h"
#include "gtest/gtest.h"
#include "tests/window/brute_force.h"

namespace ebb {
namespace {

using ebb_ref::BruteForce;

// 2025-01-01T00:00:00Z.
constexpr TimeNs kT0 = 1'735'689'600LL * kNanosPerSecond;
constexpr TimeNs kSecond = kNanosPerSecond;

struct MetricsRecord {
  std::string symbol;
  TimeNs time;
  double price;
  WindowMetrics metrics;
  TimeNs window_length;
};

struct DeadLetterRecord {
  ebb::v1::RejectReason reason;
  std::string detail;
  std::string original;
  std::string symbol;
  Origin origin;
};

class CollectingOutput : public Output {
 public:
  bool WantsMetrics() const override { return true; }
  void OnMetrics(const MetricsView& v) override {
    metrics.push_back(
        {std::string(v.symbol), v.time, v.price, *v.metrics, v.window_length});
  }
  void OnAlert(const ebb::v1::Alert& alert) override {
    alerts.push_back(alert);
  }
  void OnDeadLetter(const DeadLetterView& d) override {
    dead_letters.push_back({d.reason, std::string(d.detail),
                            std::string(d.original), std::string(d.symbol),
                            d.origin});
  }

  // The metrics of one symbol, in order.
  std::vector<MetricsRecord> Of(absl::string_view symbol) const {
    std::vector<MetricsRecord> out;
    for (const MetricsRecord& r : metrics) {
      if (r.symbol == symbol) out.push_back(r);
    }
    return out;
  }

  std::vector<MetricsRecord> metrics;
  std::vector<ebb::v1::Alert> alerts;
  std::vector<DeadLetterRecord> dead_letters;
};

// "30s"-style text is avoided on purpose: durations are given in ns, which
// ParseDuration accepts, so the config text does not depend on FormatDuration.
std::string Ns(TimeNs d) { return absl::StrCat(d, "ns"); }

EngineConfig Compile(TimeNs length, TimeNs resolution, TimeNs lateness,
                     const std::string& rules = "") {
  const std::string text =
      absl::StrCat("window { length: \"", Ns(length), "\" resolution: \"",
                   resolution == 0 ? std::string("exact") : Ns(resolution),
                   "\" }\n", "allowed_lateness: \"", Ns(lateness), "\"\n",
                   "max_future: \"1d\"\n", rules);
  absl::StatusOr<ebb::v1::EbbConfig> parsed =
      ParseConfig(text, /*json=*/false, "test");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  absl::StatusOr<EngineConfig> compiled = CompileConfig(*parsed);
  EXPECT_TRUE(compiled.ok()) << compiled.status();
  EXPECT_EQ(compiled->window.length, length);
  EXPECT_EQ(compiled->window.resolution, resolution);
  EXPECT_EQ(compiled->allowed_lateness, lateness);
  return *compiled;
}

struct Harness {
  explicit Harness(EngineConfig config, TimeNs now = kT0 + 3650 * kNanosPerDay)
      : clock(now) {
    auto created = Pipeline::Create(std::move(config), &clock, &out);
    EXPECT_TRUE(created.ok()) << created.status();
    pipeline = std::move(*created);
  }
  FakeClock clock;
  CollectingOutput out;
  std::unique_ptr<Pipeline> pipeline;
};

std::string Diff(const WindowMetrics& a, const WindowMetrics& b) {
  std::string err;
  if (!(a.peak == b.peak)) err += "peak; ";
  if (!(a.drawdown == b.drawdown)) err += "drawdown; ";
  if (!(a.max_drawdown == b.max_drawdown)) err += "max_drawdown; ";
  if (!(a.mdd_peak == b.mdd_peak)) err += "mdd_peak; ";
  if (!(a.mdd_trough == b.mdd_trough)) err += "mdd_trough; ";
  if (a.change.has_value() != b.change.has_value() ||
      (a.change.has_value() && !(*a.change == *b.change))) {
    err += "change; ";
  }
  if (a.full_window != b.full_window) err += "full_window; ";
  if (a.entries != b.entries) err += "entries; ";
  return err;
}

// Two metric streams of one symbol are the same event by event.
void ExpectSameStream(const std::vector<MetricsRecord>& got,
                      const std::vector<MetricsRecord>& want,
                      const std::string& where) {
  ASSERT_EQ(got.size(), want.size()) << where;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].time, want[i].time) << where << " event " << i;
    ASSERT_EQ(got[i].price, want[i].price) << where << " event " << i;
    ASSERT_EQ(Diff(got[i].metrics, want[i].metrics), "")
        << where << " event " << i;
  }
}

// Checks a metric stream of one symbol against the brute force of the same
// events.
void ExpectMatchesBruteForce(const std::vector<MetricsRecord>& got,
                             TimeNs length, TimeNs resolution,
                             const std::string& where) {
  BruteForce ref(length, resolution);
  for (size_t i = 0; i < got.size(); ++i) {
    ref.Add(got[i].time, got[i].price);
    ASSERT_EQ(ref.Check(got[i].metrics), "") << where;
    ASSERT_EQ(got[i].window_length, length);
  }
}

struct Ev {
  std::string symbol;
  TimeNs time;
  double price;
};

// Sorted random events of one symbol: steps of 0 (bursts) to a few seconds,
// with rare gaps.
std::vector<Ev> SymbolEvents(std::mt19937_64& rng, const std::string& symbol,
                             int n, TimeNs length) {
  std::vector<Ev> out;
  std::normal_distribution<double> z(0.0, 0.05);
  TimeNs t = kT0 + static_cast<TimeNs>(rng() % 1000) * kSecond;
  double price = 10 + static_cast<double>(rng() % 1000);
  for (int i = 0; i < n; ++i) {
    const uint64_t r = rng() % 100;
    if (r < 20) {
      // burst: same time
    } else if (r < 97) {
      t += static_cast<TimeNs>(rng() % 4000) * kNanosPerSecond / 1000;
    } else {
      t += length + static_cast<TimeNs>(rng() % 100) * kSecond;
    }
    price = rng() % 5 == 0 ? price : price * std::exp(z(rng));
    out.push_back({symbol, t, price});
  }
  return out;
}

// A random interleaving of per-symbol event lists that keeps each symbol's
// order. With join_every > 0, symbol k only joins once about join_every * k
// records are out, so first appearances (state inserts) spread over the run.
std::vector<Ev> Interleave(std::mt19937_64& rng,
                           const std::vector<std::vector<Ev>>& per_symbol,
                           size_t join_every = 0) {
  std::vector<Ev> merged;
  std::vector<size_t> next(per_symbol.size(), 0);
  size_t joined = join_every > 0 ? 1 : per_symbol.size();
  for (;;) {
    if (joined < per_symbol.size() && merged.size() >= join_every * joined) {
      ++joined;
    }
    std::vector<size_t> open;
    for (size_t k = 0; k < joined; ++k) {
      if (next[k] < per_symbol[k].size()) open.push_back(k);
    }
    if (open.empty() && joined == per_symbol.size()) break;
    if (open.empty()) {
      ++joined;
      continue;
    }
    const size_t k = open[rng() % open.size()];
    merged.push_back(per_symbol[k][next[k]++]);
  }
  return merged;
}

// `count` symbols "S0", "S1", ..., each with min_events + [0, spread) events.
void ManySymbols(std::mt19937_64& rng, int count, int min_events, int spread,
                 TimeNs length, std::vector<std::string>* symbols,
                 std::vector<std::vector<Ev>>* per_symbol) {
  for (int k = 0; k < count; ++k) {
    symbols->push_back(absl::StrCat("S", k));
    per_symbol->push_back(
        SymbolEvents(rng, symbols->back(),
                     min_events + static_cast<int>(rng() % spread), length));
  }
}

// ---------------------------------------------------------------------------------------------

TEST(PipelineTest, MultiSymbolInterleavingMatchesEachSymbolAlone) {
  const std::vector<std::string> symbols = {"BTC-USD", "ETH-USD", "^NDX",
                                            "IREN", "a.b:c/d=e_f-9"};
  std::mt19937_64 rng(42);
  for (TimeNs resolution : {TimeNs{0}, kSecond, 5 * kSecond}) {
    for (int round = 0; round < 20; ++round) {
      const TimeNs length = 30 * kSecond;
      std::vector<std::vector<Ev>> per_symbol;
      for (const std::string& s : symbols) {
        per_symbol.push_back(
            SymbolEvents(rng, s, 50 + static_cast<int>(rng() % 150), length));
      }
      const std::vector<Ev> merged = Interleave(rng, per_symbol);
      Harness all(Compile(length, resolution, 0));
      for (const Ev& e : merged)
        all.pipeline->OnPrice(e.symbol, e.time, e.price, {}, "x");
      EXPECT_EQ(all.pipeline->stats().symbols, symbols.size());
      EXPECT_EQ(all.pipeline->stats().applied, merged.size());
      EXPECT_EQ(all.pipeline->stats().total_rejected(), 0u);
      for (size_t k = 0; k < symbols.size(); ++k) {
        Harness alone(Compile(length, resolution, 0));
        for (const Ev& e : per_symbol[k]) {
          alone.pipeline->OnPrice(e.symbol, e.time, e.price, {}, "x");
        }
        const std::string where =
            absl::StrCat(symbols[k], " R=", resolution, " round ", round);
        ExpectSameStream(all.out.Of(symbols[k]), alone.out.Of(symbols[k]),
                         where);
        ExpectMatchesBruteForce(all.out.Of(symbols[k]), length, resolution,
                                where);
        if (HasFatalFailure()) return;
      }
    }
  }
}

// The look-ahead hints are hints: a pipeline handed the events in batches
// (OnPrices, hinting ahead within each) computes exactly what one handed them
// one by one (OnPrice) does, whatever the batches' sizes and wherever stop()
// ends one early. Windows empty (gaps), wrap around ring blocks and grow, so
// the hints also meet empty rings and unheld positions (run under ASan+UBSan
// too).
TEST(PipelineTest, BatchesAndTheirHintsChangeNothing) {
  std::mt19937_64 rng(7);
  for (TimeNs resolution : {TimeNs{0}, kSecond}) {
    std::vector<std::string> symbols;
    std::vector<std::vector<Ev>> per_symbol;
    const TimeNs length = 60 * kSecond;
    ManySymbols(rng, 40, 100, 900, length, &symbols, &per_symbol);
    const std::vector<Ev> merged = Interleave(rng, per_symbol);
    Harness plain(Compile(length, resolution, 0));
    Harness batched(Compile(length, resolution, 0));
    batched.pipeline->TEST_set_hint_min_window_bytes(0);  // hint small ones
    for (const Ev& e : merged) {
      plain.pipeline->OnPrice(e.symbol, e.time, e.price, {}, "x");
    }
    std::vector<Pipeline::PriceRecord> batch;
    size_t next = 0;
    uint64_t stopped_early = 0;
    while (next < merged.size()) {
      const size_t count =
          std::min<size_t>(1 + rng() % 300, merged.size() - next);
      batch.clear();
      for (size_t k = 0; k < count; ++k) {
        const Ev& e = merged[next + k];
        batch.push_back({e.symbol, e.time, e.price, {}, "x", {}});
      }
      // One batch in four stops after a random record.
      const size_t stop_after = rng() % 4 == 0 ? rng() % count : count;
      size_t calls = 0;
      const size_t handed = batched.pipeline->OnPrices(
          batch, [&] { return ++calls == stop_after + 1; });
      ASSERT_EQ(handed, std::min(stop_after + 1, count));
      ASSERT_EQ(calls, handed);
      if (handed < count) ++stopped_early;
      next += handed;
    }
    EXPECT_GT(stopped_early, 10u);
    EXPECT_EQ(batched.pipeline->stats().applied, merged.size());
    EXPECT_EQ(batched.pipeline->stats().symbols, symbols.size());
    EXPECT_EQ(plain.out.alerts.size(), batched.out.alerts.size());
    for (const std::string& s : symbols) {
      ExpectSameStream(batched.out.Of(s), plain.out.Of(s),
                       absl::StrCat(s, " R=", resolution));
      if (HasFatalFailure()) return;
    }
  }
}

// PrefetchAhead keeps its lookups by record number and the handover reuses
// them. A lookup is only a shortcut: hints that name the wrong symbol, batches
// that restart at record 0, records that are rejected before their state is
// looked up (an invalid price, a Kafka key that is not the symbol), news in
// between, a reorder buffer, and symbols first seen between a hint and its
// handover (an insert may move every state) must all leave the results
// unchanged.
TEST(PipelineTest, PrefetchLookupsSurviveWrongHintsAndRestartedBatches) {
  std::mt19937_64 rng(11);
  for (const auto& [resolution, lateness] :
       {std::pair{TimeNs{0}, TimeNs{0}}, std::pair{kSecond, TimeNs{0}},
        std::pair{TimeNs{0}, 3 * kSecond}, std::pair{kSecond, 3 * kSecond}}) {
    std::vector<std::string> symbols;
    std::vector<std::vector<Ev>> per_symbol;
    const TimeNs length = 60 * kSecond;
    ManySymbols(rng, 120, 50, 400, length, &symbols, &per_symbol);
    // Symbol k joins the interleaving after about 6k records, so states are
    // inserted (and the map grows, moving them) all along, between hints and
    // their handovers.
    const std::vector<Ev> merged = Interleave(rng, per_symbol, 6);
    Harness plain(Compile(length, resolution, lateness));
    Harness hinted(Compile(length, resolution, lateness));
    hinted.pipeline->TEST_set_hint_min_window_bytes(
        0);  // hint small windows too
    size_t batch_start = 0;
    uint64_t wrong_hints = 0;
    while (batch_start < merged.size()) {
      const size_t count =
          std::min<size_t>(1 + rng() % 60, merged.size() - batch_start);
      // What the caller believes record k of the batch is (mostly right).
      std::vector<std::string> believed(count);
      for (size_t k = 0; k < count; ++k) {
        const uint64_t dice = rng() % 10;
        believed[k] = dice == 0   ? symbols[rng() % symbols.size()]
                      : dice == 1 ? std::string("never-seen")
                      : dice == 2 ? std::string()
                                  : merged[batch_start + k].symbol;
        if (believed[k] != merged[batch_start + k].symbol) ++wrong_hints;
      }
      for (size_t i = 0; i < count; ++i) {
        const Ev& e = merged[batch_start + i];
        hinted.pipeline->TEST_PrefetchAhead(
            i, count, [&](size_t k) { return absl::string_view(believed[k]); });
        // Now and then the record is rejected before its state is looked up
        // (an invalid price), in both pipelines.
        const double price = rng() % 50 == 0 ? -1.0 : e.price;
        const uint64_t how = rng() % 20;
        if (how == 0) {  // a news record first
          ebb::v1::NewsEvent news;
          news.set_id(absl::StrCat("n", i));
          ToTimestamp(kT0, news.mutable_event_time());
          plain.pipeline->OnNews(news, {}, {});
          hinted.pipeline->OnNews(news, {}, {});
        }
        if (how < 4) {  // as StreamRunner hands it over: encoded, with its key
          ebb::v1::PriceEvent event;
          event.set_symbol(e.symbol);
          ToTimestamp(e.time, event.mutable_event_time());
          event.set_price(price);
          const std::string bytes = event.SerializeAsString();
          // how == 3: a key that is (most likely) not the symbol.
          const absl::string_view key =
              how == 3 ? absl::string_view(symbols[rng() % symbols.size()])
                       : absl::string_view(e.symbol);
          plain.pipeline->OnEncodedPrice(bytes, {}, &key);
          hinted.pipeline->OnEncodedPrice(bytes, {}, &key);
        } else {
          plain.pipeline->OnPrice(e.symbol, e.time, price, {}, "x");
          hinted.pipeline->OnPrice(e.symbol, e.time, price, {}, "x");
        }
      }
      batch_start += count;
    }
    plain.pipeline->Flush();
    hinted.pipeline->Flush();
    EXPECT_GT(wrong_hints, merged.size() / 5);
    EXPECT_GT(plain.pipeline->stats().total_rejected(), 0u);
    EXPECT_GT(plain.pipeline->stats().rejected[ebb::v1::KEY_MISMATCH], 0u);
    EXPECT_GT(plain.pipeline->stats().news, 0u);
    EXPECT_EQ(hinted.pipeline->stats().applied,
              plain.pipeline->stats().applied);
    EXPECT_EQ(hinted.pipeline->stats().total_rejected(),
              plain.pipeline->stats().total_rejected());
    EXPECT_EQ(hinted.pipeline->stats().symbols, symbols.size());
    EXPECT_EQ(plain.out.alerts.size(), hinted.out.alerts.size());
    for (const std::string& s : symbols) {
      ExpectSameStream(hinted.out.Of(s), plain.out.Of(s),
                       absl::StrCat(s, " R=", resolution, " L=", lateness));
      if (HasFatalFailure()) return;
    }
  }
}

TEST(PipelineTest, LateEventIsRejectedWithZeroLateness) {
  Harness h(Compile(60 * kSecond, 0, 0));
  const uint32_t source = h.pipeline->RegisterSource("prices/BTC.csv");
  h.pipeline->OnPrice("BTC-USD", kT0 + 10 * kSecond, 100, {source, -1, 2},
                      "line 2");
  h.pipeline->OnPrice("BTC-USD", kT0 + 20 * kSecond, 90, {source, -1, 3},
                      "line 3");
  // Equal to the last applied time: not late, applied after it.
  h.pipeline->OnPrice("BTC-USD", kT0 + 20 * kSecond, 80, {source, -1, 4},
                      "line 4");
  // Older than the last applied time: late.
  h.pipeline->OnPrice("BTC-USD", kT0 + 15 * kSecond, 70, {source, 3, 5},
                      "line,5,\x01");
  // Another symbol is not affected by BTC-USD's time.
  h.pipeline->OnPrice("ETH-USD", kT0 + 1 * kSecond, 5, {source, -1, 6},
                      "line 6");

  const PipelineStats& stats = h.pipeline->stats();
  EXPECT_EQ(stats.received, 5u);
  EXPECT_EQ(stats.applied, 4u);
  EXPECT_EQ(stats.rejected[ebb::v1::LATE], 1u);
  EXPECT_EQ(stats.total_rejected(), 1u);
  ASSERT_EQ(h.out.dead_letters.size(), 1u);
  const DeadLetterRecord& d = h.out.dead_letters[0];
  EXPECT_EQ(d.reason, ebb::v1::LATE);
  EXPECT_EQ(d.original, std::string("line,5,\x01"));
  EXPECT_EQ(d.symbol, "BTC-USD");
  EXPECT_EQ(d.origin.source, source);
  EXPECT_EQ(d.origin.partition, 3);
  EXPECT_EQ(d.origin.offset, 5);
  EXPECT_FALSE(d.detail.empty());
  EXPECT_NE(d.detail.find(FormatTime(kT0 + 15 * kSecond)), std::string::npos)
      << d.detail;
  EXPECT_EQ(h.pipeline->source_name(source), "prices/BTC.csv");

  // The late event changed nothing: BTC-USD's metrics are those of the three
  // applied events.
  const std::vector<MetricsRecord> btc = h.out.Of("BTC-USD");
  ASSERT_EQ(btc.size(), 3u);
  EXPECT_EQ(btc[2].metrics.peak, (PricePoint{100, kT0 + 10 * kSecond}));
  EXPECT_EQ(btc[2].metrics.drawdown, 1.0 - 80.0 / 100.0);
  ExpectMatchesBruteForce(btc, 60 * kSecond, 0, "btc");
  // A later event is applied normally after the rejection.
  h.pipeline->OnPrice("BTC-USD", kT0 + 21 * kSecond, 60, {source, -1, 7},
                      "line 7");
  EXPECT_EQ(h.pipeline->stats().applied, 5u);
  EXPECT_EQ(h.out.Of("BTC-USD").back().metrics.drawdown, 1.0 - 60.0 / 100.0);
}

TEST(PipelineTest, ReorderBufferReleasesAtTheWatermark) {
  // L = 10 s: an event is applied as soon as its time <= newest seen - L.
  Harness h(Compile(60 * kSecond, 0, 10 * kSecond));
  auto price = [&](int seconds, double p) {
    h.pipeline->OnPrice("X", kT0 + seconds * kSecond, p, {0, -1, seconds}, "r");
  };
  price(100, 1.0);
  EXPECT_EQ(h.pipeline->stats().applied, 0u);
  price(109, 2.0);  // watermark 99: nothing yet
  EXPECT_EQ(h.pipeline->stats().applied, 0u);
  price(110, 3.0);  // watermark 100: the event at 100 is exactly at it
  EXPECT_EQ(h.pipeline->stats().applied, 1u);
  price(105, 4.0);  // 105 > watermark 100: buffered, although seen after 110
  EXPECT_EQ(h.pipeline->stats().applied, 1u);
  EXPECT_EQ(h.pipeline->pending(), 3u);
  price(125, 5.0);  // watermark 115: 105, 109, 110 in time order
  ASSERT_EQ(h.out.metrics.size(), 4u);
  EXPECT_EQ(h.out.metrics[1].time, kT0 + 105 * kSecond);
  EXPECT_EQ(h.out.metrics[2].time, kT0 + 109 * kSecond);
  EXPECT_EQ(h.out.metrics[3].time, kT0 + 110 * kSecond);
  EXPECT_EQ(h.pipeline->stats().received,
            h.pipeline->stats().applied + h.pipeline->pending());
  h.pipeline->Flush();
  ASSERT_EQ(h.out.metrics.size(), 5u);
  EXPECT_EQ(h.out.metrics[4].time, kT0 + 125 * kSecond);
  ExpectMatchesBruteForce(h.out.metrics, 60 * kSecond, 0, "x");
}

TEST(PipelineTest, FlushAppliesAcrossSymbolsInTimeThenArrivalOrder) {
  // L = 1 h: the last hour of every symbol is still waiting at the end. Flush
  // applies it in (time, arrival) order across symbols, whatever the order of
  // the symbol map (which changes from process to process).
  Harness h(Compile(kNanosPerDay, 0, 60 * kNanosPerMinute));
  constexpr int kSymbols = 40;
  for (int minute = 0; minute < 50; ++minute) {
    for (int s = kSymbols - 1; s >= 0; --s) {
      // Symbols alternate between two clocks 30 s apart, so the times
      // interleave; equal times arrive in descending symbol order.
      const TimeNs t = kT0 + minute * kNanosPerMinute + (s % 2) * 30 * kSecond;
      h.pipeline->OnPrice(absl::StrCat("S", s), t, 100.0 + minute, {0, -1, 0},
                          "r");
    }
  }
  const size_t before = h.out.metrics.size();
  ASSERT_EQ(h.pipeline->pending(), 50u * kSymbols - before);
  h.pipeline->Flush();
  ASSERT_EQ(h.out.metrics.size(), 50u * kSymbols);
  ASSERT_GT(h.out.metrics.size() - before, 1000u);
  for (size_t i = before + 1; i < h.out.metrics.size(); ++i) {
    const MetricsRecord& a = h.out.metrics[i - 1];
    const MetricsRecord& b = h.out.metrics[i];
    ASSERT_LE(a.time, b.time) << i;
    if (a.time == b.time) {  // arrival order: descending symbol numbers
      ASSERT_GT(std::stoi(a.symbol.substr(1)), std::stoi(b.symbol.substr(1)))
          << i;
    }
  }
}

TEST(PipelineTest, LatenessIsAgainstTheLastAppliedTime) {
  // L = 10 s: late iff the time is before the symbol's last APPLIED time (not
  // the watermark).
  Harness h(Compile(60 * kSecond, 0, 10 * kSecond));
  auto price = [&](int seconds, double p) {
    h.pipeline->OnPrice("X", kT0 + seconds * kSecond, p, {0, -1, seconds}, "r");
  };
  price(100, 1.0);  // buffered (watermark 90)
  price(95, 2.0);   // buffered
  EXPECT_EQ(h.pipeline->stats().applied, 0u);
  EXPECT_EQ(h.pipeline->pending(), 2u);
  price(120, 3.0);  // watermark 110: applies 95 then 100
  ASSERT_EQ(h.out.metrics.size(), 2u);
  EXPECT_EQ(h.out.metrics[0].time, kT0 + 95 * kSecond);
  EXPECT_EQ(h.out.metrics[1].time, kT0 + 100 * kSecond);
  price(105, 4.0);  // behind the watermark but not before 100: applied at once
  ASSERT_EQ(h.out.metrics.size(), 3u);
  EXPECT_EQ(h.out.metrics[2].time, kT0 + 105 * kSecond);
  price(99, 5.0);   // before the last applied time (105): late
  price(105, 6.0);  // equal to it: applied
  EXPECT_EQ(h.pipeline->stats().rejected[ebb::v1::LATE], 1u);
  ASSERT_EQ(h.out.dead_letters.size(), 1u);
  EXPECT_EQ(h.out.dead_letters[0].origin.offset, 99);
  EXPECT_EQ(h.out.metrics.size(), 4u);
  EXPECT_EQ(h.pipeline->pending(), 1u);  // 120
  h.pipeline->Flush();
  EXPECT_EQ(h.pipeline->pending(), 0u);
  ASSERT_EQ(h.out.metrics.size(), 5u);
  EXPECT_EQ(h.out.metrics[4].time, kT0 + 120 * kSecond);
  const PipelineStats& stats = h.pipeline->stats();
  EXPECT_EQ(stats.received, 6u);
  EXPECT_EQ(stats.applied, 5u);
  EXPECT_EQ(stats.received, stats.applied + stats.total_rejected());
  ExpectMatchesBruteForce(h.out.metrics, 60 * kSecond, 0, "x");
}

// Events whose disorder is at most L give, after Flush, exactly the metrics of
// the sorted input (ties in arrival order), in both modes.
TEST(PipelineTest, BoundedDisorderGivesTheSortedResult) {
  std::mt19937_64 rng(7);
  const std::vector<std::string> symbols = {"A", "B", "C"};
  const TimeNs kLatenesses[] = {1,           kSecond / 2,  kSecond,
                                3 * kSecond, 10 * kSecond, 30 * kSecond};
  int cases = 0, reordered = 0;
  for (int c = 0; c < 2500; ++c) {
    const TimeNs length = 30 * kSecond;
    const TimeNs resolution = c % 3 == 0   ? 0
                              : c % 3 == 1 ? kSecond
                                           : 3 * kSecond;
    const TimeNs lateness = kLatenesses[rng() % std::size(kLatenesses)];
    std::vector<Ev> events;
    const size_t nsym = 1 + rng() % symbols.size();
    for (size_t k = 0; k < nsym; ++k) {
      for (const Ev& e : SymbolEvents(
               rng, symbols[k], 1 + static_cast<int>(rng() % 60), length)) {
        events.push_back(e);
      }
    }
    // Arrival order: sort by time + U[0, L]; then every event is at most L
    // older than any event that arrived before it.
    std::vector<std::pair<TimeNs, size_t>> keys;
    for (size_t i = 0; i < events.size(); ++i) {
      const TimeNs jitter =
          static_cast<TimeNs>(rng() % static_cast<uint64_t>(lateness + 1));
      keys.push_back({events[i].time + jitter, i});
    }
    std::stable_sort(
        keys.begin(), keys.end(),
        [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<Ev> arrival;
    for (const auto& k : keys) arrival.push_back(events[k.second]);
    // The expected order: arrival order stably sorted by time.
    std::vector<Ev> sorted = arrival;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const Ev& a, const Ev& b) { return a.time < b.time; });
    for (size_t i = 0; i + 1 < arrival.size(); ++i) {
      if (arrival[i].time > arrival[i + 1].time) {
        ++reordered;
        break;
      }
    }

    Harness shuffled(Compile(length, resolution, lateness));
    for (const Ev& e : arrival)
      shuffled.pipeline->OnPrice(e.symbol, e.time, e.price, {}, "r");
    const PipelineStats& before = shuffled.pipeline->stats();
    ASSERT_EQ(before.total_rejected(), 0u) << "case " << c;
    ASSERT_EQ(before.applied + shuffled.pipeline->pending(), arrival.size())
        << "case " << c;
    const std::vector<MetricsRecord> early = shuffled.out.metrics;
    shuffled.pipeline->Flush();
    ASSERT_EQ(shuffled.pipeline->pending(), 0u);
    ASSERT_EQ(shuffled.pipeline->stats().applied, arrival.size());

    Harness in_order(Compile(length, resolution, 0));
    for (const Ev& e : sorted)
      in_order.pipeline->OnPrice(e.symbol, e.time, e.price, {}, "r");
    ASSERT_EQ(in_order.pipeline->stats().applied, sorted.size());
    for (size_t k = 0; k < nsym; ++k) {
      const std::string where =
          absl::StrCat("case ", c, " symbol ", symbols[k], " L=", lateness,
                       " R=", resolution);
      ExpectSameStream(shuffled.out.Of(symbols[k]), in_order.out.Of(symbols[k]),
                       where);
      ExpectMatchesBruteForce(shuffled.out.Of(symbols[k]), length, resolution,
                              where);
      if (HasFatalFailure()) return;
    }
    // What was emitted before Flush is a prefix of the final stream.
    for (size_t i = 0; i < early.size(); ++i) {
      ASSERT_EQ(early[i].time, shuffled.out.metrics[i].time);
      ASSERT_EQ(early[i].price, shuffled.out.metrics[i].price);
    }
    ++cases;
  }
  EXPECT_EQ(cases, 2500);
  EXPECT_GT(reordered, 1000);
}

TEST(PipelineTest, InvalidSymbols) {
  Harness h(Compile(60 * kSecond, 0, 0));
  const std::string s64(64, 'A'), s65(65, 'A');
  const std::vector<std::string> bad = {"",
                                        s65,
                                        "BTC USD",
                                        "BTC*",
                                        "BTC\n",
                                        "\xc3\xa9",
                                        std::string("A\0B", 3),
                                        "BTC,USD"};
  const std::vector<std::string> good = {s64,    "A",       "BTC-USD",
                                         "^NDX", "EUR/USD", "x.y:z=w_1"};
  for (size_t i = 0; i < bad.size(); ++i) {
    h.pipeline->OnPrice(bad[i], kT0, 1.0, {0, -1, static_cast<int64_t>(i)},
                        "orig" + bad[i]);
  }
  for (const std::string& s : good) h.pipeline->OnPrice(s, kT0, 1.0, {}, "ok");
  const PipelineStats& stats = h.pipeline->stats();
  EXPECT_EQ(stats.rejected[ebb::v1::INVALID_SYMBOL], bad.size());
  EXPECT_EQ(stats.total_rejected(), bad.size());
  EXPECT_EQ(stats.applied, good.size());
  EXPECT_EQ(stats.symbols, good.size());
  ASSERT_EQ(h.out.dead_letters.size(), bad.size());
  for (size_t i = 0; i < bad.size(); ++i) {
    EXPECT_EQ(h.out.dead_letters[i].reason, ebb::v1::INVALID_SYMBOL) << i;
    EXPECT_EQ(h.out.dead_letters[i].original, "orig" + bad[i]) << i;
    EXPECT_EQ(h.out.dead_letters[i].origin.offset, static_cast<int64_t>(i));
    EXPECT_FALSE(h.out.dead_letters[i].detail.empty()) << i;
  }
}

TEST(PipelineTest, InvalidPrices) {
  Harness h(Compile(60 * kSecond, 0, 0));
  const double bad[] = {std::numeric_limits<double>::quiet_NaN(),
                        std::numeric_limits<double>::infinity(),
                        -std::numeric_limits<double>::infinity(),
                        0.0,
                        -0.0,
                        -1.0,
                        -1e-300};
  for (double p : bad) h.pipeline->OnPrice("BTC-USD", kT0, p, {}, "bad");
  // Tiny and huge finite positive prices are valid.
  const double good[] = {5e-324, 1e-300, 1.7e308};
  for (double p : good) h.pipeline->OnPrice("BTC-USD", kT0, p, {}, "good");
  const PipelineStats& stats = h.pipeline->stats();
  EXPECT_EQ(stats.rejected[ebb::v1::INVALID_PRICE], std::size(bad));
  EXPECT_EQ(stats.total_rejected(), std::size(bad));
  EXPECT_EQ(stats.applied, std::size(good));
  ASSERT_EQ(h.out.dead_letters.size(), std::size(bad));
  for (const DeadLetterRecord& d : h.out.dead_letters) {
    EXPECT_EQ(d.reason, ebb::v1::INVALID_PRICE);
    EXPECT_EQ(d.symbol, "BTC-USD");
    EXPECT_FALSE(d.detail.empty());
  }
  EXPECT_EQ(h.out.dead_letters[5].detail, "price -1: must be finite and > 0");
}

TEST(PipelineTest, InvalidTimes) {
  const TimeNs now = kT0;
  Harness h(Compile(60 * kSecond, 0, 0), now);
  const TimeNs y1900 = -2'208'988'800LL * kSecond;  // 1900-01-01T00:00:00Z
  // Valid: 1900-01-01 exactly, and exactly max_future (1 day) after the clock.
  h.pipeline->OnPrice("OLD", y1900, 1.0, {}, "ok");
  h.pipeline->OnPrice("NEW", now + kNanosPerDay, 1.0, {}, "ok");
  EXPECT_EQ(h.pipeline->stats().applied, 2u);
  // Invalid: 1 ns before 1900, far in the past, 1 ns beyond max_future, far in
  // the future.
  const TimeNs bad[] = {y1900 - 1, std::numeric_limits<TimeNs>::min(),
                        now + kNanosPerDay + 1,
                        std::numeric_limits<TimeNs>::max()};
  for (TimeNs t : bad) h.pipeline->OnPrice("T", t, 1.0, {}, "bad");
  EXPECT_EQ(h.pipeline->stats().rejected[ebb::v1::INVALID_TIME],
            std::size(bad));
  EXPECT_EQ(h.pipeline->stats().total_rejected(), std::size(bad));
  for (const DeadLetterRecord& d : h.out.dead_letters) {
    EXPECT_EQ(d.reason, ebb::v1::INVALID_TIME);
    EXPECT_EQ(d.symbol, "T");
    EXPECT_FALSE(d.detail.empty());
  }
  // The first event of a fresh pipeline exactly max_future ahead is valid; 1 ns
  // more is not.
  {
    Harness fresh(Compile(60 * kSecond, 0, 0), now);
    fresh.pipeline->OnPrice("F", now + kNanosPerDay, 1.0, {}, "ok");
    EXPECT_EQ(fresh.pipeline->stats().applied, 1u);
    Harness fresh2(Compile(60 * kSecond, 0, 0), now);
    fresh2.pipeline->OnPrice("F", now + kNanosPerDay + 1, 1.0, {}, "bad");
    EXPECT_EQ(fresh2.pipeline->stats().rejected[ebb::v1::INVALID_TIME], 1u);
  }
  // The clock moves: what was too far ahead becomes valid.
  h.clock.Set(now + 2 * kNanosPerDay);
  h.pipeline->OnPrice("T", now + kNanosPerDay + 1, 1.0, {}, "ok");
  EXPECT_EQ(h.pipeline->stats().applied, 3u);
}

ebb::v1::PriceEvent MakeEvent(const std::string& symbol, TimeNs t,
                              double price) {
  ebb::v1::PriceEvent e;
  e.set_symbol(symbol);
  ToTimestamp(t, e.mutable_event_time());
  e.set_price(price);
  return e;
}

TEST(PipelineTest, EncodedPrices) {
  Harness h(Compile(60 * kSecond, 0, 0));
  // A valid record is applied like OnPrice.
  ebb::v1::PriceEvent ok = MakeEvent("BTC-USD", kT0 + 1234567, 101.5);
  ok.set_event_id("ev-1");
  h.pipeline->OnEncodedPrice(ok.SerializeAsString(), {0, 2, 10});
  ASSERT_EQ(h.out.metrics.size(), 1u);
  EXPECT_EQ(h.out.metrics[0].symbol, "BTC-USD");
  EXPECT_EQ(h.out.metrics[0].time, kT0 + 1234567);
  EXPECT_EQ(h.out.metrics[0].price, 101.5);

  // Truncated: the last bytes of the price field are cut off.
  const std::string full =
      MakeEvent("BTC-USD", kT0 + 2 * kSecond, 99.0).SerializeAsString();
  const std::string cut = full.substr(0, full.size() - 3);
  h.pipeline->OnEncodedPrice(cut, {0, 2, 11});
  // Garbage: an invalid wire type / unterminated varint.
  const std::string garbage("\xff\xff\xff\xff", 4);
  h.pipeline->OnEncodedPrice(garbage, {0, 2, 12});
  // No event_time.
  ebb::v1::PriceEvent no_time;
  no_time.set_symbol("ETH-USD");
  no_time.set_price(5.0);
  const std::string no_time_bytes = no_time.SerializeAsString();
  h.pipeline->OnEncodedPrice(no_time_bytes, {0, 2, 13});
  // Nanos outside [0, 1e9).
  ebb::v1::PriceEvent bad_nanos = MakeEvent("ETH-USD", kT0, 5.0);
  bad_nanos.mutable_event_time()->set_nanos(1'000'000'000);
  h.pipeline->OnEncodedPrice(bad_nanos.SerializeAsString(), {0, 2, 14});
  // Decoded fine but invalid: the usual reasons apply.
  const std::string bad_price =
      MakeEvent("ETH-USD", kT0, -3.0).SerializeAsString();
  h.pipeline->OnEncodedPrice(bad_price, {0, 2, 15});

  const PipelineStats& stats = h.pipeline->stats();
  EXPECT_EQ(stats.received, 6u);
  EXPECT_EQ(stats.applied, 1u);
  EXPECT_EQ(stats.rejected[ebb::v1::TRUNCATED], 2u);
  EXPECT_EQ(stats.rejected[ebb::v1::INVALID_TIME], 2u);
  EXPECT_EQ(stats.rejected[ebb::v1::INVALID_PRICE], 1u);
  ASSERT_EQ(h.out.dead_letters.size(), 5u);
  EXPECT_EQ(h.out.dead_letters[0].reason, ebb::v1::TRUNCATED);
  EXPECT_EQ(h.out.dead_letters[0].original, cut);
  EXPECT_EQ(h.out.dead_letters[0].origin.offset, 11);
  EXPECT_EQ(h.out.dead_letters[0].origin.partition, 2);
  EXPECT_EQ(h.out.dead_letters[1].reason, ebb::v1::TRUNCATED);
  EXPECT_EQ(h.out.dead_letters[1].original, garbage);
  EXPECT_EQ(h.out.dead_letters[2].reason, ebb::v1::INVALID_TIME);
  EXPECT_EQ(h.out.dead_letters[2].original, no_time_bytes);
  EXPECT_EQ(h.out.dead_letters[2].symbol, "ETH-USD");
  EXPECT_EQ(h.out.dead_letters[3].reason, ebb::v1::INVALID_TIME);
  EXPECT_EQ(h.out.dead_letters[4].reason, ebb::v1::INVALID_PRICE);
  EXPECT_EQ(h.out.dead_letters[4].original, bad_price);
  for (const DeadLetterRecord& d : h.out.dead_letters)
    EXPECT_FALSE(d.detail.empty());
}

// Dead letters are protobuf messages whose detail and symbol are strings:
// bytes that are not UTF-8 are escaped as \xNN text, the original stays raw.
TEST(PipelineTest, DeadLetterSymbolAndDetailAreValidUtf8) {
  Harness h(Compile(60 * kSecond, 0, 0));
  h.pipeline->OnPrice("A\xff", kT0, 1.0, {}, "A\xff,1");
  h.pipeline->OnUndecodable(ebb::v1::MALFORMED, "bad \xfe\xc3 \xc3\xa9 \\x",
                            "x\xfe", "S\xe9", {});
  ASSERT_EQ(h.out.dead_letters.size(), 2u);
  EXPECT_EQ(h.out.dead_letters[0].reason, ebb::v1::INVALID_SYMBOL);
  EXPECT_EQ(h.out.dead_letters[0].symbol, "A\\xFF");
  EXPECT_EQ(h.out.dead_letters[0].detail,
            "symbol \"A\\xff\" has a byte outside [A-Za-z0-9._:/^=-]");
  EXPECT_EQ(h.out.dead_letters[0].original, "A\xff,1");
  // A lone lead byte and a cut sequence are escaped; "\xc3\xa9" (é) and a
  // backslash are kept.
  EXPECT_EQ(h.out.dead_letters[1].detail, "bad \\xFE\\xC3 \xc3\xa9 \\x");
  EXPECT_EQ(h.out.dead_letters[1].symbol, "S\\xE9");
  EXPECT_EQ(h.out.dead_letters[1].original, "x\xfe");
  for (const DeadLetterRecord& d : h.out.dead_letters) {
    EXPECT_TRUE(IsValidUtf8(d.detail)) << d.detail;
    EXPECT_TRUE(IsValidUtf8(d.symbol)) << d.symbol;
  }
}

// A binary PriceEvent whose symbol is not UTF-8 is invalid_symbol (libprotobuf
// only says the parse failed); another string field that is not is malformed.
TEST(PipelineTest, EncodedPriceWithInvalidUtf8) {
  Harness h(Compile(60 * kSecond, 0, 0));
  const std::string rest =
      MakeEvent("", kT0, 5.0).SerializeAsString();  // time and price
  const std::string bad_symbol = std::string(
                                     "\x0a\x02"
                                     "A\xff",
                                     4) +
                                 rest;
  const std::string bad_event_id =
      MakeEvent("B", kT0, 5.0).SerializeAsString() +
      std::string("\x32\x01\x80", 3);
  h.pipeline->OnEncodedPrice(bad_symbol, {});
  h.pipeline->OnEncodedPrice(bad_event_id, {});
  ASSERT_EQ(h.out.dead_letters.size(), 2u);
  EXPECT_EQ(h.out.dead_letters[0].reason, ebb::v1::INVALID_SYMBOL);
  EXPECT_EQ(h.out.dead_letters[0].detail,
            "symbol \"A\\xff\" is not valid UTF-8");
  EXPECT_EQ(h.out.dead_letters[0].original, bad_symbol);
  EXPECT_EQ(h.out.dead_letters[1].reason, ebb::v1::MALFORMED);
  EXPECT_EQ(h.out.dead_letters[1].detail,
            "event_id \"\\x80\" is not valid UTF-8");
}

ebb::v1::NewsEvent MakeNews(const std::string& id, TimeNs t) {
  ebb::v1::NewsEvent n;
  n.set_id(id);
  n.set_headline("headline");
  ToTimestamp(t, n.mutable_event_time());
  n.add_symbols("BTC-USD");
  return n;
}

// News is validated by the pipeline, as prices are, whether it comes decoded
// (files) or encoded (binary files, Kafka).
TEST(PipelineTest, NewsIsValidatedAsPricesAre) {
  const TimeNs now = kT0;
  Harness h(Compile(60 * kSecond, 0, 0), now);
  ebb::v1::NewsEvent ok = MakeNews("ok", kT0);
  ok.set_sentiment(-1);
  ebb::v1::NewsEvent no_symbols = MakeNews("no_symbols", kT0);
  no_symbols.clear_symbols();
  ebb::v1::NewsEvent no_time = MakeNews("no_time", kT0);
  no_time.clear_event_time();
  ebb::v1::NewsEvent future = MakeNews("future", now + 2 * kNanosPerDay);
  ebb::v1::NewsEvent old = MakeNews("old", -2'208'988'801LL * kSecond);
  ebb::v1::NewsEvent high = MakeNews("high", kT0);
  high.set_sentiment(1.0000001);
  ebb::v1::NewsEvent nan = MakeNews("nan", kT0);
  nan.set_sentiment(std::numeric_limits<double>::quiet_NaN());
  ebb::v1::NewsEvent bad_symbol = MakeNews("bad_symbol", kT0);
  bad_symbol.add_symbols("");
  struct Case {
    const ebb::v1::NewsEvent* news;
    ebb::v1::RejectReason reason;
    std::string detail;
  };
  const std::vector<Case> cases = {
      {&ok, ebb::v1::REJECT_REASON_UNSPECIFIED, ""},
      {&no_symbols, ebb::v1::REJECT_REASON_UNSPECIFIED, ""},
      {&no_time, ebb::v1::INVALID_TIME, "event_time is missing"},
      {&future, ebb::v1::INVALID_TIME,
       "event time 2025-01-03T00:00:00Z is more than 1d after the clock "
       "(2025-01-01T00:00:00Z)"},
      {&old, ebb::v1::INVALID_TIME,
       "event time 1899-12-31T23:59:59Z is before 1900-01-01"},
      {&high, ebb::v1::MALFORMED, "sentiment 1.0000001: must be in [-1, 1]"},
      {&nan, ebb::v1::MALFORMED, "sentiment nan: must be in [-1, 1]"},
      {&bad_symbol, ebb::v1::INVALID_SYMBOL, "symbols[1]: symbol is empty"},
  };
  for (int encoded = 0; encoded < 2; ++encoded) {
    h.out.dead_letters.clear();
    const uint64_t news_before = h.pipeline->stats().news;
    for (const Case& c : cases) {
      const std::string bytes = c.news->SerializeAsString();
      if (encoded) {
        h.pipeline->OnEncodedNews(bytes, {});
      } else {
        h.pipeline->OnNews(*c.news, {}, bytes);
      }
    }
    EXPECT_EQ(h.pipeline->stats().news - news_before, 2u);
    size_t k = 0;
    for (const Case& c : cases) {
      if (c.reason == ebb::v1::REJECT_REASON_UNSPECIFIED) continue;
      ASSERT_LT(k, h.out.dead_letters.size());
      const DeadLetterRecord& d = h.out.dead_letters[k++];
      EXPECT_EQ(d.reason, c.reason) << c.news->id();
      EXPECT_EQ(d.detail, c.detail) << c.news->id();
      EXPECT_EQ(d.original, c.news->SerializeAsString());
    }
    EXPECT_EQ(k, h.out.dead_letters.size());
  }
  // Encoded only: bytes that are not a NewsEvent, a symbol that is not UTF-8.
  h.out.dead_letters.clear();
  h.pipeline->OnEncodedNews(std::string("\xff\xff", 2), {});
  h.pipeline->OnEncodedNews(
      ok.SerializeAsString() + std::string("\x3a\x01\xc3", 3), {});
  ASSERT_EQ(h.out.dead_letters.size(), 2u);
  EXPECT_EQ(h.out.dead_letters[0].reason, ebb::v1::TRUNCATED);
  EXPECT_EQ(h.out.dead_letters[1].reason, ebb::v1::INVALID_SYMBOL);
  EXPECT_EQ(h.out.dead_letters[1].detail,
            "symbols \"\\xc3\" is not valid UTF-8");
  const PipelineStats& stats = h.pipeline->stats();
  EXPECT_EQ(stats.received, stats.news + stats.total_rejected());
}

// A random mix of valid, invalid and late records: every record is accounted
// for, each rejection has the predicted reason, and the applied events have the
// brute-force metrics.
TEST(PipelineTest, EveryRecordIsAccountedFor) {
  std::mt19937_64 rng(2025);
  const std::vector<std::string> symbols = {"BTC-USD", "ETH-USD", "SOL-USD"};
  const std::string rules =
      "rules { name: \"dd\" metric: \"drawdown\" levels { threshold: 0.05 } "
      "levels { threshold: "
      "0.1 severity: CRITICAL } rearm: 0.01 }\n"
      "rules { name: \"mdd\" metric: \"max_drawdown\" levels { threshold: 0.08 "
      "} rearm: 0.02 }\n"
      "rules { name: \"decl\" metric: \"decline\" levels { threshold: 0.03 } "
      "rearm: 0 }\n";
  for (TimeNs resolution : {TimeNs{0}, kSecond}) {
    const TimeNs length = 20 * kSecond;
    Harness h(Compile(length, resolution, 0, rules), kT0 + kNanosPerDay);
    std::map<std::string, BruteForce> refs;
    std::map<std::string, TimeNs> last_applied;
    std::map<std::string, TimeNs> clock_time;
    std::vector<ebb::v1::RejectReason> expected_reasons;
    decltype(PipelineStats::rejected) expected_counts{};
    size_t expected_applied = 0;
    std::normal_distribution<double> z(0.0, 0.04);
    std::map<std::string, double> price;
    for (const std::string& s : symbols) {
      refs.emplace(s, BruteForce(length, resolution));
      clock_time[s] = kT0;
      price[s] = 100;
    }
    for (int i = 0; i < 20000; ++i) {
      const std::string& s = symbols[rng() % symbols.size()];
      TimeNs t = clock_time[s] +
                 static_cast<TimeNs>(rng() % 500) * kNanosPerSecond / 1000;
      price[s] *= std::exp(z(rng));
      double p = price[s];
      std::string sym = s;
      ebb::v1::RejectReason want = ebb::v1::REJECT_REASON_UNSPECIFIED;
      const uint64_t r = rng() % 100;
      if (r < 3) {
        sym = "BAD SYMBOL";
        want = ebb::v1::INVALID_SYMBOL;
      } else if (r < 6) {
        p = r == 3   ? -p
            : r == 4 ? 0.0
                     : std::numeric_limits<double>::quiet_NaN();
        want = ebb::v1::INVALID_PRICE;
      } else if (r < 8) {
        t = kT0 + 3 * kNanosPerDay;  // beyond max_future
        want = ebb::v1::INVALID_TIME;
      } else if (r < 14 && last_applied.count(s)) {
        t = last_applied[s] - 1 - static_cast<TimeNs>(rng() % (5 * kSecond));
        want = ebb::v1::LATE;
      }
      const Origin origin{0, -1, i};
      if (r >= 97) {
        // An undecodable binary record.
        const std::string bytes = MakeEvent(s, t, p).SerializeAsString();
        h.pipeline->OnEncodedPrice(bytes.substr(0, bytes.size() - 1), origin);
        want = ebb::v1::TRUNCATED;
      } else {
        h.pipeline->OnPrice(sym, t, p, origin, absl::StrCat("rec", i));
      }
      if (want == ebb::v1::REJECT_REASON_UNSPECIFIED) {
        clock_time[s] = t;
        last_applied[s] = t;
        refs.at(s).Add(t, p);
        ++expected_applied;
        ASSERT_FALSE(h.out.metrics.empty());
        ASSERT_EQ(h.out.metrics.back().symbol, s);
        ASSERT_EQ(h.out.metrics.back().time, t);
        ASSERT_EQ(refs.at(s).Check(h.out.metrics.back().metrics), "")
            << "record " << i;
      } else {
        expected_reasons.push_back(want);
        ++expected_counts[want];
        ASSERT_EQ(h.out.dead_letters.size(), expected_reasons.size())
            << "record " << i;
        ASSERT_EQ(h.out.dead_letters.back().reason, want) << "record " << i;
        ASSERT_EQ(h.out.dead_letters.back().origin.offset, i);
      }
    }
    const PipelineStats& stats = h.pipeline->stats();
    EXPECT_EQ(stats.received, 20000u);
    EXPECT_EQ(stats.applied, expected_applied);
    EXPECT_EQ(h.pipeline->pending(), 0u);
    EXPECT_EQ(stats.received, stats.applied + stats.total_rejected());
    EXPECT_EQ(stats.rejected, expected_counts);
    EXPECT_EQ(stats.symbols, symbols.size());
    EXPECT_GT(expected_counts[ebb::v1::LATE], 500u);
    // Alerts by transition equal what the output collected.
    std::array<uint64_t, 4> collected{};
    for (const ebb::v1::Alert& a : h.out.alerts) ++collected[a.transition()];
    EXPECT_EQ(stats.alerts, collected);
    EXPECT_EQ(stats.total_alerts(), h.out.alerts.size());
    EXPECT_GT(collected[ebb::v1::OPENED], 10u);
    EXPECT_GT(collected[ebb::v1::ESCALATED], 0u);
    EXPECT_GT(collected[ebb::v1::RESOLVED], 10u);
  }
}

TEST(PipelineTest, SymbolsBeyondMaxSymbolsAreDeadLetters) {
  EngineConfig config = Compile(60 * kSecond, 0, 0);
  config.max_symbols = 2;
  Harness h(std::move(config));
  auto price = [&](absl::string_view symbol, int seconds, double p) {
    h.pipeline->OnPrice(symbol, kT0 + seconds * kSecond, p, {0, -1, seconds},
                        absl::StrCat(symbol, ",", seconds));
  };
  price("A", 1, 10);
  price("B", 2, 20);
  price("C", 3, 30);  // a third symbol: rejected
  price("A", 4, 11);  // symbols with state go on
  price("C", 5, 31);
  price("B", 6, 21);
  const PipelineStats& stats = h.pipeline->stats();
  EXPECT_EQ(stats.received, 6u);
  EXPECT_EQ(stats.applied, 4u);
  EXPECT_EQ(stats.symbols, 2u);
  EXPECT_EQ(stats.rejected[ebb::v1::SYMBOL_LIMIT], 2u);
  EXPECT_EQ(stats.total_rejected(), 2u);
  ASSERT_EQ(h.out.dead_letters.size(), 2u);
  for (const DeadLetterRecord& d : h.out.dead_letters) {
    EXPECT_EQ(d.reason, ebb::v1::SYMBOL_LIMIT);
    EXPECT_EQ(d.symbol, "C");
    EXPECT_EQ(d.detail,
              "the engine holds state for max_symbols (2) symbols; this "
              "symbol would be one more");
  }
  EXPECT_EQ(h.out.dead_letters[0].original, "C,3");
  EXPECT_EQ(h.out.dead_letters[1].origin.offset, 5);
  EXPECT_TRUE(h.out.Of("C").empty());
  EXPECT_EQ(h.out.Of("A").size(), 2u);
  // Once B has been quiet for longer than the window (60 s), the sweep frees
  // it, and C takes its place.
  h.pipeline->TEST_set_quiet_records(0);
  for (int seconds = 70; seconds <= 90; ++seconds) price("A", seconds, 12);
  EXPECT_EQ(h.pipeline->live_symbols(), 1u);
  EXPECT_EQ(h.pipeline->quiet_symbols(), 1u);
  price("C", 91, 32);
  EXPECT_EQ(h.out.Of("C").size(), 1u);
  EXPECT_EQ(h.pipeline->stats().rejected[ebb::v1::SYMBOL_LIMIT], 2u);
  EXPECT_EQ(h.pipeline->live_symbols(), 2u);
  // max_symbols bounds what the engine remembers, quiet records included: C
  // took the place of B's record, so B is refused now (A and C hold state).
  EXPECT_EQ(h.pipeline->quiet_symbols(), 0u);
  EXPECT_EQ(h.pipeline->stats().forgotten, 1u);
  price("B", 92, 22);
  EXPECT_EQ(h.pipeline->stats().rejected[ebb::v1::SYMBOL_LIMIT], 3u);
  EXPECT_TRUE(h.out.Of("B").size() == 2u);  // its two events before
}

// Under max_symbols, quiet records are forgotten oldest first, and a symbol
// that comes back to its record keeps it (no record is dropped for it): many
// symbols that come and go never hold more than max_symbols remembered.
TEST(PipelineTest, MaxSymbolsBoundsQuietRecordsOldestFirst) {
  EngineConfig config = Compile(60 * kSecond, 0, 0);
  config.max_symbols = 4;
  Harness h(std::move(config));
  h.pipeline->TEST_set_quiet_records(0);
  int t = 0;
  auto price = [&](absl::string_view symbol, double p) {
    ++t;
    h.pipeline->OnPrice(symbol, kT0 + t * kSecond, p, {0, -1, t}, "r");
  };
  // S0..S3 go quiet one after the other, while "TICK" keeps time moving.
  for (int i = 0; i < 3; ++i) {
    price(absl::StrCat("S", i), 10);
    for (int k = 0; k < 80; ++k) price("TICK", 1);
  }
  // S0, S1 and S2 are quiet records (freed in that order), TICK is live.
  EXPECT_EQ(h.pipeline->live_symbols(), 1u);
  EXPECT_EQ(h.pipeline->quiet_symbols(), 3u);
  price("S1", 11);  // back to its record: nothing forgotten
  EXPECT_EQ(h.pipeline->stats().forgotten, 0u);
  EXPECT_EQ(h.pipeline->quiet_symbols(), 2u);
  price("N0", 5);  // 2 live + 2 quiet = 4: the oldest record (S0) goes
  EXPECT_EQ(h.pipeline->stats().forgotten, 1u);
  price("S2", 12);  // S2 keeps its record
  EXPECT_EQ(h.pipeline->stats().forgotten, 1u);
  EXPECT_EQ(h.pipeline->stats().restarted, 0u);
  price("N1", 5);  // 4 live, no record left: refused
  EXPECT_EQ(h.pipeline->stats().rejected[ebb::v1::SYMBOL_LIMIT], 1u);
  EXPECT_EQ(h.pipeline->live_symbols() + h.pipeline->quiet_symbols(), 4u);

  // Thousands of symbols passing through: remembered stays at the bound.
  for (int i = 0; i < 3000; ++i) {
    price(absl::StrCat("P", i), 7);
    for (int k = 0; k < 70; ++k) price("TICK", 1);
    ASSERT_LE(h.pipeline->live_symbols() + h.pipeline->quiet_symbols(), 4u);
  }
  EXPECT_GT(h.pipeline->stats().forgotten, 2000u);
}

// Symbols that go quiet are freed and come back: random feeds of a few
// symbols, each quiet for long stretches (longer than window + lateness,
// often), in an arrival order at most allowed_lateness behind the newest
// event, with late events, three alert rules, exact and bucketed windows. A
// run that frees quiet symbols and one that keeps every state give the same
// metrics, alerts and dead letters, record by record.
TEST(PipelineTest, FreeingQuietSymbolsChangesNoResult) {
  std::mt19937_64 rng(31);
  const std::string rules =
      "rules { name: \"dd\" metric: \"drawdown\" levels { threshold: 0.05 } "
      "levels { threshold: 0.1 severity: CRITICAL } rearm: 0.01 }\n"
      "rules { name: \"mdd\" metric: \"max_drawdown\" levels { threshold: 0.08 "
      "} rearm: 0.02 }\n"
      "rules { name: \"decl\" metric: \"decline\" levels { threshold: 0.03 } "
      "rearm: 0 }\n";
  const TimeNs length = 20 * kSecond;
  std::normal_distribution<double> z(0.0, 0.04);
  uint64_t freed = 0, revived = 0, alerts = 0, late = 0;
  constexpr int kCases = 3000;
  for (int c = 0; c < kCases; ++c) {
    const TimeNs resolution = c % 2 == 0 ? 0 : 4 * kSecond;
    const TimeNs lateness = c % 3 == 0 ? 0 : (1 + rng() % 5) * kSecond;
    const int nsym = 2 + static_cast<int>(rng() % 6);
    // Global time moves forward; a few symbols at a time are active, and the
    // others are quiet until the active set changes.
    std::vector<Ev> events;
    std::vector<double> price(nsym);
    for (double& p : price) p = 10 + static_cast<double>(rng() % 100);
    std::vector<int> active = {0};
    TimeNs t = kT0;
    const int n = 20 + static_cast<int>(rng() % 200);
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
    // Arrival order: by time + U[0, L] (each event at most L behind the
    // newest before it). With L = 0, a few events are repeated much later: late
    // for their symbol, and often for a freed one. (With L > 0 an event that
    // far behind could find a freed symbol's buffered events applied early:
    // see "Memory" in pipeline.h.)
    std::vector<std::pair<TimeNs, size_t>> keys;
    for (size_t i = 0; i < events.size(); ++i) {
      keys.push_back(
          {events[i].time + static_cast<TimeNs>(rng() % (lateness + 1)), i});
    }
    std::stable_sort(
        keys.begin(), keys.end(),
        [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<Ev> arrival;
    for (const auto& key : keys) arrival.push_back(events[key.second]);
    for (int j = 0; j < (lateness == 0 ? 3 : 0); ++j) {
      const size_t from = rng() % arrival.size();
      const size_t to =
          std::min(arrival.size(), from + 10 + rng() % arrival.size());
      Ev repeat = arrival[from];
      repeat.time -= kSecond;
      arrival.insert(arrival.begin() + to, repeat);
    }

    Harness freeing(Compile(length, resolution, lateness, rules));
    freeing.pipeline->TEST_set_quiet_records(rng() % 4);
    Harness keeping(Compile(length, resolution, lateness, rules));
    keeping.pipeline->TEST_set_free_quiet_symbols(false);
    for (size_t i = 0; i < arrival.size(); ++i) {
      const Ev& e = arrival[i];
      const Origin origin{0, -1, static_cast<int64_t>(i)};
      const uint64_t freed_before = freeing.pipeline->stats().freed;
      const size_t quiet_before = freeing.pipeline->quiet_symbols();
      freeing.pipeline->OnPrice(e.symbol, e.time, e.price, origin, "r");
      keeping.pipeline->OnPrice(e.symbol, e.time, e.price, origin, "r");
      // A freed symbol's event: its record is used up.
      revived += quiet_before +
                 (freeing.pipeline->stats().freed - freed_before) -
                 freeing.pipeline->quiet_symbols();
    }
    freeing.pipeline->Flush();
    keeping.pipeline->Flush();
    const std::string where =
        absl::StrCat("case ", c, " R=", resolution, " L=", lateness);
    const PipelineStats& a = freeing.pipeline->stats();
    const PipelineStats& b = keeping.pipeline->stats();
    ASSERT_EQ(b.freed, 0u) << where;
    ASSERT_EQ(a.restarted, 0u) << where;
    ASSERT_EQ(a.received, b.received) << where;
    ASSERT_EQ(a.applied, b.applied) << where;
    ASSERT_EQ(a.rejected, b.rejected) << where;
    ASSERT_EQ(a.alerts, b.alerts) << where;
    ASSERT_EQ(a.symbols, b.symbols) << where;
    ASSERT_EQ(a.symbols, freeing.pipeline->live_symbols() +
                             freeing.pipeline->quiet_symbols())
        << where;
    freed += a.freed;
    late += a.rejected[ebb::v1::LATE];
    for (int k = 0; k < nsym; ++k) {
      const std::string symbol = absl::StrCat("S", k);
      ExpectSameStream(freeing.out.Of(symbol), keeping.out.Of(symbol),
                       absl::StrCat(where, " ", symbol));
      ExpectMatchesBruteForce(freeing.out.Of(symbol), length, resolution,
                              absl::StrCat(where, " ", symbol));
      if (HasFatalFailure()) return;
    }
    // Alerts, symbol by symbol (a freed symbol's buffered events are applied
    // when it is freed, not at Flush: each symbol's alerts keep their order).
    ASSERT_EQ(freeing.out.alerts.size(), keeping.out.alerts.size()) << where;
    const auto by_symbol = [](const std::vector<ebb::v1::Alert>& list) {
      std::map<std::string, std::vector<std::string>> out;
      for (const ebb::v1::Alert& alert : list) {
        out[alert.symbol()].push_back(alert.SerializeAsString());
      }
      return out;
    };
    ASSERT_TRUE(by_symbol(freeing.out.alerts) == by_symbol(keeping.out.alerts))
        << where;
    alerts += freeing.out.alerts.size();
    ASSERT_EQ(freeing.out.dead_letters.size(), keeping.out.dead_letters.size())
        << where;
    for (size_t i = 0; i < freeing.out.dead_letters.size(); ++i) {
      ASSERT_EQ(freeing.out.dead_letters[i].detail,
                keeping.out.dead_letters[i].detail)
          << where;
      ASSERT_EQ(freeing.out.dead_letters[i].origin.offset,
                keeping.out.dead_letters[i].origin.offset)
          << where;
    }
  }
  // The feeds exercise what they are meant to.
  EXPECT_GT(freed, 5000u);
  EXPECT_GT(revived, 5000u);
  EXPECT_GT(alerts, 10000u);
  EXPECT_EQ(late, 3u * ((kCases + 2) / 3));  // every repeat, of L = 0 cases
  std::printf("freed %llu states, %llu came back, %llu alerts\n",
              static_cast<unsigned long long>(freed),
              static_cast<unsigned long long>(revived),
              static_cast<unsigned long long>(alerts));
}

// After a quiet period the states and their windows are gone: 1,000 symbols
// of 100 events, then one symbol alone for longer than window + lateness and
// 6,000 events (a sweep step every 4; states are kept for 500 records).
TEST(PipelineTest, QuietSymbolsGiveTheirMemoryBack) {
  for (TimeNs resolution : {TimeNs{0}, kSecond}) {
    const TimeNs length = 60 * kSecond, lateness = 5 * kSecond;
    Harness h(Compile(length, resolution, lateness));
    h.pipeline->TEST_set_quiet_records(500);
    Harness kept(Compile(length, resolution, lateness));
    kept.pipeline->TEST_set_free_quiet_symbols(false);
    TimeNs t = kT0;
    for (int i = 0; i < 100; ++i) {
      t += kSecond / 2;
      for (int k = 0; k < 1000; ++k) {
        const std::string symbol = absl::StrCat("S", k);
        h.pipeline->OnPrice(symbol, t, 100 + i % 7, {}, "r");
        kept.pipeline->OnPrice(symbol, t, 100 + i % 7, {}, "r");
      }
    }
    const size_t busy = h.pipeline->WindowMemoryBytes();
    EXPECT_EQ(h.pipeline->live_symbols(), 1000u);
    EXPECT_GT(busy, 1000u * 1000);
    for (int i = 0; i < 6000; ++i) {
      t += kSecond / 20;  // 300 s: past window + lateness
      h.pipeline->OnPrice("S0", t, 100, {}, "r");
      kept.pipeline->OnPrice("S0", t, 100, {}, "r");
    }
    EXPECT_EQ(h.pipeline->live_symbols(), 1u) << resolution;
    EXPECT_EQ(h.pipeline->quiet_symbols(), 999u);
    EXPECT_EQ(h.pipeline->stats().freed, 999u);
    EXPECT_EQ(h.pipeline->stats().symbols, 1000u);
    EXPECT_LT(h.pipeline->WindowMemoryBytes(), busy / 50);
    EXPECT_EQ(kept.pipeline->live_symbols(), 1000u);
    EXPECT_GT(kept.pipeline->WindowMemoryBytes(), busy / 2);
    // A freed symbol's next event starts it again, carrying on.
    h.pipeline->OnPrice("S7", t, 50, {}, "r");
    kept.pipeline->OnPrice("S7", t, 50, {}, "r");
    h.pipeline->Flush();
    kept.pipeline->Flush();
    EXPECT_EQ(h.pipeline->live_symbols(), 2u);
    ExpectSameStream(h.out.Of("S7"), kept.out.Of("S7"), "S7");
    ASSERT_TRUE(h.out.Of("S7").back().metrics.change.has_value());
    EXPECT_EQ(*h.out.Of("S7").back().metrics.change, 50.0 / 101 - 1);
  }
}

TEST(PipelineTest, CreateRequiresClockAndOutput) {
  CollectingOutput out;
  FakeClock clock(kT0);
  EXPECT_FALSE(Pipeline::Create(Compile(kSecond, 0, 0), nullptr, &out).ok());
  EXPECT_FALSE(Pipeline::Create(Compile(kSecond, 0, 0), &clock, nullptr).ok());
}

}  // namespace
}  // namespace ebb
