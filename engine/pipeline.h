#pragma once

// The engine: decode/validate -> order -> window -> rules -> outputs, for every
// symbol.
//
// Pipeline is the one place that turns input records into metrics, alerts and
// dead letters. It does no I/O: connectors hand it records and it pushes
// results to an Output. A streaming runtime owns consume -> Pipeline -> produce
// -> commit around it. Not thread-safe: one Pipeline per thread (per partition
// set).

#include <array>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "base/clock.h"
#include "base/short_bytes.h"
#include "ebb/v1/alert.pb.h"
#include "ebb/v1/dead_letter.pb.h"
#include "ebb/v1/events.pb.h"
#include "ebb/v1/metrics.pb.h"
#include "ebb/v1/state.pb.h"
#include "engine/config.h"
#include "engine/price_event_codec.h"
#include "engine/symbol_state.h"
#include "engine/validate.h"
#include "window/huge_pages.h"

namespace ebb {

// A rejected record, as handed to Output::OnDeadLetter. `detail` and `symbol`
// are valid UTF-8 (bytes that are not are escaped as \xNN,
// EscapeInvalidUtf8); `original` holds the record's bytes as they were.
struct DeadLetterView {
  ebb::v1::RejectReason reason;
  absl::string_view detail;
  absl::string_view original;  // the original bytes
  absl::string_view symbol;    // may be empty
  Origin origin;
};

// An applied event and its metrics, as handed to Output::OnMetrics.
struct MetricsView {
  absl::string_view symbol;
  TimeNs time;
  double price;
  const WindowMetrics* metrics;
  TimeNs window_length;
};

// Where results go. Implementations: JSON-lines and protobuf sinks
// (connectors/), Kafka producers, test collectors.
class Output {
 public:
  virtual ~Output() = default;
  // Called for every applied event when WantsMetrics() is true.
  virtual bool WantsMetrics() const { return false; }
  virtual void OnMetrics(const MetricsView& metrics) {}
  virtual void OnAlert(const ebb::v1::Alert& alert) {}
  virtual void OnDeadLetter(const DeadLetterView& dead_letter) {}
};

struct PipelineStats {
  // Every record handed to the pipeline: received == applied + news + rejected
  // + pending.
  uint64_t received = 0;
  uint64_t applied = 0;  // price events applied to a window
  uint64_t news = 0;     // news records accepted
  std::array<uint64_t, ebb::v1::RejectReason_ARRAYSIZE> rejected{};
  std::array<uint64_t, ebb::v1::Transition_ARRAYSIZE> alerts{};
  uint64_t symbols = 0;  // distinct symbols given a state
  // States freed after their symbol went quiet, and events of such a symbol
  // that found their window restarted although its last event was less than
  // a window before them (see Pipeline, "Memory").
  uint64_t freed = 0;
  uint64_t restarted = 0;
  // Records of quiet symbols dropped to stay within max_symbols (oldest
  // first): such a symbol's next event starts it afresh.
  uint64_t forgotten = 0;

  uint64_t total_rejected() const;
  uint64_t total_alerts() const;
  // Adds every counter of `other` (per-partition pipelines summed).
  void Add(const PipelineStats& other);
};

class Pipeline {
 public:
  // Validates nothing more (the config is compiled); `clock` and `output` must
  // outlive it.
  static absl::StatusOr<std::unique_ptr<Pipeline>> Create(EngineConfig config,
                                                          const Clock* clock,
                                                          Output* output);

  // Registers a source name (file path or topic) for provenance; returns its
  // index.
  uint32_t RegisterSource(std::string name);
  const std::string& source_name(uint32_t index) const {
    return sources_[index];
  }

  // A decoded price record. `original` is the record's bytes for the
  // dead-letter output.
  void OnPrice(absl::string_view symbol, TimeNs time, double price,
               const Origin& origin, absl::string_view original,
               absl::string_view event_id = {});

  // A serialized ebb.v1.PriceEvent (binary files, Kafka values): decode, then
  // OnPrice. With `key` (a Kafka message key), an event whose symbol differs
  // from the key is rejected as KEY_MISMATCH.
  void OnEncodedPrice(absl::string_view bytes, const Origin& origin,
                      const absl::string_view* key = nullptr);

  // A decoded price record, as OnPrice takes it; the views must stay valid
  // for the call that hands it over.
  struct PriceRecord {
    absl::string_view symbol;
    TimeNs time = 0;
    double price = 0;
    Origin origin;
    absl::string_view original;
    absl::string_view event_id;
  };

  // The record OnEncodedPrice would hand to OnPrice, when `bytes` is a
  // canonical ebb.v1.PriceEvent (PriceEventDecoder::DecodeCanonical) with a
  // valid event time and, with `key`, the key as its symbol: *out is filled
  // (its views point into `bytes`) and true returned. False: the bytes need
  // OnEncodedPrice (libprotobuf's decode, or a rejection with its reason).
  static bool DecodeCanonicalRecord(absl::string_view bytes,
                                    const Origin& origin,
                                    const absl::string_view* key,
                                    PriceRecord* out);

  // A batch of decoded price records, each handed over as by OnPrice, in
  // order; the results are those of OnPrice record by record. `stop()` is
  // asked after each record, and true ends the batch there (a strict replay
  // stops at its first rejection). Returns the number of records handed
  // over.
  //
  // Look-ahead: with thousands of symbols interleaved, a symbol's state and
  // the ring slots its next event touches are cache misses. The batch says
  // which symbols come next, so the engine loads them ahead, overlapping the
  // misses with the work on the records before (see "Hints" below).
  template <typename Stop>
  size_t OnPrices(absl::Span<const PriceRecord> batch, Stop stop);
  size_t OnPrices(absl::Span<const PriceRecord> batch) {
    return OnPrices(batch, [] { return false; });
  }

  // Test hook: the hint OnPrices gives itself before handing record i of a
  // batch of `count` over, from what the caller believes the symbols ahead
  // are (symbol_at(k), empty: no hint), for a caller that then hands the
  // record over alone. Tests check with it that wrong hints leave the
  // results unchanged; the prefetch benchmarks measure the hints with it.
  template <typename SymbolAt>
  void TEST_PrefetchAhead(size_t i, size_t count, SymbolAt symbol_at) {
    PrefetchAhead(i, count, symbol_at);
  }

  // Test hook: the window memory below which the hints are skipped
  // (kHintMinWindowBytes); tests set 0, so that small pipelines exercise
  // them.
  void TEST_set_hint_min_window_bytes(size_t bytes) {
    hint_min_window_bytes_ = bytes;
  }

  // A news record: validated (NewsValidator: the same rules and reasons as
  // prices), then counted (kept for the news join) or rejected. `original` is
  // the record's bytes for the dead-letter output.
  void OnNews(const ebb::v1::NewsEvent& news, const Origin& origin,
              absl::string_view original);

  // A serialized ebb.v1.NewsEvent (binary files, Kafka values): decode
  // (DecodeNewsEvent), then OnNews.
  void OnEncodedNews(absl::string_view bytes, const Origin& origin);

  // A record a connector could not decode (counted as received and rejected).
  void OnUndecodable(ebb::v1::RejectReason reason, absl::string_view detail,
                     absl::string_view original, absl::string_view symbol,
                     const Origin& origin);

  // End of input: applies every event still waiting in reorder buffers, in
  // (event time, arrival) order across symbols.
  void Flush();

  // Number of events waiting in reorder buffers.
  uint64_t pending() const;

  const PipelineStats& stats() const { return stats_; }
  const EngineConfig& config() const { return config_; }
  // Sum of window memory over all symbols.
  size_t WindowMemoryBytes() const;
  size_t WindowEntries() const;

  // Memory. A symbol's state (reorder buffer, window, episodes) is freed once
  // the symbol has gone quiet: its newest event is more than window.length +
  // allowed_lateness older than the newest event time the engine has
  // accepted (event time, never the wall clock). Events of it still in the
  // reorder buffer are applied first. For any later event that is at most
  // allowed_lateness behind that newest time, the old window would have been
  // empty, so what the symbol's next event needs fits a small record
  // (QuietSymbol): the time and price of its last event (for the lateness
  // check, `change` and `full_window`) and its alert episodes if one is open.
  // That event gets a new state that carries on from the record, with the
  // metrics and alerts of an uninterrupted run. (An event further behind the
  // newest time than allowed_lateness, of a symbol freed less than a window
  // after its last event in the symbol's own time, would find its window
  // restarted, and with allowed_lateness > 0 it could find buffered events
  // applied already: the ways freeing can change a result. The first is
  // counted in stats().restarted.) A state is also kept while one of the
  // last kQuietRecords records was an event of its symbol, so that a symbol
  // whose events keep coming, however far behind the others in event time
  // (a backfill), keeps its window. A sweep checks one live state every
  // kSweepEvery accepted events, round robin over live_: a quiet state is
  // freed within kSweepEvery * live_symbols() events, at O(1) per event.
  static constexpr uint64_t kQuietRecords = 4096;
  static constexpr uint64_t kSweepEvery = 4;
  // max_symbols bounds the symbols the engine remembers: those with a state
  // and the records of quiet ones. A new symbol at the bound takes the place
  // of the quiet record freed first (counted in stats().forgotten), or, when
  // every remembered symbol has a state, is a dead letter (SYMBOL_LIMIT).
  // Symbols with a state.
  size_t live_symbols() const { return symbols_.size(); }
  // Symbols freed and not seen since.
  size_t quiet_symbols() const { return quiet_.size(); }
  // State as data (proto/ebb/v1/state.proto, docs/state.md; snapshot.cc).
  // The engine's whole state: every symbol's state in the sweep's order, the
  // quiet records, the counters. `position` is left to the caller. Every
  // state counts as unchanged afterwards, and from the first snapshot on the
  // engine records which symbols change.
  void Snapshot(ebb::v1::EngineSnapshot* out);
  // A delta (out->delta() true): the states changed since the previous
  // Snapshot or SnapshotChanged, the quiet records made since, and the
  // symbols that left both; ApplySnapshotDelta (snapshot.h) applied to the
  // previous full snapshot gives Snapshot()'s. A delta follows a Snapshot or
  // a Restore (before either, the engine has recorded no departures). Costs
  // O(live symbols) for the scan of the changed flags plus the changed
  // states' size.
  void SnapshotChanged(ebb::v1::EngineSnapshot* out);
  // Loads a full snapshot (CheckEngineSnapshot's checks, then every symbol's)
  // into this engine, which must have received no record and have the
  // snapshot's window options and lateness. Pending events' sources are
  // matched to RegisterSource's names (registered when new). On error the
  // engine is unchanged.
  absl::Status Restore(const ebb::v1::EngineSnapshot& snapshot);

  // Test hooks: false keeps every state (the sweep never frees one), for
  // tests that compare a run with and without freeing; the records a quiet
  // symbol's state is kept for (kQuietRecords).
  void TEST_set_free_quiet_symbols(bool free) { free_quiet_ = free; }
  void TEST_set_quiet_records(uint64_t records) { quiet_records_ = records; }

 private:
  Pipeline(EngineConfig config, const Clock* clock, Output* output);

  void Reject(ebb::v1::RejectReason reason, absl::string_view detail,
              absl::string_view original, absl::string_view symbol,
              const Origin& origin);
  // The symbol's state, created on its first event; null when it has none
  // and config_.max_symbols symbols already have one.
  SymbolState* StateFor(absl::string_view symbol, TimeNs time);
  // States live in pool blocks (on huge pages, like the windows' blocks) and
  // the map holds pointers: a state never moves, the map's slots are small,
  // and a freed state's memory goes to the next new symbol.
  struct StateDeleter {
    void operator()(SymbolState* state) const;
  };
  using StatePtr = std::unique_ptr<SymbolState, StateDeleter>;
  // A symbol's entry in symbols_ as found by a hint: usable while
  // generation_ is unchanged (an insert may move every entry, and a freed
  // state takes its entry with it), and only for that symbol (Matches checks
  // both).
  using Entry = std::pair<const std::string, StatePtr>;
  struct Lookup {
    Entry* entry = nullptr;
    uint64_t generation = 0;
  };
  bool Matches(const Lookup& lookup, absl::string_view symbol) const {
    return lookup.entry != nullptr && lookup.generation == generation_ &&
           SameBytes(lookup.entry->first, symbol);
  }
  // Hints. Before handing record i of a batch over, the engine hints the
  // state of record i + kPrefetchStateAhead and the window of record
  // i + kPrefetchWindowAhead (by then its state is cached, so the window's
  // positions can be read without a stall); a batch starts by hinting the
  // states and windows of its first records. A window hint works in two
  // steps: it loads the window's block-table entries, and kPrefetchSlotsLag
  // hints later (the entries now cached) the ring slots they locate.
  //
  // The lookups the hints make are kept by k % kLookups, and record i's is
  // reused by its window hint and by the call that hands record i over,
  // instead of hashing the symbol again. A lookup is only used for the
  // symbol it found and while no symbol has been inserted since (Matches),
  // so any i is correct; but it is only reused when i counts records.
  //
  // The hints only pay when the windows are larger than the caches: below
  // kHintMinWindowBytes of window memory in the process
  // (BlockPool::LiveBytes()) there are none, and each record is looked up
  // when it is handed over (docs/performance.md, "Look-ahead hints").
  static constexpr size_t kPrefetchStateAhead = 16;
  static constexpr size_t kPrefetchWindowAhead = 8;
  static constexpr size_t kPrefetchSlotsLag = 4;
  static constexpr size_t kHintMinWindowBytes = size_t{32} << 20;
  // The hints before record i of `batch` is handed over.
  void HintBatch(absl::Span<const PriceRecord> batch, size_t i);
  // The hints for record i of a batch of `count`: symbol_at(k) is the
  // symbol of record k, or empty when it is not known (no hint for that
  // record). See "Hints" below.
  template <typename SymbolAt>
  void PrefetchAhead(size_t i, size_t count, SymbolAt symbol_at) {
    if (BlockPool::LiveBytes() < hint_min_window_bytes_) {
      next_lookup_ = nullptr;
      return;
    }
    if (i + kPrefetchStateAhead < count) {
      const size_t k = i + kPrefetchStateAhead;
      const absl::string_view s = symbol_at(k);
      if (!s.empty()) lookups_[k % kLookups] = PrefetchStateLookup(s);
    }
    if (i + kPrefetchWindowAhead < count) {
      const size_t k = i + kPrefetchWindowAhead;
      const absl::string_view s = symbol_at(k);
      if (!s.empty()) PrefetchWindowLookup(s, &lookups_[k % kLookups]);
    }
    next_lookup_ = &lookups_[i % kLookups];
  }

  Lookup PrefetchStateLookup(absl::string_view symbol);
  void PrefetchWindowLookup(absl::string_view symbol, Lookup* lookup);
  void PrefetchWindowOf(const SymbolState* state);
  void Apply(SymbolState& state, absl::string_view symbol, TimeNs time,
             double price, const Origin& origin, absl::string_view event_id);
  void Release(SymbolState& state, absl::string_view symbol, TimeNs watermark);
  // A new state for `symbol`, carrying on from its QuietSymbol record if it
  // has one.
  StatePtr NewState(absl::string_view symbol, TimeNs time);
  // A state for `symbol` that has seen nothing.
  StatePtr MakeState(absl::string_view symbol) const;
  // One step of the sweep (see "Memory" above).
  void SweepQuietSymbols();
  void FreeState(uint32_t live_index);

  EngineConfig config_;
  PriceValidator validator_;
  NewsValidator news_validator_;
  Output* output_;
  std::vector<std::string> sources_;
  // The table is read at random on every event: on huge pages where the
  // system has them (window/huge_pages.h). The hash is the map's default,
  // spelled out to reach the allocator argument; the equality compares short
  // keys without a memcmp call (base/short_bytes.h). Both take
  // string_view, so lookups build no std::string.
  absl::flat_hash_map<std::string, StatePtr,
                      absl::container_internal::hash_default_hash<std::string>,
                      SameBytesEq, HugePageAllocator<Entry>>
      symbols_;
  // The states in symbols_, in the sweep's order (each knows its index).
  std::vector<SymbolState*> live_;
  size_t sweep_next_ = 0;
  // What a freed state's next event needs (see "Memory" above).
  struct QuietSymbol {
    TimeNs last_applied;
    double last_price;
    std::vector<AlertEpisode> episodes;  // empty when none was open
    uint64_t freed_as = 0;               // its place in quiet_order_
  };
  absl::flat_hash_map<std::string, QuietSymbol> quiet_;
  // The records in the order they were made, as (symbol, freed_as); an entry
  // whose record is gone or newer is skipped (and compacted away).
  std::deque<std::pair<std::string, uint64_t>> quiet_order_;
  uint64_t quiet_made_ = 0;
  // Drops the oldest quiet record. REQUIRES: !quiet_.empty().
  void ForgetOldestQuietSymbol();
  bool free_quiet_ = true;
  // Snapshots: the header and counters of `out`, and the symbols that lost
  // their state or quiet record since the last snapshot (recorded once a
  // snapshot has been taken: a replay that takes none keeps no such list).
  void SnapshotHeader(bool delta, ebb::v1::EngineSnapshot* out) const;
  // An entry of quiet_ (stable while quiet_ is not changed).
  using QuietEntry = const std::pair<const std::string, QuietSymbol>*;
  // The snapshot's quiet records, sorted here, then its end; tracks changes
  // from now on.
  void FinishSnapshot(std::vector<QuietEntry> quiet,
                      ebb::v1::EngineSnapshot* out);
  void QuietSnapshot(const std::string& symbol, const QuietSymbol& q,
                     ebb::v1::QuietSymbolSnapshot* out) const;
  void NoteChangedAway(absl::string_view symbol) {
    if (track_changes_) changed_away_.emplace(symbol);
  }
  bool track_changes_ = false;
  absl::flat_hash_set<std::string> changed_away_;
  // The newest event time accepted (applied or buffered), and how long a
  // symbol must have been quiet before it to be freed.
  TimeNs newest_time_ = std::numeric_limits<TimeNs>::min();
  TimeNs quiet_after_;
  uint64_t quiet_records_ = kQuietRecords;
  // The state of the previous event's symbol: runs of one symbol skip the hash
  // lookup.
  const std::string* last_symbol_ = nullptr;  // the map's key
  SymbolState* last_state_ = nullptr;
  // A window hint's second step: the states of the last kPrefetchSlotsLag
  // window hints, valid while generation_ (bumped by every symbol insert, which
  // may move the states) is unchanged.
  struct PendingPrefetch {
    const SymbolState* state = nullptr;
    uint64_t generation = 0;
  };
  std::array<PendingPrefetch, kPrefetchSlotsLag> pending_prefetch_{};
  size_t next_prefetch_ = 0;
  uint64_t generation_ = 0;
  // PrefetchAhead's lookups by record (k % kLookups), and record i's for the
  // call that hands it over (consumed by StateFor).
  static constexpr size_t kLookups = 32;
  static_assert(kLookups > kPrefetchStateAhead);
  std::array<Lookup, kLookups> lookups_{};
  const Lookup* next_lookup_ = nullptr;
  size_t hint_min_window_bytes_ = kHintMinWindowBytes;
  PipelineStats stats_;
  uint64_t arrivals_ = 0;
  // Scratch, reused so the per-event path does not allocate.
  WindowMetrics metrics_;
  std::string detail_;
  PriceEventDecoder decoder_;
  ebb::v1::NewsEvent news_;
  ebb::v1::Alert alert_;
};

template <typename Stop>
size_t Pipeline::OnPrices(absl::Span<const PriceRecord> batch, Stop stop) {
  for (size_t i = 0; i < batch.size(); ++i) {
    HintBatch(batch, i);
    const PriceRecord& r = batch[i];
    OnPrice(r.symbol, r.time, r.price, r.origin, r.original, r.event_id);
    if (stop()) return i + 1;
  }
  return batch.size();
}

}  // namespace ebb
