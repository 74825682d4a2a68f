// Google Benchmark: one output line in the protobuf JSON mapping, written by
// libprotobuf's printer (MessageToJsonString with
// always_print_primitive_fields, what ebb used before connectors/json_mapping)
// and by ebb's direct writer. One iteration is one line; no I/O (the line goes
// to a reused buffer).
//
// Inputs, prepared outside the timed region (4,096 of each unless said,
// cycled):
//   metrics   65,536 MetricsViews of a seeded random walk of 8 instruments
//             with prices of 4 decimals (as ebb generate writes them), one
//             event a minute each, from full 30-day windows (see Metrics())
//   alerts    Alerts as the drawdown rule builds them, with file provenance
//   dead letters  DeadLetters with a 60-byte original line
// Cases:
//   BM_MetricsLibprotobuf   ToProto(view) + MessageToJsonString
//   BM_MetricsDirect        MetricsJsonWriter::Write into a buffer, as the
//                           file sink writes them
//   BM_AlertLibprotobuf     MessageToJsonString
//   BM_AlertDirect          AppendAlertJson
//   BM_DeadLetterLibprotobuf, BM_DeadLetterDirect
//
//   build/release/tests/benchmarks/ebb_json_bench --benchmark_repetitions=5

#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "connectors/file_sink.h"
#include "connectors/json_mapping.h"
#include "google/protobuf/util/json_util.h"
#include "window/drawdown_window.h"

namespace ebb {
namespace {

constexpr size_t kInputs = 4096;
// Metrics lines cycle through more inputs than the others: the writer's memos
// must not see the same few thousand lines again and again.
constexpr size_t kMetricsInputs = 1 << 16;

struct MetricsInput {
  std::string symbol;
  TimeNs time;
  double price;
  WindowMetrics metrics;
};

// What a replay prints in its steady state: the instruments' events go
// through real 30-day windows (exact mode), one event a minute each, and are
// recorded after the windows have filled. So, as in a replay, prices are the
// feed's 4-decimal numbers (the peak and the max-drawdown pair too, not
// products of them), the drawdown and change are 16-17 digit doubles, and the
// peak, the max-drawdown pair and their times repeat from event to event
// until the window moves past them.
const std::vector<MetricsInput>& Metrics() {
  static const std::vector<MetricsInput> inputs = [] {
    constexpr int kSymbols = 8;
    constexpr TimeNs kWindow = 30 * kNanosPerDay;
    constexpr size_t kWarmUp = kSymbols * (kWindow / kNanosPerMinute);
    std::mt19937_64 rng(5);
    std::normal_distribution<double> step(0, 0.003);
    std::vector<DrawdownWindow> windows;
    std::vector<double> price;
    for (int s = 0; s < kSymbols; ++s) {
      windows.emplace_back(WindowOptions{kWindow, /*resolution=*/0});
      price.push_back(20.0 + 7 * s);
    }
    const TimeNs start = 1'735'689'600LL * kNanosPerSecond;  // 2025-01-01
    std::vector<MetricsInput> out;
    WindowMetrics metrics;
    for (size_t i = 0; out.size() < kMetricsInputs; ++i) {
      const int s = static_cast<int>(i % kSymbols);
      const TimeNs t =
          start + static_cast<TimeNs>(i / kSymbols) * kNanosPerMinute;
      price[s] = std::round(price[s] * std::exp(step(rng)) * 1e4) / 1e4;
      windows[s].Add(t, price[s], &metrics);
      if (i < kWarmUp) continue;
      out.push_back({absl::StrCat("SYN00", s + 1), t, price[s], metrics});
    }
    return out;
  }();
  return inputs;
}

MetricsView ViewOf(const MetricsInput& in) {
  return MetricsView{in.symbol, in.time, in.price, &in.metrics,
                     30 * kNanosPerDay};
}

const std::vector<ebb::v1::Alert>& Alerts() {
  static const std::vector<ebb::v1::Alert> alerts = [] {
    std::vector<ebb::v1::Alert> out;
    for (size_t i = 0; i < kInputs; ++i) {
      const MetricsInput& in = Metrics()[i];
      ebb::v1::Alert a;
      a.set_id(absl::StrCat("e13a67ba004ea960b82564c5966", 10000 + i));
      a.set_symbol(in.symbol);
      a.set_rule("drawdown");
      a.set_transition(static_cast<ebb::v1::Transition>(1 + i % 3));
      a.set_level(0.1);
      a.set_severity(ebb::v1::WARNING);
      a.set_metric("drawdown");
      a.set_value(in.metrics.drawdown);
      a.set_price(in.price);
      ToTimestamp(in.time, a.mutable_event_time());
      ToTimestamp(in.time - kNanosPerDay, a.mutable_episode_start());
      a.mutable_peak()->set_price(in.metrics.peak.price);
      ToTimestamp(in.metrics.peak.time, a.mutable_peak()->mutable_time());
      a.mutable_trough()->set_price(in.metrics.mdd_trough.price);
      ToTimestamp(in.metrics.mdd_trough.time,
                  a.mutable_trough()->mutable_time());
      ToDuration(30 * kNanosPerDay, a.mutable_window());
      a.set_change(*in.metrics.change);
      a.set_full_window(true);
      a.mutable_provenance()->set_source("feed.csv");
      a.mutable_provenance()->set_offset(static_cast<int64_t>(i + 2));
      a.mutable_provenance()->set_config_hash("6b1f0c2a9d3e4f57");
      out.push_back(a);
    }
    return out;
  }();
  return alerts;
}

const std::vector<ebb::v1::DeadLetter>& DeadLetters() {
  static const std::vector<ebb::v1::DeadLetter> letters = [] {
    std::vector<ebb::v1::DeadLetter> out;
    for (size_t i = 0; i < kInputs; ++i) {
      ebb::v1::DeadLetter d;
      d.set_reason(ebb::v1::INVALID_PRICE);
      d.set_detail(absl::StrCat("price: not a number: \"n/a", i, "\""));
      d.set_source("feed.csv");
      d.set_offset(static_cast<int64_t>(i + 2));
      d.set_original(
          absl::StrCat("2025-01-01T00:01:00Z,SYN001,n/a", i, ",,,,,,,,,,,,,"));
      d.set_symbol("SYN001");
      out.push_back(d);
    }
    return out;
  }();
  return letters;
}

google::protobuf::util::JsonPrintOptions PrintOptions() {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  return options;
}

void BM_MetricsLibprotobuf(benchmark::State& state) {
  const auto& inputs = Metrics();
  const auto options = PrintOptions();
  ebb::v1::DrawdownMetrics message;
  std::string line;
  size_t i = 0;
  for (auto _ : state) {
    ToProto(ViewOf(inputs[i++ % kMetricsInputs]), &message);
    line.clear();
    (void)google::protobuf::util::MessageToJsonString(message, &line, options);
    benchmark::DoNotOptimize(line.data());
  }
}
BENCHMARK(BM_MetricsLibprotobuf);

void BM_MetricsDirect(benchmark::State& state) {
  const auto& inputs = Metrics();
  MetricsJsonWriter writer;
  // As the file sink does: lines one after another in a 2 MiB buffer, back to
  // its front once a 1 MiB chunk is full (where the sink writes the chunk out).
  constexpr size_t kChunk = 1 << 20;
  std::string buffer(2 * kChunk, '\0');
  size_t i = 0, used = 0, bytes = 0;
  for (auto _ : state) {
    char* const begin = buffer.data() + used;
    char* end = writer.Write(ViewOf(inputs[i++ % kMetricsInputs]), begin);
    *end++ = '\n';
    const auto n = static_cast<size_t>(end - begin);
    bytes += n;
    used += n;
    if (used >= kChunk) used = 0;
    benchmark::DoNotOptimize(buffer.data());
  }
  state.counters["bytes_per_line"] =
      static_cast<double>(bytes) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_MetricsDirect);

void BM_AlertLibprotobuf(benchmark::State& state) {
  const auto& alerts = Alerts();
  const auto options = PrintOptions();
  std::string line;
  size_t i = 0;
  for (auto _ : state) {
    line.clear();
    (void)google::protobuf::util::MessageToJsonString(alerts[i++ % kInputs],
                                                      &line, options);
    benchmark::DoNotOptimize(line.data());
  }
}
BENCHMARK(BM_AlertLibprotobuf);

void BM_AlertDirect(benchmark::State& state) {
  const auto& alerts = Alerts();
  std::string line;
  size_t i = 0;
  for (auto _ : state) {
    line.clear();
    (void)AppendAlertJson(alerts[i++ % kInputs], &line);
    benchmark::DoNotOptimize(line.data());
  }
}
BENCHMARK(BM_AlertDirect);

void BM_DeadLetterLibprotobuf(benchmark::State& state) {
  const auto& letters = DeadLetters();
  const auto options = PrintOptions();
  std::string line;
  size_t i = 0;
  for (auto _ : state) {
    line.clear();
    (void)google::protobuf::util::MessageToJsonString(letters[i++ % kInputs],
                                                      &line, options);
    benchmark::DoNotOptimize(line.data());
  }
}
BENCHMARK(BM_DeadLetterLibprotobuf);

void BM_DeadLetterDirect(benchmark::State& state) {
  const auto& letters = DeadLetters();
  std::string line;
  size_t i = 0;
  for (auto _ : state) {
    line.clear();
    AppendDeadLetterJson(letters[i++ % kInputs], &line);
    benchmark::DoNotOptimize(line.data());
  }
}
BENCHMARK(BM_DeadLetterDirect);

}  // namespace
}  // namespace ebb

BENCHMARK_MAIN();
