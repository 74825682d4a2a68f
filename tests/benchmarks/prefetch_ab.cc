// Plain harness: what Pipeline's prefetch hints are worth, measured as an
// interleaved A/B on ONE pipeline, so that both sides see the same windows and
// the same neighbours on a shared machine (separate runs of
// ebb_pipeline_bench vary by 30-50 % here).
//
// N instruments ("SYM00000"...), one event per minute each, a seeded random
// walk; every round visits them all in a fresh random order. After a warm-up of
// i % 128 events for instrument i and R rounds (through OnPrice), chunks of
// 50,000 serialized PriceEvents alternate between plain
// Pipeline::OnEncodedPrice with the key (one record at a time, without
// hints) and the same preceded by Pipeline::TEST_PrefetchAhead with the keys
// 16 and 8 records ahead (the engine's look-ahead), in the order
// A B B A A B ... (the first pair is not counted). Only the calls are timed
// (the chunk is serialized before its clock starts). Prints ns per
// event for each side and the pipeline's counts; exits 1 if an event was
// rejected or not applied.
//
// Run:
//   taskset -c 1 build/release/tests/benchmarks/ebb_prefetch_ab
//       [--symbols=5000] [--warm-rounds=600] [--chunks=20] [--exact]
// Full 30-day windows of 1-minute buckets: --symbols=50 --warm-rounds=60000.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "base/clock.h"
#include "base/time_util.h"
#include "ebb/v1/events.pb.h"
#include "engine/config.h"
#include "engine/pipeline.h"
#include "window/chunked_ring.h"

namespace ebb {
namespace {

constexpr int kChunk = 50'000;
// 2025-01-01T00:00:00Z.
constexpr TimeNs kStart = 1'735'689'600 * kNanosPerSecond;

class CountingOutput : public Output {
 public:
  void OnAlert(const ebb::v1::Alert& alert) override { ++alerts; }
  uint64_t alerts = 0;
};

struct Args {
  int symbols = 5'000;
  long warm_rounds = 600;
  long chunks = 20;
  bool exact = false;
};

bool ParseArgs(int argc, char** argv, Args* args) {
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    auto value = [&](absl::string_view flag) -> const char* {
      return absl::StartsWith(arg, flag) ? argv[i] + flag.size() : nullptr;
    };
    const char* v = nullptr;
    if ((v = value("--symbols=")) != nullptr) {
      args->symbols = std::atoi(v);
    } else if ((v = value("--warm-rounds=")) != nullptr) {
      args->warm_rounds = std::atol(v);
    } else if ((v = value("--chunks=")) != nullptr) {
      args->chunks = std::atol(v);
    } else if (arg == "--exact") {
      args->exact = true;
    } else {
      return false;
    }
  }
  return args->symbols > 0 && args->warm_rounds >= 0 && args->chunks >= 4;
}

int Main(int argc, char** argv) {
  Args args;
  if (!ParseArgs(argc, argv, &args)) {
    std::fprintf(stderr,
                 "usage: ebb_prefetch_ab [--symbols=5000] [--warm-rounds=600] "
                 "[--chunks=20] [--exact]\n");
    return 2;
  }
  ebb::v1::EbbConfig proto = DefaultConfig();
  if (args.exact) proto.mutable_window()->set_resolution("exact");
  absl::StatusOr<EngineConfig> config = CompileConfig(proto);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().ToString().c_str());
    return 1;
  }
  FakeClock clock(kStart);
  CountingOutput output;
  absl::StatusOr<std::unique_ptr<Pipeline>> created =
      Pipeline::Create(*std::move(config), &clock, &output);
  if (!created.ok()) {
    std::fprintf(stderr, "%s\n", created.status().ToString().c_str());
    return 1;
  }
  Pipeline& pipeline = **created;
  // Measure the hints themselves, whatever the windows' size.
  pipeline.TEST_set_hint_min_window_bytes(0);
  const Origin origin{pipeline.RegisterSource("prefetch_ab"), 0, 0};

  const int n = args.symbols;
  std::vector<std::string> symbols(n);
  std::vector<double> prices(n, 100.0);
  std::vector<TimeNs> times(n);
  std::vector<uint32_t> order(n);
  for (int i = 0; i < n; ++i) {
    symbols[i] = absl::StrFormat("SYM%05d", i);
    times[i] = kStart + TimeNs{i} * 1'000'000;  // staggered by 1 ms
    order[i] = static_cast<uint32_t>(i);
  }
  std::mt19937_64 rng(20250101);
  std::normal_distribution<double> normal;
  std::vector<double> steps(4096);
  for (double& m : steps) m = std::exp(1e-3 * normal(rng));
  size_t k = 0;
  size_t in_round = n;  // position in the current round's order
  auto next = [&]() -> uint32_t {
    if (in_round == order.size()) {
      std::shuffle(order.begin(), order.end(), rng);
      in_round = 0;
    }
    const uint32_t s = order[in_round++];
    prices[s] *= steps[k++ & 4095];
    return s;
  };

  // Instrument i first gets i % 128 events of its own, so that the windows
  // reach ring-block boundaries (and take a new block's page faults) in
  // different rounds, as a real feed's would, not all in the same chunk.
  uint64_t warm_up = 0;
  auto apply = [&](uint32_t s) {
    if (times[s] > clock.NowNs()) clock.Set(times[s]);
    pipeline.OnPrice(symbols[s], times[s], prices[s], origin, {});
    times[s] += kNanosPerMinute;
    ++warm_up;
  };
  for (int i = 0; i < n; ++i) {
    const uint32_t s = static_cast<uint32_t>(i);
    for (uint32_t j = 0; j < s % ChunkedRing<int>::kBlockSize; ++j) {
      prices[s] *= steps[k++ & 4095];
      apply(s);
    }
  }
  const uint64_t rounds = static_cast<uint64_t>(args.warm_rounds) * n;
  for (uint64_t e = 0; e < rounds; ++e) apply(next());

  double ns[2] = {0, 0};
  uint64_t events[2] = {0, 0};
  std::string buffer;
  std::vector<absl::string_view> records, keys;
  std::vector<size_t> ends;
  ebb::v1::PriceEvent event;
  event.set_venue("xnas");
  for (long c = 0; c < args.chunks; ++c) {
    buffer.clear();
    ends.clear();
    keys.clear();
    TimeNs latest = clock.NowNs();
    for (int j = 0; j < kChunk; ++j) {
      const uint32_t s = next();
      event.set_symbol(symbols[s]);
      ToTimestamp(times[s], event.mutable_event_time());
      event.set_price(prices[s]);
      event.set_event_id(absl::StrCat(symbols[s], ":", k));
      event.AppendToString(&buffer);
      ends.push_back(buffer.size());
      keys.push_back(symbols[s]);
      latest = std::max(latest, times[s]);
      times[s] += kNanosPerMinute;
    }
    clock.Set(latest);
    records.clear();
    size_t begin = 0;
    for (size_t end : ends) {
      records.emplace_back(buffer.data() + begin, end - begin);
      begin = end;
    }
    // A B B A ...: neither side always runs first in a pair (the windows grow
    // from chunk to chunk); the first pair is a warm-up, not counted.
    const int hinted = static_cast<int>((c + c / 2) % 2);
    const bool counted = c >= 2;
    const size_t count = records.size();
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < count; ++i) {
      if (hinted) {
        pipeline.TEST_PrefetchAhead(i, count,
                                    [&](size_t at) { return keys[at]; });
      }
      pipeline.OnEncodedPrice(records[i], origin, &keys[i]);
    }
    if (counted) {
      ns[hinted] += std::chrono::duration<double, std::nano>(
                        std::chrono::steady_clock::now() - t0)
                        .count();
      events[hinted] += count;
    }
  }

  const PipelineStats& stats = pipeline.stats();
  const double plain = ns[0] / static_cast<double>(events[0]);
  const double with_hints = ns[1] / static_cast<double>(events[1]);
  std::printf(
      "%s, %d symbols, %.0f entries per window: plain %.0f ns/event, "
      "hinted %.0f ns/event (%.2fx); applied %llu, rejected %llu, "
      "alerts %llu\n",
      args.exact ? "exact" : "1-minute buckets", n,
      static_cast<double>(pipeline.WindowEntries()) / n, plain, with_hints,
      plain / with_hints, static_cast<unsigned long long>(stats.applied),
      static_cast<unsigned long long>(stats.total_rejected()),
      static_cast<unsigned long long>(output.alerts));
  const bool all_applied =
      stats.total_rejected() == 0 &&
      stats.applied == warm_up + static_cast<uint64_t>(args.chunks) * kChunk;
  return all_applied ? 0 : 1;
}

}  // namespace
}  // namespace ebb

int main(int argc, char** argv) { return ebb::Main(argc, argv); }
