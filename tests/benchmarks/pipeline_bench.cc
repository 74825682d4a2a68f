// Google Benchmark: the per-event path without I/O. Serialized
// ebb.v1.PriceEvent records are prepared up front and handed to
// Pipeline::OnEncodedPrice one by one (decode, validate, symbol lookup, window,
// rules) with an Output that does nothing (WantsMetrics() false, counts
// alerts). One iteration is one event; items_per_second is events/s (from CPU
// time, gbench's default).
//
// The stream: N instruments ("SYM00000"...), each with one event per minute and
// a seeded geometric random walk (log-volatility 0.1 % per minute, about 4 % a
// day, so the drawdown rule fires now and then); every round of N events visits
// the instruments in a fresh random order. Records are built 1,048,576 at a
// time into one contiguous buffer (like a fetched Kafka batch) outside the
// timed region, and a FakeClock is set to the batch's latest event time, so no
// event is "from the future". A case fails (SkipWithError) unless every timed
// event is applied and none is rejected.
//
// Cases, for each shape <s>/<N> below:
//   BM_Pipeline/<s>/<N>  Pipeline::OnEncodedPrice, record by record
//   BM_PipelineHinted/<s>/<N>  the same, one record at a time: each record
//                        with its Kafka key (the symbol, checked against the
//                        event's), and Pipeline::TEST_PrefetchAhead
//                        hints from the keys 16 and 8 records ahead in the
//                        batch
//   BM_PipelineBatch/<s>/<N>  as StreamRunner hands records over: each
//                        decoded once (canonical decoder, key checked), then
//                        slices of 256 through Pipeline::OnPrices (its own
//                        look-ahead hints)
//   BM_OnPrice/<s>/<N>   the same pipeline fed pre-decoded events through
//                        Pipeline::OnPrice: the path without the protobuf
//                        decode
//   BM_Windows/<s>/<N>   DrawdownWindow::Add alone on N windows in the same
//                        interleaved order: no decode, lookup or rules
//   BM_Decode/5000       PriceEventDecoder::Decode and FromSecondsAndNanos
//                        alone (what OnEncodedPrice adds to OnPrice)
//   BM_DecodeLibprotobuf/5000  the same with PriceEvent::ParseFromArray into a
//                        reused message and FromTimestamp, for comparison
// Shapes:
//   default/N       CompileConfig(DefaultConfig()): 30d window, 1m buckets, the
//                   "drawdown" rule; N = 5,000 and 50,000
//   exact/N         the same with window.resolution "exact"
//   default_full/500, exact_full/500
//                   500 instruments whose 30-day windows are FULL and sliding
//
// Why two kinds of shape: before timing, every instrument gets 16 events (and
// instrument i first i % 128 more, so that the windows take their new ring
// blocks in different rounds), so every symbol exists and every window has its
// first ring blocks. But a 30-day
// window of 1-minute events holds 43,200 entries, 5.5 MB per instrument in
// bucketed mode (128 bytes per bucket), so full windows for 5,000 instruments
// would need 28 GB (280 GB for 50,000) and 216 million warm-up events: the
// default/N and exact/N windows grow during the run (each instrument's rings
// take a new block every 128 events). The *_full/500 shapes are the true
// steady state at a size that fits (2.8 GB bucketed, 0.9 GB exact), warmed up
// past 45,264 events per instrument; 500 windows of 1.7-5.5 MB are far beyond
// the caches, as 5,000 would be.
//
// BM_Pipeline against BM_PipelineHinted is not a clean measure of the hints
// on the growing shapes: the hinted case also checks the key, and it runs
// second on the same fixture, with larger windows (see entries_per_symbol).
// Both understate the hints; the *_full shapes compare fairly, and
// ebb_prefetch_ab measures the hints alone.
//
// Counters: allocs_per_event (global operator new calls and ring blocks taken
// from BlockPool in the timed loop / events; operator new is replaced in this
// file), allocs_nonalert (allocations
// per event over the events that raised no alert, from a checked pass of 65,536
// events after the timed loop), alerts_per_event, entries_per_symbol,
// window_B_per_entry (Pipeline::WindowMemoryBytes() / WindowEntries()) and
// window_MB.
//
// Run (medians of 3; each shape is built once and reused by consecutive cases
// and gbench's runs; the 50,000-instrument default shape needs about 6 GB):
//   build/release/tests/benchmarks/ebb_pipeline_bench --benchmark_min_time=2
//       --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
// The windows' ring blocks and the symbol map are on transparent huge pages
// where the system has them (window/huge_pages.h); EBB_HUGE_PAGES=0 measures
// without.
//
// First touch: the growing shapes take fresh memory all the time (a bucketed
// window a 16 KiB block every 128 events, 128 bytes per event), and the
// kernel's first touch of it (zeroing huge pages, mapping them) was 29 % of
// default/50000's time on the development VM: memory that a sliding window,
// whose blocks are recycled, never touches for the first time. So with the
// timer paused, before each batch, the ring pools are prefaulted
// (BlockPool::Prefault) with the blocks the batch will take (one per 128
// events, and a margin); blocks beyond that still fault in the timed loop.
// EBB_BENCH_PREFAULT=0 turns it off, to measure the first touch too.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "base/clock.h"
#include "base/time_util.h"
#include "ebb/v1/events.pb.h"
#include "engine/config.h"
#include "engine/pipeline.h"
#include "engine/price_event_codec.h"
#include "window/chunked_ring.h"
#include "window/drawdown_window.h"
#include "window/huge_pages.h"

// -----------------------------------------------------------------------------
// Counting global allocation functions: every operator new (any form) bumps
// g_allocations.

namespace {

std::atomic<uint64_t> g_allocations{0};

void* CountedAlloc(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}

void* CountedAlignedAlloc(std::size_t size, std::align_val_t align) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  const auto alignment = static_cast<std::size_t>(align);
  void* p = nullptr;
  if (posix_memalign(&p, std::max(alignment, sizeof(void*)),
                     size == 0 ? 1 : size) != 0) {
    return nullptr;
  }
  return p;
}

// Out of line so GCC does not see free() paired with operator new
// (-Wmismatched-new-delete).
[[gnu::noinline]] void CountedFree(void* p) { std::free(p); }

}  // namespace

void* operator new(std::size_t size) {
  if (void* p = CountedAlloc(size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  if (void* p = CountedAlloc(size)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return CountedAlloc(size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return CountedAlloc(size);
}
void* operator new(std::size_t size, std::align_val_t align) {
  if (void* p = CountedAlignedAlloc(size, align)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size, std::align_val_t align) {
  if (void* p = CountedAlignedAlloc(size, align)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, std::align_val_t align,
                   const std::nothrow_t&) noexcept {
  return CountedAlignedAlloc(size, align);
}
void* operator new[](std::size_t size, std::align_val_t align,
                     const std::nothrow_t&) noexcept {
  return CountedAlignedAlloc(size, align);
}
void operator delete(void* p) noexcept { CountedFree(p); }
void operator delete[](void* p) noexcept { CountedFree(p); }
void operator delete(void* p, std::size_t) noexcept { CountedFree(p); }
void operator delete[](void* p, std::size_t) noexcept { CountedFree(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept {
  CountedFree(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  CountedFree(p);
}
void operator delete(void* p, std::align_val_t) noexcept { CountedFree(p); }
void operator delete[](void* p, std::align_val_t) noexcept { CountedFree(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  CountedFree(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  CountedFree(p);
}
void operator delete(void* p, std::align_val_t,
                     const std::nothrow_t&) noexcept {
  CountedFree(p);
}
void operator delete[](void* p, std::align_val_t,
                       const std::nothrow_t&) noexcept {
  CountedFree(p);
}

namespace ebb {
namespace {

// Ring blocks come from BlockPool, not operator new: counted too.
uint64_t Allocations() {
  return g_allocations.load(std::memory_order_relaxed) +
         BlockPool::TotalAllocations();
}

constexpr uint64_t kSeed = 20250101;
// 2025-01-01T00:00:00Z.
constexpr TimeNs kStart = 1'735'689'600 * kNanosPerSecond;
constexpr TimeNs kStep = kNanosPerMinute;  // between events of one instrument
constexpr double kSigma = 1e-3;            // log-volatility per event
constexpr size_t kBatchEvents = size_t{1} << 20;
constexpr uint64_t kGrowingWarmUpRounds = 16;
// Fills 30-day windows of 1-minute events (43,200 entries), then slides them
// past two ring blocks so that block recycling is in steady state too.
constexpr uint64_t kFullWarmUpRounds = 43'200 + 2 * 1'024 + 16;
constexpr int kCheckedEvents = 65'536;

// -----------------------------------------------------------------------------
// The event stream and its batches.

struct DecodedEvent {
  uint32_t symbol;  // index into EventStream's symbols
  TimeNs time;
  double price;
};

// N instruments, one event per minute each; every round visits them all in a
// fresh random order, so times increase per instrument.
class EventStream {
 public:
  explicit EventStream(int instruments) : rng_(kSeed) {
    for (int i = 0; i < instruments; ++i) {
      symbols_.push_back(absl::StrFormat("SYM%05d", i));
      // Staggered by a millisecond: no two instruments share an instant.
      times_.push_back(kStart + TimeNs{i} * 1'000'000);
      prices_.push_back(100.0);
      order_.push_back(static_cast<uint32_t>(i));
    }
    next_in_round_ = order_.size();
  }

  int instruments() const { return static_cast<int>(symbols_.size()); }
  const std::string& symbol(uint32_t index) const { return symbols_[index]; }

  DecodedEvent Next() {
    if (next_in_round_ == order_.size()) {
      std::shuffle(order_.begin(), order_.end(), rng_);
      next_in_round_ = 0;
    }
    return NextOf(order_[next_in_round_++]);
  }

  // The next event of instrument `s` (outside the rounds).
  DecodedEvent NextOf(uint32_t s) {
    prices_[s] *= std::exp(kSigma * normal_(rng_));
    const DecodedEvent event{s, times_[s], prices_[s]};
    times_[s] += kStep;
    return event;
  }

 private:
  std::mt19937_64 rng_;
  std::normal_distribution<double> normal_;
  std::vector<std::string> symbols_;
  std::vector<TimeNs> times_;
  std::vector<double> prices_;
  std::vector<uint32_t> order_;
  size_t next_in_round_ = 0;
};

// kBatchEvents events of the stream, decoded and (optionally) serialized into
// one contiguous buffer.
class Batch {
 public:
  void Build(EventStream* stream, bool serialize) {
    decoded_.clear();
    buffer_.clear();
    ends_.clear();
    ebb::v1::PriceEvent event;
    event.set_venue("xnas");
    latest_ = kStart;
    for (size_t k = 0; k < kBatchEvents; ++k) {
      const DecodedEvent e = stream->Next();
      decoded_.push_back(e);
      latest_ = std::max(latest_, e.time);
      if (!serialize) continue;
      event.set_symbol(stream->symbol(e.symbol));
      ToTimestamp(e.time, event.mutable_event_time());
      event.set_price(e.price);
      event.set_event_id(absl::StrCat(stream->symbol(e.symbol), ":", ++id_));
      event.AppendToString(&buffer_);
      ends_.push_back(buffer_.size());
    }
    records_.clear();
    size_t begin = 0;
    for (size_t end : ends_) {
      records_.emplace_back(buffer_.data() + begin, end - begin);
      begin = end;
    }
    next_ = 0;
  }

  bool exhausted() const { return next_ == decoded_.size(); }
  size_t size() const { return decoded_.size(); }
  TimeNs latest() const { return latest_; }
  // The index of the next event, then advances. REQUIRES: !exhausted().
  size_t Take() { return next_++; }
  const DecodedEvent& decoded(size_t i) const { return decoded_[i]; }
  absl::string_view record(size_t i) const { return records_[i]; }

 private:
  std::vector<DecodedEvent> decoded_;
  std::string buffer_;
  std::vector<size_t> ends_;
  std::vector<absl::string_view> records_;
  size_t next_ = 0;
  uint64_t id_ = 0;
  TimeNs latest_ = kStart;
};

// -----------------------------------------------------------------------------
// Gives instrument i (i % kBlockSize) events of its own before the rounds
// start. Every round gives every window one entry, so without this all
// windows would reach a ring-block boundary in the same round, and that round
// would take all their new blocks' page faults at once: a burst that lands in
// one case's timed loop and not another's. Feeds would not be so synchronised.
template <typename Apply>
void Stagger(EventStream* stream, Apply apply) {
  for (int i = 0; i < stream->instruments(); ++i) {
    const uint32_t s = static_cast<uint32_t>(i);
    for (uint32_t k = 0; k < s % ChunkedRing<int>::kBlockSize; ++k) {
      apply(stream->NextOf(s));
    }
  }
}

// Fixtures: one at a time (the 50,000-instrument default one holds ~6 GB),
// reused by consecutive cases and by gbench's runs and repetitions.

class Fixture {
 public:
  virtual ~Fixture() = default;
  const std::string& error() const { return error_; }

 protected:
  std::string error_;
};

// The current fixture, whatever its type: a new one is only built after the
// previous one is freed.
struct CurrentFixture {
  std::string key;
  std::unique_ptr<Fixture> fixture;
};

CurrentFixture* Current() {
  static CurrentFixture* const current = new CurrentFixture;
  return current;
}

template <typename T>
T& GetFixture(const std::string& key,
              const std::function<std::unique_ptr<T>()>& make) {
  CurrentFixture* const current = Current();
  if (current->fixture == nullptr || current->key != key) {
    current->fixture.reset();
    current->fixture = make();
    current->key = key;
  }
  return static_cast<T&>(*current->fixture);
}

enum class Shape { kDefault, kExact, kDefaultFull, kExactFull };

const char* ShapeName(Shape s) {
  switch (s) {
    case Shape::kDefault:
      return "default";
    case Shape::kExact:
      return "exact";
    case Shape::kDefaultFull:
      return "default_full";
    case Shape::kExactFull:
      return "exact_full";
  }
  return "?";
}
bool IsExact(Shape s) { return s == Shape::kExact || s == Shape::kExactFull; }
uint64_t WarmUpRounds(Shape s) {
  return s == Shape::kDefaultFull || s == Shape::kExactFull
             ? kFullWarmUpRounds
             : kGrowingWarmUpRounds;
}

absl::StatusOr<EngineConfig> ConfigFor(Shape shape) {
  ebb::v1::EbbConfig proto = DefaultConfig();
  if (IsExact(shape)) proto.mutable_window()->set_resolution("exact");
  return CompileConfig(proto);
}

// Does nothing with the results; counts them.
class CountingOutput : public Output {
 public:
  bool WantsMetrics() const override { return false; }
  void OnAlert(const ebb::v1::Alert& alert) override { ++alerts; }
  void OnDeadLetter(const DeadLetterView& dead_letter) override {
    ++dead_letters;
  }

  uint64_t alerts = 0;
  uint64_t dead_letters = 0;
};

// A warmed-up pipeline and its stream.
class PipelineFixture : public Fixture {
 public:
  PipelineFixture(Shape shape, int instruments)
      : stream_(instruments), clock_(kStart) {
    absl::StatusOr<EngineConfig> config = ConfigFor(shape);
    if (!config.ok()) {
      error_ = std::string(config.status().message());
      return;
    }
    absl::StatusOr<std::unique_ptr<Pipeline>> pipeline =
        Pipeline::Create(*std::move(config), &clock_, &output_);
    if (!pipeline.ok()) {
      error_ = std::string(pipeline.status().message());
      return;
    }
    pipeline_ = *std::move(pipeline);
    origin_.source = pipeline_->RegisterSource("bench");
    origin_.partition = 0;
    // Warm-up through OnPrice (nothing to serialize). Instrument i first gets
    // i % 128 events of its own (Stagger), so that the windows do not all
    // take a new ring block in the same round.
    uint64_t warm_up = 0;
    auto apply = [&](const DecodedEvent& e) {
      if (e.time > clock_.NowNs()) clock_.Set(e.time);
      pipeline_->OnPrice(stream_.symbol(e.symbol), e.time, e.price, origin_,
                         {});
      ++warm_up;
    };
    Stagger(&stream_, apply);
    const uint64_t rounds = WarmUpRounds(shape) * uint64_t(instruments);
    for (uint64_t k = 0; k < rounds; ++k) apply(stream_.Next());
    if (pipeline_->stats().total_rejected() != 0 ||
        pipeline_->stats().applied != warm_up) {
      error_ = "warm-up events were rejected";
    }
    Refill();
  }

  int instruments() const { return stream_.instruments(); }
  Pipeline& pipeline() { return *pipeline_; }
  uint64_t alerts() const { return output_.alerts; }
  bool exhausted() const { return batch_.exhausted(); }

  // The next batch; the clock moves to its latest event.
  void Refill() {
    batch_.Build(&stream_, /*serialize=*/true);
    clock_.Set(batch_.latest());
  }

  // The calls under test. REQUIRES: !exhausted().
  void ApplyEncoded() {
    ++origin_.offset;
    pipeline_->OnEncodedPrice(batch_.record(batch_.Take()), origin_);
  }
  // One record at a time with its key (the symbol, checked against the
  // event's), and the look-ahead hints OnPrices gives itself, here from the
  // keys of the records ahead in the batch.
  void ApplyHinted() {
    ++origin_.offset;
    const size_t i = batch_.Take();
    pipeline_->TEST_PrefetchAhead(i, batch_.size(),
                                  [this](size_t k) { return Key(k); });
    const absl::string_view key = Key(i);
    pipeline_->OnEncodedPrice(batch_.record(i), origin_, &key);
  }
  // As StreamRunner hands a partition's run over (PartitionTask::ProcessRun):
  // each record decoded once (the canonical decoder, its key checked), and
  // slices of up to kSlice records through OnPrices, which hints ahead
  // itself. One call per event: a slice goes over at the first call of its
  // events, so the events applied run ahead of the calls by less than a
  // slice.
  // A new case starts with no slice handed over ahead of its calls.
  void ForgetSlice() {
    slice_.clear();
    slice_pos_ = 0;
  }
  void ApplyBatched() {
    if (slice_pos_ == slice_.size()) {
      slice_.clear();
      slice_pos_ = 0;
      while (slice_.size() < kSlice && !batch_.exhausted()) {
        const size_t i = batch_.Take();
        const absl::string_view bytes = batch_.record(i);
        const absl::string_view key = Key(i);
        ++origin_.offset;
        Pipeline::PriceRecord record;
        if (!Pipeline::DecodeCanonicalRecord(bytes, origin_, &key, &record)) {
          error_ = "a record is not a canonical price with its key";
          return;
        }
        slice_.push_back(record);
      }
      pipeline_->OnPrices(slice_);
    }
    ++slice_pos_;
  }
  void ApplyDecoded() {
    ++origin_.offset;
    const size_t i = batch_.Take();
    const DecodedEvent& e = batch_.decoded(i);
    pipeline_->OnPrice(stream_.symbol(e.symbol), e.time, e.price, origin_,
                       batch_.record(i));
  }

 private:
  absl::string_view Key(size_t i) const {
    return stream_.symbol(batch_.decoded(i).symbol);
  }

  EventStream stream_;
  FakeClock clock_;
  CountingOutput output_;
  std::unique_ptr<Pipeline> pipeline_;
  Origin origin_;
  Batch batch_;
  static constexpr size_t kSlice = 256;
  std::vector<Pipeline::PriceRecord> slice_;
  size_t slice_pos_ = 0;
};

// N bare windows fed the same stream (no decode, no lookup, no rules).
class WindowsFixture : public Fixture {
 public:
  WindowsFixture(Shape shape, int instruments) : stream_(instruments) {
    absl::StatusOr<EngineConfig> config = ConfigFor(shape);
    if (!config.ok()) {
      error_ = std::string(config.status().message());
      return;
    }
    windows_.reserve(instruments);
    for (int i = 0; i < instruments; ++i) windows_.emplace_back(config->window);
    auto apply = [&](const DecodedEvent& e) {
      windows_[e.symbol].Add(e.time, e.price, &metrics_);
    };
    Stagger(&stream_, apply);
    const uint64_t rounds = WarmUpRounds(shape) * uint64_t(instruments);
    for (uint64_t k = 0; k < rounds; ++k) apply(stream_.Next());
    Refill();
  }

  int instruments() const { return stream_.instruments(); }
  bool exhausted() const { return batch_.exhausted(); }
  void Refill() { batch_.Build(&stream_, /*serialize=*/false); }
  void Apply() {
    const DecodedEvent& e = batch_.decoded(batch_.Take());
    windows_[e.symbol].Add(e.time, e.price, &metrics_);
  }
  const WindowMetrics& metrics() const { return metrics_; }

  size_t MemoryBytes() const {
    size_t total = 0;
    for (const DrawdownWindow& w : windows_) total += w.MemoryBytes();
    return total;
  }
  size_t Entries() const {
    size_t total = 0;
    for (const DrawdownWindow& w : windows_) total += w.entries();
    return total;
  }

 private:
  EventStream stream_;
  std::vector<DrawdownWindow> windows_;
  WindowMetrics metrics_;
  Batch batch_;
};

// The records alone, for BM_Decode.
class RecordsFixture : public Fixture {
 public:
  explicit RecordsFixture(int instruments) : stream_(instruments) { Refill(); }
  bool exhausted() const { return batch_.exhausted(); }
  void Refill() { batch_.Build(&stream_, /*serialize=*/true); }
  absl::string_view Next() { return batch_.record(batch_.Take()); }

 private:
  EventStream stream_;
  Batch batch_;
};

// -----------------------------------------------------------------------------
// The timed loop shared by the cases: one iteration is one event; batches are
// rebuilt with the timer paused. Returns the allocations made by the events.

// Backs the ring blocks one batch can take (see "First touch" above): a ring
// takes a block every kBlockSize entries, and an event adds at most one entry.
void PrefaultRingBlocks() {
  static const bool enabled = [] {
    const char* v = std::getenv("EBB_BENCH_PREFAULT");
    return v == nullptr || std::string(v) != "0";
  }();
  if (!enabled) return;
  const size_t blocks = kBatchEvents / ChunkedRing<int>::kBlockSize * 21 / 20;
  ChunkedRing<window_internal::BucketSlot,
              window_internal::BucketPoints>::PrefaultBlocks(blocks);
  ChunkedRing<window_internal::Entry>::PrefaultBlocks(blocks);
}

template <typename F, typename Step>
uint64_t TimedLoop(benchmark::State& state, F& fixture, Step step) {
  uint64_t allocations = 0;
  PrefaultRingBlocks();
  uint64_t a0 = Allocations();
  for (auto _ : state) {
    if (fixture.exhausted()) {
      allocations += Allocations() - a0;
      state.PauseTiming();
      fixture.Refill();
      PrefaultRingBlocks();
      state.ResumeTiming();
      a0 = Allocations();
    }
    step();
  }
  allocations += Allocations() - a0;
  state.SetItemsProcessed(state.iterations());
  state.counters["allocs_per_event"] = benchmark::Counter(
      static_cast<double>(allocations), benchmark::Counter::kAvgIterations);
  return allocations;
}

enum class Path { kEncoded, kHinted, kDecoded, kBatched };

// BM_Pipeline (kEncoded), BM_PipelineHinted (kHinted), BM_OnPrice
// (kDecoded) and BM_PipelineBatch (kBatched).
void BM_PipelineCase(benchmark::State& state, Shape shape, int instruments,
                     Path path) {
  PipelineFixture& f = GetFixture<PipelineFixture>(
      absl::StrCat("pipeline/", ShapeName(shape), "/", instruments),
      [&] { return std::make_unique<PipelineFixture>(shape, instruments); });
  if (!f.error().empty()) {
    state.SkipWithError(f.error().c_str());
    return;
  }
  auto step = [&f, path] {
    switch (path) {
      case Path::kEncoded:
        f.ApplyEncoded();
        break;
      case Path::kHinted:
        f.ApplyHinted();
        break;
      case Path::kDecoded:
        f.ApplyDecoded();
        break;
      case Path::kBatched:
        f.ApplyBatched();
        break;
    }
  };
  f.ForgetSlice();
  Pipeline& pipeline = f.pipeline();
  const PipelineStats before = pipeline.stats();
  const uint64_t alerts_before = f.alerts();
  TimedLoop(state, f, step);
  const PipelineStats& after = pipeline.stats();
  // A batched case applies a slice at the first call of its events.
  const uint64_t ahead = path == Path::kBatched ? 256 : 0;
  const uint64_t applied = after.applied - before.applied;
  const uint64_t calls = static_cast<uint64_t>(state.iterations());
  if (!f.error().empty() || after.total_rejected() != before.total_rejected() ||
      applied < calls || applied > calls + ahead) {
    state.SkipWithError("events were rejected or not applied");
    return;
  }
  const uint64_t alerts = f.alerts() - alerts_before;

  // Checked pass (untimed): do the events without an alert allocate?
  uint64_t nonalert_events = 0, nonalert_allocations = 0;
  for (int k = 0; k < kCheckedEvents; ++k) {
    if (f.exhausted()) f.Refill();
    const uint64_t alerts0 = f.alerts();
    const uint64_t allocs0 = Allocations();
    step();
    const uint64_t allocs1 = Allocations();
    if (f.alerts() == alerts0) {
      ++nonalert_events;
      nonalert_allocations += allocs1 - allocs0;
    }
  }

  state.counters["alerts_per_event"] = benchmark::Counter(
      static_cast<double>(alerts), benchmark::Counter::kAvgIterations);
  state.counters["allocs_nonalert"] =
      nonalert_events == 0 ? 0.0
                           : static_cast<double>(nonalert_allocations) /
                                 static_cast<double>(nonalert_events);
  const double entries = static_cast<double>(pipeline.WindowEntries());
  const double bytes = static_cast<double>(pipeline.WindowMemoryBytes());
  state.counters["entries_per_symbol"] = entries / instruments;
  state.counters["window_B_per_entry"] = bytes / entries;
  state.counters["window_MB"] = bytes / 1e6;
}

void BM_Windows(benchmark::State& state, Shape shape, int instruments) {
  WindowsFixture& f = GetFixture<WindowsFixture>(
      absl::StrCat("windows/", ShapeName(shape), "/", instruments),
      [&] { return std::make_unique<WindowsFixture>(shape, instruments); });
  if (!f.error().empty()) {
    state.SkipWithError(f.error().c_str());
    return;
  }
  TimedLoop(state, f, [&f] { f.Apply(); });
  benchmark::DoNotOptimize(f.metrics());
  const double entries = static_cast<double>(f.Entries());
  state.counters["entries_per_symbol"] = entries / instruments;
  state.counters["window_B_per_entry"] =
      static_cast<double>(f.MemoryBytes()) / entries;
}

// What OnEncodedPrice does before OnPrice: PriceEventDecoder, then the time.
void BM_Decode(benchmark::State& state, int instruments) {
  RecordsFixture& f = GetFixture<RecordsFixture>(
      absl::StrCat("records/", instruments),
      [&] { return std::make_unique<RecordsFixture>(instruments); });
  PriceEventDecoder decoder;
  DecodedPrice decoded;
  TimeNs sum = 0;
  bool ok = true;
  TimedLoop(state, f, [&] {
    ok &= decoder.Decode(f.Next(), &decoded);
    const absl::StatusOr<TimeNs> time =
        FromSecondsAndNanos(decoded.seconds, decoded.nanos);
    ok &= time.ok();
    sum += time.ok() ? *time : 0;
  });
  benchmark::DoNotOptimize(sum);
  if (!ok) state.SkipWithError("a record did not decode");
}

// For comparison: libprotobuf's ParseFromArray into a reused message.
void BM_DecodeLibprotobuf(benchmark::State& state, int instruments) {
  RecordsFixture& f = GetFixture<RecordsFixture>(
      absl::StrCat("records/", instruments),
      [&] { return std::make_unique<RecordsFixture>(instruments); });
  ebb::v1::PriceEvent decoded;
  TimeNs sum = 0;
  bool ok = true;
  TimedLoop(state, f, [&] {
    const absl::string_view record = f.Next();
    ok &=
        decoded.ParseFromArray(record.data(), static_cast<int>(record.size()));
    const absl::StatusOr<TimeNs> time = FromTimestamp(decoded.event_time());
    ok &= time.ok();
    sum += time.ok() ? *time : 0;
  });
  benchmark::DoNotOptimize(sum);
  if (!ok) state.SkipWithError("a record did not parse");
}

// -----------------------------------------------------------------------------

struct ShapeSize {
  Shape shape;
  int instruments;
};

constexpr ShapeSize kShapes[] = {
    {Shape::kDefault, 5'000},   {Shape::kDefault, 50'000},
    {Shape::kExact, 5'000},     {Shape::kExact, 50'000},
    {Shape::kDefaultFull, 500}, {Shape::kExactFull, 500},
};

// In this order, so that the cases sharing a fixture run one after another.
void RegisterAll() {
  for (const ShapeSize& s : kShapes) {
    const std::string suffix =
        absl::StrCat("/", ShapeName(s.shape), "/", s.instruments);
    benchmark::RegisterBenchmark(("BM_Pipeline" + suffix).c_str(),
                                 BM_PipelineCase, s.shape, s.instruments,
                                 Path::kEncoded);
    benchmark::RegisterBenchmark(("BM_PipelineHinted" + suffix).c_str(),
                                 BM_PipelineCase, s.shape, s.instruments,
                                 Path::kHinted);
    benchmark::RegisterBenchmark(("BM_OnPrice" + suffix).c_str(),
                                 BM_PipelineCase, s.shape, s.instruments,
                                 Path::kDecoded);
    benchmark::RegisterBenchmark(("BM_PipelineBatch" + suffix).c_str(),
                                 BM_PipelineCase, s.shape, s.instruments,
                                 Path::kBatched);
  }
  for (const ShapeSize& s : kShapes) {
    const std::string suffix =
        absl::StrCat("/", ShapeName(s.shape), "/", s.instruments);
    benchmark::RegisterBenchmark(("BM_Windows" + suffix).c_str(), BM_Windows,
                                 s.shape, s.instruments);
  }
  benchmark::RegisterBenchmark("BM_Decode/5000", BM_Decode, 5'000);
  benchmark::RegisterBenchmark("BM_DecodeLibprotobuf/5000",
                               BM_DecodeLibprotobuf, 5'000);
}

}  // namespace
}  // namespace ebb

int main(int argc, char** argv) {
  ebb::RegisterAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
