// Per-event latency of DrawdownWindow::Add in steady state (the window full
// and sliding), next to a brute-force baseline that rescans the window on
// every event. A plain harness (not Google Benchmark) that prints two tables.
//
// Cases (one event per second; the same shapes as window_bench.cc):
//   exact/N          exact mode, W = N seconds: N entries; a seeded geometric
//                    random walk
//   exact_falling/N  exact mode, a strictly falling series: the max is the
//                    oldest entry
//   bucketed/N       1-minute buckets, W = N minutes: N buckets of 60 events
//   brute/N          the baseline: N prices rescanned per event (N = 30 and
//                    43,200 only, 43,200 for --brute_events events), checked
//                    against a DrawdownWindow fed the same prices
//
// Each case is warmed up (filled, then slid past two ring blocks), then runs
// two passes over fresh prices generated up front: a throughput pass timed as
// a whole ("mean"), and a latency pass that times every call with rdtsc
// (calibrated against steady_clock; elsewhere steady_clock itself). Per-call
// figures include the timer's own overhead, printed first. ctxsw counts
// involuntary context switches during the latency pass: on a shared machine a
// preemption shows up as a multi-millisecond "worst" that the code did not
// cause. B/entry is DrawdownWindow::MemoryBytes() / entries(); heap B/e
// cross-checks it with every heap byte the window holds (operator new is
// replaced here to count live bytes).
//
// Usage:
//   ebb_window_latency [--events=5000000] [--brute_events=5000]
//                      [--sizes=30,43200,2592000]
//                      [--cases=exact,exact_falling,bucketed,brute]

#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "base/time_util.h"
#include "tests/benchmarks/window_feed.h"
#include "window/chunked_ring.h"
#include "window/drawdown_window.h"

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

// -----------------------------------------------------------------------------
// Live heap bytes (glibc's usable sizes), to cross-check
// DrawdownWindow::MemoryBytes().

namespace {

std::atomic<int64_t> g_live_heap_bytes{0};

void* TrackedAlloc(std::size_t size) {
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p != nullptr) {
    g_live_heap_bytes.fetch_add(static_cast<int64_t>(malloc_usable_size(p)),
                                std::memory_order_relaxed);
  }
  return p;
}

// Out of line so GCC does not see free() paired with operator new
// (-Wmismatched-new-delete).
[[gnu::noinline]] void TrackedFree(void* p) {
  if (p == nullptr) return;
  g_live_heap_bytes.fetch_sub(static_cast<int64_t>(malloc_usable_size(p)),
                              std::memory_order_relaxed);
  std::free(p);
}

}  // namespace

void* operator new(std::size_t size) {
  if (void* p = TrackedAlloc(size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  if (void* p = TrackedAlloc(size)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return TrackedAlloc(size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return TrackedAlloc(size);
}
void operator delete(void* p) noexcept { TrackedFree(p); }
void operator delete[](void* p) noexcept { TrackedFree(p); }
void operator delete(void* p, std::size_t) noexcept { TrackedFree(p); }
void operator delete[](void* p, std::size_t) noexcept { TrackedFree(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept {
  TrackedFree(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  TrackedFree(p);
}

namespace ebb {
namespace {

int64_t LiveHeapBytes() {
  return g_live_heap_bytes.load(std::memory_order_relaxed);
}

using bench::kEventsPerBucket;
using bench::kSeed;
using bench::kStart;
using bench::Mode;
using bench::OptionsFor;
using bench::PriceSeries;
using bench::Series;

// -----------------------------------------------------------------------------
// Timing: ticks from rdtsc (x86-64) or steady_clock, converted with a
// calibrated rate.

#if defined(__x86_64__)
inline uint64_t TicksBegin() {
  _mm_lfence();
  const uint64_t t = __rdtsc();
  _mm_lfence();
  return t;
}
inline uint64_t TicksEnd() {
  unsigned aux;
  const uint64_t t = __rdtscp(&aux);
  _mm_lfence();
  return t;
}
constexpr const char* kTimerName = "rdtsc";
#else
inline uint64_t TicksBegin() {
  return static_cast<uint64_t>(
      std::chrono::steady_clock::now().time_since_epoch().count());
}
inline uint64_t TicksEnd() { return TicksBegin(); }
constexpr const char* kTimerName = "steady_clock";
#endif

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Ticks per nanosecond, measured over 200 ms of steady_clock.
double CalibrateTicksPerNs() {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point c0 = Clock::now();
  const uint64_t t0 = TicksBegin();
  while (Clock::now() - c0 < std::chrono::milliseconds(200)) {
  }
  const uint64_t t1 = TicksEnd();
  const Clock::time_point c1 = Clock::now();
  return static_cast<double>(t1 - t0) / (Seconds(c1 - c0) * 1e9);
}

struct Usage {
  long involuntary_switches;
  long minor_faults;
};

Usage CurrentUsage() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return {u.ru_nivcsw, u.ru_minflt};
}

// -----------------------------------------------------------------------------
// The brute-force baseline: keep the window's prices, rescan them for every
// event.

using bench::BruteForceWindow;

// -----------------------------------------------------------------------------
// One row of the results.

struct Row {
  std::string name;
  uint64_t entries = 0;
  double bytes_per_entry = 0;  // MemoryBytes() / entries(); 0: not applicable
  double heap_per_entry =
      0;  // live heap bytes of the window / entries(); 0: n/a
  uint64_t events = 0;
  double mean_ns = 0;        // throughput pass
  double timed_mean_ns = 0;  // latency pass, per call (includes the timer)
  double p50 = 0, p99 = 0, p999 = 0, p9999 = 0, worst = 0;
  uint64_t over_1us = 0, over_10us = 0, over_100us = 0, over_1ms = 0;
  long switches = 0, faults = 0;
  std::string note;
};

// Fills the latency fields of *row from per-call tick counts.
void Summarize(std::vector<uint64_t>* ticks, double ticks_per_ns, Row* row) {
  std::vector<uint64_t>& t = *ticks;
  const size_t n = t.size();
  long double sum = 0;
  for (uint64_t x : t) {
    sum += x;
    const double ns = static_cast<double>(x) / ticks_per_ns;
    row->over_1us += ns > 1e3;
    row->over_10us += ns > 1e4;
    row->over_100us += ns > 1e5;
    row->over_1ms += ns > 1e6;
  }
  row->timed_mean_ns = static_cast<double>(sum / n) / ticks_per_ns;
  std::sort(t.begin(), t.end());
  auto quantile = [&](double q) {
    size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(n)));
    rank = std::min(std::max<size_t>(rank, 1), n);
    return static_cast<double>(t[rank - 1]) / ticks_per_ns;
  };
  row->p50 = quantile(0.50);
  row->p99 = quantile(0.99);
  row->p999 = quantile(0.999);
  row->p9999 = quantile(0.9999);
  row->worst = static_cast<double>(t[n - 1]) / ticks_per_ns;
  row->events = n;
}

Row RunWindow(const char* name, Mode mode, Series series, uint32_t entries,
              uint64_t events, double ticks_per_ns) {
  Row row;
  row.name = std::string(name) + "/" + std::to_string(entries);
  const int64_t heap0 = LiveHeapBytes();
  auto owned = std::make_unique<DrawdownWindow>(OptionsFor(mode, entries));
  DrawdownWindow& window = *owned;
  PriceSeries prices(series, kSeed);
  WindowMetrics metrics;
  TimeNs time = kStart;

  // Warm-up: fill, then slide past two ring blocks so block recycling is in
  // steady state.
  const uint64_t per_entry = mode == Mode::kExact ? 1 : kEventsPerBucket;
  const uint64_t warm_up =
      (uint64_t{entries} + 2 * ChunkedRing<int>::kBlockSize) * per_entry;
  for (uint64_t i = 0; i < warm_up; ++i) {
    window.Add(time, prices.Next(), &metrics);
    time += kNanosPerSecond;
  }
  row.entries = window.entries();
  row.bytes_per_entry =
      static_cast<double>(window.MemoryBytes()) / window.entries();
  row.heap_per_entry =
      static_cast<double>(LiveHeapBytes() - heap0) / window.entries();
  if (window.entries() != entries) row.note = "UNEXPECTED ENTRIES";

  std::vector<double> batch(events);

  // Throughput pass.
  prices.Fill(&batch);
  const auto c0 = std::chrono::steady_clock::now();
  for (double p : batch) {
    window.Add(time, p, &metrics);
    time += kNanosPerSecond;
  }
  const auto c1 = std::chrono::steady_clock::now();
  row.mean_ns = Seconds(c1 - c0) * 1e9 / static_cast<double>(events);

  // Latency pass.
  prices.Fill(&batch);
  std::vector<uint64_t> ticks(events);
  const Usage u0 = CurrentUsage();
  for (uint64_t i = 0; i < events; ++i) {
    const double p = batch[i];
    const uint64_t t0 = TicksBegin();
    window.Add(time, p, &metrics);
    const uint64_t t1 = TicksEnd();
    ticks[i] = t1 - t0;
    time += kNanosPerSecond;
  }
  const Usage u1 = CurrentUsage();
  row.switches = u1.involuntary_switches - u0.involuntary_switches;
  row.faults = u1.minor_faults - u0.minor_faults;
  Summarize(&ticks, ticks_per_ns, &row);
  if (window.entries() != entries) row.note = "UNEXPECTED ENTRIES";
  return row;
}

// The baseline, timed per call; a DrawdownWindow runs alongside (untimed) to
// check the results.
Row RunBruteForce(uint32_t entries, uint64_t events, double ticks_per_ns) {
  Row row;
  row.name = "brute/" + std::to_string(entries);
  row.entries = entries;
  BruteForceWindow brute(entries);
  DrawdownWindow window(OptionsFor(Mode::kExact, entries));
  PriceSeries prices(Series::kRandomWalk, kSeed);
  WindowMetrics metrics;
  TimeNs time = kStart;
  double max = 0, mdd = 0;
  for (uint32_t i = 0; i < entries; ++i) {
    const double p = prices.Next();
    brute.Add(p, &max, &mdd);
    window.Add(time, p, &metrics);
    time += kNanosPerSecond;
  }

  // Latency pass (checked).
  std::vector<double> batch(events);
  prices.Fill(&batch);
  std::vector<uint64_t> ticks(events);
  uint64_t mismatches = 0;
  const Usage u0 = CurrentUsage();
  for (uint64_t i = 0; i < events; ++i) {
    const double p = batch[i];
    const uint64_t t0 = TicksBegin();
    brute.Add(p, &max, &mdd);
    const uint64_t t1 = TicksEnd();
    ticks[i] = t1 - t0;
    window.Add(time, p, &metrics);
    time += kNanosPerSecond;
    mismatches += metrics.peak.price != max || metrics.max_drawdown != mdd;
  }
  const Usage u1 = CurrentUsage();
  row.switches = u1.involuntary_switches - u0.involuntary_switches;
  row.faults = u1.minor_faults - u0.minor_faults;
  Summarize(&ticks, ticks_per_ns, &row);
  row.note = mismatches == 0 ? "max and mdd == window's on every event"
                             : "MISMATCH with the window on " +
                                   std::to_string(mismatches) + " events";

  // Throughput pass.
  prices.Fill(&batch);
  const auto c0 = std::chrono::steady_clock::now();
  for (double p : batch) brute.Add(p, &max, &mdd);
  const auto c1 = std::chrono::steady_clock::now();
  row.mean_ns = Seconds(c1 - c0) * 1e9 / static_cast<double>(events);
  return row;
}

// -----------------------------------------------------------------------------

std::string FormatNs(double ns) {
  char buf[32];
  if (ns < 1e3) {
    std::snprintf(buf, sizeof(buf), "%.1f ns", ns);
  } else if (ns < 1e6) {
    std::snprintf(buf, sizeof(buf), "%.2f us", ns / 1e3);
  } else {
    std::snprintf(buf, sizeof(buf), "%.2f ms", ns / 1e6);
  }
  return buf;
}

void PrintHeader() {
  std::printf("%-24s %9s %8s %8s %9s %10s %10s %10s %10s %10s %10s %10s\n",
              "case", "entries", "B/entry", "heap B/e", "events", "mean",
              "timed mean", "p50", "p99", "p99.9", "p99.99", "worst");
}

void PrintRow(const Row& r) {
  char bytes[16] = "-", heap[16] = "-";
  if (r.bytes_per_entry > 0)
    std::snprintf(bytes, sizeof(bytes), "%.1f", r.bytes_per_entry);
  if (r.heap_per_entry > 0)
    std::snprintf(heap, sizeof(heap), "%.1f", r.heap_per_entry);
  std::printf("%-24s %9llu %8s %8s %9llu %10s %10s %10s %10s %10s %10s %10s\n",
              r.name.c_str(), static_cast<unsigned long long>(r.entries), bytes,
              heap, static_cast<unsigned long long>(r.events),
              FormatNs(r.mean_ns).c_str(), FormatNs(r.timed_mean_ns).c_str(),
              FormatNs(r.p50).c_str(), FormatNs(r.p99).c_str(),
              FormatNs(r.p999).c_str(), FormatNs(r.p9999).c_str(),
              FormatNs(r.worst).c_str());
  std::fflush(stdout);
}

void PrintTails(const std::vector<Row>& rows) {
  std::printf("\n%-24s %10s %10s %10s %10s %8s %8s  %s\n", "case", ">1us",
              ">10us", ">100us", ">1ms", "ctxsw", "minflt", "note");
  for (const Row& r : rows) {
    std::printf("%-24s %10llu %10llu %10llu %10llu %8ld %8ld  %s\n",
                r.name.c_str(), static_cast<unsigned long long>(r.over_1us),
                static_cast<unsigned long long>(r.over_10us),
                static_cast<unsigned long long>(r.over_100us),
                static_cast<unsigned long long>(r.over_1ms), r.switches,
                r.faults, r.note.c_str());
  }
}

bool Contains(const std::string& csv, const std::string& item) {
  return ("," + csv + ",").find("," + item + ",") != std::string::npos;
}

int Main(int argc, char** argv) {
  uint64_t events = 5'000'000;
  uint64_t brute_events = 5'000;
  std::string sizes_csv = "30,43200,2592000";
  std::string cases = "exact,exact_falling,bucketed,brute";
  for (int i = 1; i < argc; ++i) {
    const char* arg = argv[i];
    if (std::strncmp(arg, "--events=", 9) == 0) {
      events = std::strtoull(arg + 9, nullptr, 10);
    } else if (std::strncmp(arg, "--brute_events=", 15) == 0) {
      brute_events = std::strtoull(arg + 15, nullptr, 10);
    } else if (std::strncmp(arg, "--sizes=", 8) == 0) {
      sizes_csv = arg + 8;
    } else if (std::strncmp(arg, "--cases=", 8) == 0) {
      cases = arg + 8;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--events=N] [--brute_events=N] "
                   "[--sizes=30,43200,2592000] "
                   "[--cases=exact,exact_falling,bucketed,brute]\n",
                   argv[0]);
      return 2;
    }
  }
  if (events == 0 || brute_events == 0) {
    std::fprintf(stderr, "--events and --brute_events must be > 0\n");
    return 2;
  }
  std::vector<uint32_t> sizes;
  for (size_t pos = 0; pos < sizes_csv.size();) {
    size_t comma = sizes_csv.find(',', pos);
    if (comma == std::string::npos) comma = sizes_csv.size();
    const unsigned long size =
        std::strtoul(sizes_csv.substr(pos, comma - pos).c_str(), nullptr, 10);
    if (size == 0) {
      std::fprintf(stderr, "--sizes: every size must be > 0\n");
      return 2;
    }
    sizes.push_back(static_cast<uint32_t>(size));
    pos = comma + 1;
  }

  const double ticks_per_ns = CalibrateTicksPerNs();
  std::vector<uint64_t> empty(1'000'000);
  for (uint64_t& t : empty) {
    const uint64_t t0 = TicksBegin();
    const uint64_t t1 = TicksEnd();
    t = t1 - t0;
  }
  std::sort(empty.begin(), empty.end());
  std::printf(
      "timer: %s, %.3f ticks/ns; empty timed region: min %s, median %s\n",
      kTimerName, ticks_per_ns,
      FormatNs(static_cast<double>(empty.front()) / ticks_per_ns).c_str(),
      FormatNs(static_cast<double>(empty[empty.size() / 2]) / ticks_per_ns)
          .c_str());
  std::printf(
      "mean = throughput pass (no per-call timer); timed mean and percentiles "
      "= latency pass "
      "(per call, timer included)\n\n");

  std::vector<Row> rows;
  PrintHeader();
  auto run = [&](Row row) {
    PrintRow(row);
    rows.push_back(std::move(row));
  };
  struct WindowCaseSpec {
    const char* name;
    Mode mode;
    Series series;
  };
  const WindowCaseSpec specs[] = {
      {"exact", Mode::kExact, Series::kRandomWalk},
      {"exact_falling", Mode::kExact, Series::kFalling},
      {"bucketed", Mode::kBucketed, Series::kRandomWalk}};
  for (const WindowCaseSpec& spec : specs) {
    if (!Contains(cases, spec.name)) continue;
    for (uint32_t size : sizes) {
      run(RunWindow(spec.name, spec.mode, spec.series, size, events,
                    ticks_per_ns));
    }
  }
  if (Contains(cases, "brute")) {
    for (uint32_t size : sizes) {
      // A rescan of millions of entries per event would take hours: 30 and
      // 43,200 only.
      if (size > 43'200) continue;
      run(RunBruteForce(size, size <= 1'000 ? events : brute_events,
                        ticks_per_ns));
    }
  }
  PrintTails(rows);
  return 0;
}

}  // namespace
}  // namespace ebb

int main(int argc, char** argv) { return ebb::Main(argc, argv); }
