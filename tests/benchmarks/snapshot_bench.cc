// The engine's snapshots at scale, in process: 10,000 symbols with 30 days of
// hourly prices (720 entries each, 7.2 M entries), bucketed (1-hour buckets)
// and exact. A plain harness that prints figures (no timed assertions):
//   bytes/entry    the serialized full snapshot's size per window entry
//   snapshot       Pipeline::Snapshot, then SerializeToString
//   restore        ParseEngineSnapshot, then Pipeline::Restore into a new
//                  engine (targets: < 1 s in all)
//   delta 1 %      one more event for 100 symbols, then SnapshotChanged and
//                  SerializeToString (target: < 10 ms)
// Each timing is the best of --repeats runs; the first Restore, whose ring
// blocks are memory the process never touched (the kernel's first-touch cost,
// as in a freshly started process), is printed too. The restored engine is
// checked against the original (its snapshot's bytes are the same).
//
// Usage: ebb_snapshot_bench [--symbols=10000] [--days=30] [--repeats=3]
//                           [--modes=bucketed,exact]

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

#include "absl/strings/str_cat.h"
#include "engine/config.h"
#include "engine/pipeline.h"
#include "engine/snapshot.h"

namespace {

using ebb::TimeNs;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

class NullOutput : public ebb::Output {};

struct Flags {
  int symbols = 10000;
  int days = 30;
  int repeats = 3;
  std::string modes = "bucketed,exact";
};

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&](const char* name) -> const char* {
      const size_t n = std::strlen(name);
      return a.compare(0, n, name) == 0 ? a.c_str() + n : nullptr;
    };
    if (const char* symbols = value("--symbols=")) {
      f.symbols = std::atoi(symbols);
    } else if (const char* days = value("--days=")) {
      f.days = std::atoi(days);
    } else if (const char* repeats = value("--repeats=")) {
      f.repeats = std::max(1, std::atoi(repeats));
    } else if (const char* modes = value("--modes=")) {
      f.modes = modes;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      std::exit(2);
    }
  }
  return f;
}

std::unique_ptr<ebb::Pipeline> NewPipeline(const ebb::EngineConfig& config,
                                           const ebb::Clock* clock,
                                           ebb::Output* out) {
  auto created = ebb::Pipeline::Create(config, clock, out);
  if (!created.ok()) {
    std::fprintf(stderr, "%s\n", created.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(*created);
}

void Run(const Flags& flags, bool exact) {
  ebb::v1::EbbConfig proto = ebb::DefaultConfig();
  proto.mutable_window()->set_length("30d");
  proto.mutable_window()->set_resolution(exact ? "exact" : "1h");
  auto config = ebb::CompileConfig(proto);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().ToString().c_str());
    std::exit(1);
  }
  const TimeNs t0 = 1'735'689'600LL * ebb::kNanosPerSecond;  // 2025-01-01
  const int hours = flags.days * 24;
  ebb::FakeClock clock(t0 + (hours + 48) * (60 * ebb::kNanosPerMinute));
  NullOutput out;
  std::unique_ptr<ebb::Pipeline> engine = NewPipeline(*config, &clock, &out);
  std::vector<std::string> symbols;
  for (int k = 0; k < flags.symbols; ++k) {
    symbols.push_back(absl::StrCat("SYM", k));
  }
  std::mt19937_64 rng(42);
  std::normal_distribution<double> z(0.0, 0.01);
  std::vector<double> price(symbols.size(), 100.0);
  const auto feed_hour = [&](int h, int every) {
    for (size_t k = 0; k < symbols.size(); k += every) {
      price[k] *= std::exp(z(rng));
      engine->OnPrice(symbols[k], t0 + h * (60 * ebb::kNanosPerMinute),
                      price[k], {0, -1, 0}, "");
    }
  };
  const Clock::time_point fill = Clock::now();
  for (int h = 0; h < hours; ++h) feed_hour(h, 1);
  const double fill_s = Seconds(fill);
  const size_t entries = engine->WindowEntries();
  std::printf(
      "%s: %d symbols x %d hourly events, %zu entries (fed in %.2f s)\n",
      exact ? "exact" : "bucketed 1h", flags.symbols, hours, entries, fill_s);

  ebb::v1::EngineSnapshot snapshot;
  std::string bytes;
  double snapshot_s = 1e9, serialize_s = 1e9;
  for (int r = 0; r < flags.repeats; ++r) {
    Clock::time_point start = Clock::now();
    engine->Snapshot(&snapshot);
    snapshot_s = std::min(snapshot_s, Seconds(start));
    start = Clock::now();
    snapshot.SerializeToString(&bytes);
    serialize_s = std::min(serialize_s, Seconds(start));
  }
  std::printf(
      "  full snapshot   %12zu bytes, %.2f bytes/entry; Snapshot %.3f s "
      "+ SerializeToString %.3f s\n",
      bytes.size(),
      static_cast<double>(bytes.size()) / static_cast<double>(entries),
      snapshot_s, serialize_s);

  double parse_s = 1e9, restore_s = 1e9, first_restore_s = 0;
  std::unique_ptr<ebb::Pipeline> restored;
  for (int r = 0; r < flags.repeats; ++r) {
    restored.reset();
    Clock::time_point start = Clock::now();
    auto parsed = ebb::ParseEngineSnapshot(bytes);
    parse_s = std::min(parse_s, Seconds(start));
    if (!parsed.ok()) {
      std::fprintf(stderr, "%s\n", parsed.status().ToString().c_str());
      std::exit(1);
    }
    restored = NewPipeline(*config, &clock, &out);
    start = Clock::now();
    const absl::Status status = restored->Restore(*parsed);
    const double took = Seconds(start);
    if (r == 0) first_restore_s = took;
    restore_s = std::min(restore_s, took);
    if (!status.ok()) {
      std::fprintf(stderr, "%s\n", status.ToString().c_str());
      std::exit(1);
    }
  }
  ebb::v1::EngineSnapshot again;
  restored->Snapshot(&again);
  const bool same = again.SerializeAsString() == bytes;
  std::printf(
      "  restore         ParseEngineSnapshot %.3f s + Restore %.3f s = "
      "%.3f s (target < 1 s); restored snapshot %s\n",
      parse_s, restore_s, parse_s + restore_s, same ? "identical" : "DIFFERS");
  std::printf(
      "                  the first Restore, into memory never touched "
      "before: %.3f s\n",
      first_restore_s);
  restored.reset();

  // 1 % of the symbols take one more event.
  double delta_s = 1e9, delta_serialize_s = 1e9;
  size_t delta_bytes = 0;
  int delta_symbols = 0;
  engine->Snapshot(&snapshot);
  for (int r = 0; r < flags.repeats; ++r) {
    feed_hour(hours + r, 100);
    ebb::v1::EngineSnapshot delta;
    Clock::time_point start = Clock::now();
    engine->SnapshotChanged(&delta);
    delta_s = std::min(delta_s, Seconds(start));
    start = Clock::now();
    std::string delta_string;
    delta.SerializeToString(&delta_string);
    delta_serialize_s = std::min(delta_serialize_s, Seconds(start));
    delta_bytes = delta_string.size();
    delta_symbols = delta.symbols_size();
  }
  std::printf(
      "  delta 1 %%       %d symbols, %zu bytes; SnapshotChanged %.2f "
      "ms + SerializeToString %.2f ms = %.2f ms (target < 10 ms)\n",
      delta_symbols, delta_bytes, delta_s * 1e3, delta_serialize_s * 1e3,
      (delta_s + delta_serialize_s) * 1e3);
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  if (flags.modes.find("bucketed") != std::string::npos) Run(flags, false);
  if (flags.modes.find("exact") != std::string::npos) Run(flags, true);
  return 0;
}
