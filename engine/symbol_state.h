#pragma once

// Everything ebb keeps for one symbol: the order stage's reorder buffer, the
// window and the alert episodes. Snapshot() and Restore() turn it into data
// and back (ebb.v1.SymbolSnapshot, engine/snapshot.cc); changed() tells
// whether it may differ from its last snapshot.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ebb/v1/state.pb.h"
#include "engine/alert_rules.h"
#include "engine/config.h"
#include "window/drawdown_window.h"
#include "window/prefetch.h"

namespace ebb {

// Where a record came from: a registered source (file or topic), partition and
// offset.
struct Origin {
  uint32_t source = 0;
  int32_t partition = -1;  // -1: not a Kafka record
  int64_t offset = 0;      // Kafka offset, 1-based line, or byte offset
};

// An event waiting in the reorder buffer (allowed_lateness > 0).
struct PendingPrice {
  TimeNs time;
  uint64_t arrival;  // ties keep arrival order
  double price;
  Origin origin;
  std::string event_id;
};

class SymbolState {
 public:
  // Inline for the usual handful of rules: the per-event path touches no extra
  // heap lines.
  using RuleIndices = absl::InlinedVector<uint16_t, 4>;
  using Episodes = absl::InlinedVector<AlertEpisode, 4>;

  SymbolState(absl::string_view symbol, const WindowOptions& window,
              RuleIndices rules)
      : rules_(std::move(rules)),
        episodes_(rules_.size()),
        window_(window),
        symbol_(symbol) {}

  const std::string& symbol() const { return symbol_; }

  // A hint: starts loading this state's cache lines (up to its window's ring).
  void Prefetch() const {
    constexpr uintptr_t kLine = 64;
    const uintptr_t begin = reinterpret_cast<uintptr_t>(this) & ~(kLine - 1);
    const uintptr_t end = reinterpret_cast<uintptr_t>(&pending_);
    for (uintptr_t line = begin; line < end; line += kLine) {
      PrefetchLine(reinterpret_cast<const void*>(line));
    }
  }

  DrawdownWindow& window() { return window_; }
  const DrawdownWindow& window() const { return window_; }
  const RuleIndices& rules() const {
    return rules_;
  }  // indices of matching rules
  Episodes& episodes() { return episodes_; }

  bool has_applied() const { return has_applied_; }
  TimeNs last_applied() const { return last_applied_; }
  void MarkApplied(TimeNs time) {
    has_applied_ = true;
    last_applied_ = time;
  }

  // The reorder buffer: a min-heap on (time, arrival).
  TimeNs newest_seen() const { return newest_seen_; }
  // An event at `time`, the engine's `record`-th (Pipeline's count of
  // records received). Marks the state changed: every change to it starts
  // here, or in the Pipeline's Flush and sweep, which mark it themselves.
  void Observe(TimeNs time, uint64_t record) {
    newest_seen_ = seen_any_ ? std::max(newest_seen_, time) : time;
    seen_any_ = true;
    changed_ = true;
    seen_at_ = record;
  }
  void Buffer(PendingPrice p) {
    pending_.push_back(std::move(p));
    std::push_heap(pending_.begin(), pending_.end(), Later);
  }
  bool HasPendingAtOrBefore(TimeNs t) const {
    return !pending_.empty() && pending_[0].time <= t;
  }
  bool HasPending() const { return !pending_.empty(); }
  // REQUIRES: HasPending().
  const PendingPrice& OldestPending() const { return pending_[0]; }
  PendingPrice PopOldest() {
    std::pop_heap(pending_.begin(), pending_.end(), Later);
    PendingPrice p = std::move(pending_.back());
    pending_.pop_back();
    return p;
  }
  size_t pending() const { return pending_.size(); }

  // Pipeline's sweep: whether every event seen is more than `quiet` older
  // than `newest` (the engine's newest event time) and the last one came more
  // than `records` records before `record` (the engine's count).
  bool QuietFor(TimeNs newest, TimeNs quiet, uint64_t record,
                uint64_t records) const {
    return seen_any_ && newest - newest_seen_ > quiet &&
           record - seen_at_ > records;
  }
  // Where the state is in the Pipeline's list of live states.
  uint32_t live_index() const { return live_index_; }
  void set_live_index(uint32_t i) { live_index_ = i; }

  // Whether the state may differ from its last snapshot: set by Observe (so
  // by every accepted event), cleared by the Pipeline's snapshots.
  bool changed() const { return changed_; }
  void set_changed(bool changed) { changed_ = changed; }

  // The state as data. Episodes are named by rule (`rules`: the engine's, by
  // index) and pending events by source (`sources`: the engine's names).
  void Snapshot(const std::vector<RuleSpec>& rules,
                const std::vector<std::string>& sources,
                ebb::v1::SymbolSnapshot* out) const;
  // Loads `in` into this state, constructed for in.symbol() and `config` and
  // given no event. `source_index` maps a pending event's source name to the
  // engine's index; `records` and `arrivals` are the engine's counts, which
  // the state's own cannot exceed. An error names the field; the state is
  // then unspecified (the caller discards it).
  absl::Status Restore(
      const ebb::v1::SymbolSnapshot& in, const EngineConfig& config,
      const absl::flat_hash_map<std::string, uint32_t>& source_index,
      uint64_t records, uint64_t arrivals);

 private:
  static bool Later(const PendingPrice& a, const PendingPrice& b) {
    return a.time != b.time ? a.time > b.time : a.arrival > b.arrival;
  }

  // The small per-event fields first, beside the map's key: with thousands of
  // symbols every cache line of a state is a likely miss.
  bool has_applied_ = false;
  bool seen_any_ = false;
  bool changed_ = false;
  TimeNs last_applied_ = 0;
  TimeNs newest_seen_ = 0;
  uint64_t seen_at_ = 0;
  RuleIndices rules_;
  Episodes episodes_;
  DrawdownWindow window_;
  std::vector<PendingPrice> pending_;
  // Read by the sweep and when the state is freed, not per event.
  uint32_t live_index_ = 0;
  std::string symbol_;
};

}  // namespace ebb
