// Snapshot and restore of a symbol's state and of the engine
// (proto/ebb/v1/state.proto, docs/state.md). The window's are in
// window_snapshot.cc.

#include "engine/snapshot.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "engine/pipeline.h"
#include "engine/symbol_state.h"
#include "engine/validate.h"

namespace ebb {

namespace {

// Times in a snapshot stay within +-2^62 ns (1824 to 2116): far enough from
// the ends of TimeNs that the engine's sums and differences of times and
// windows cannot overflow.
constexpr TimeNs kTimeBound = TimeNs{1} << 62;
bool InRange(TimeNs t) { return t >= -kTimeBound && t <= kTimeBound; }
bool PositiveFinite(double x) { return std::isfinite(x) && x > 0; }

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// `status` with `context` before its message.
absl::Status InContext(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(context, status.message()));
}

std::string SymbolContext(absl::string_view list, int k,
                          absl::string_view symbol) {
  return absl::StrCat(list, "[", k, "] (\"", absl::CHexEscape(symbol), "\"): ");
}

bool IsDefault(const AlertEpisode& e) {
  return !e.active && e.reached == -1 && e.start == 0;
}

void EpisodeToProto(const std::string& rule, const AlertEpisode& e,
                    ebb::v1::EpisodeSnapshot* out) {
  out->set_rule(rule);
  out->set_active(e.active);
  out->set_reached(e.reached);
  out->set_start(e.start);
}

// The episodes of a symbol whose rules (indices into config.rules) are
// `rules`: out[i] is rules[i]'s, default when `in` has none for it.
absl::Status EpisodesFromProto(
    const google::protobuf::RepeatedPtrField<ebb::v1::EpisodeSnapshot>& in,
    const EngineConfig& config, const SymbolState::RuleIndices& rules,
    AlertEpisode* out) {
  std::vector<bool> seen(rules.size(), false);
  for (int k = 0; k < in.size(); ++k) {
    const ebb::v1::EpisodeSnapshot& e = in[k];
    const std::string field = absl::StrCat("episodes[", k, "]");
    size_t i = 0;
    while (i < rules.size() && config.rules[rules[i]].name != e.rule()) ++i;
    if (i == rules.size()) {
      return Invalid(absl::StrCat(field, ".rule"),
                     absl::StrCat("\"", absl::CHexEscape(e.rule()),
                                  "\" is not a rule of this engine that "
                                  "matches the symbol"));
    }
    if (seen[i]) {
      return Invalid(absl::StrCat(field, ".rule"),
                     absl::StrCat("a second episode of \"", e.rule(), "\""));
    }
    seen[i] = true;
    const int levels =
        static_cast<int>(config.rules[rules[i]].thresholds.size());
    if (e.reached() < -1 || e.reached() >= levels ||
        (e.active() && e.reached() < 0)) {
      return Invalid(absl::StrCat(field, ".reached"),
                     absl::StrCat(e.reached(), " is not a level of rule \"",
                                  e.rule(), "\" (", levels, " levels)",
                                  e.active() ? " for an open episode" : ""));
    }
    if (!InRange(e.start())) {
      return Invalid(absl::StrCat(field, ".start"),
                     absl::StrCat(e.start(), " is out of range"));
    }
    out[i] = AlertEpisode{e.active(), e.reached(), e.start()};
  }
  return absl::OkStatus();
}

SymbolState::RuleIndices MatchingRules(const EngineConfig& config,
                                       absl::string_view symbol) {
  SymbolState::RuleIndices rules;
  for (size_t i = 0; i < config.rules.size(); ++i) {
    if (config.rules[i].Matches(symbol))
      rules.push_back(static_cast<uint16_t>(i));
  }
  return rules;
}

}  // namespace

void SymbolState::Snapshot(const std::vector<RuleSpec>& rules,
                           const std::vector<std::string>& sources,
                           ebb::v1::SymbolSnapshot* out) const {
  out->Clear();
  out->set_symbol(symbol_);
  out->set_live_index(live_index_);
  if (has_applied_) out->set_last_applied(last_applied_);
  if (seen_any_) out->set_newest_seen(newest_seen_);
  out->set_seen_at(seen_at_);
  window_.Snapshot(out->mutable_window());
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (IsDefault(episodes_[i])) continue;
    EpisodeToProto(rules[rules_[i]].name, episodes_[i], out->add_episodes());
  }
  std::vector<const PendingPrice*> pending;
  pending.reserve(pending_.size());
  for (const PendingPrice& p : pending_) pending.push_back(&p);
  std::sort(pending.begin(), pending.end(),
            [](const PendingPrice* a, const PendingPrice* b) {
              return Later(*b, *a);
            });
  for (const PendingPrice* pending_price : pending) {
    const PendingPrice& p = *pending_price;
    ebb::v1::PendingPriceSnapshot* q = out->add_pending();
    q->set_time(p.time);
    q->set_arrival(p.arrival);
    q->set_price(p.price);
    q->set_source(sources[p.origin.source]);
    q->set_partition(p.origin.partition);
    q->set_offset(p.origin.offset);
    q->set_event_id(p.event_id);
  }
}

absl::Status SymbolState::Restore(
    const ebb::v1::SymbolSnapshot& in, const EngineConfig& config,
    const absl::flat_hash_map<std::string, uint32_t>& source_index,
    uint64_t records, uint64_t arrivals) {
  absl::StatusOr<DrawdownWindow> window =
      DrawdownWindow::Restore(config.window, in.window());
  if (!window.ok()) return InContext(window.status(), "window.");
  has_applied_ = in.has_last_applied();
  last_applied_ = in.last_applied();
  seen_any_ = in.has_newest_seen();
  newest_seen_ = in.newest_seen();
  seen_at_ = in.seen_at();
  if (!InRange(last_applied_) || !InRange(newest_seen_)) {
    return Invalid("last_applied", "a time out of range");
  }
  if (has_applied_ && !(seen_any_ && newest_seen_ >= last_applied_)) {
    return Invalid("newest_seen", "unset or before last_applied");
  }
  if (seen_at_ > records) {
    return Invalid("seen_at", absl::StrCat(seen_at_, " is after the engine's ",
                                           records, " records"));
  }
  const ebb::v1::WindowSnapshot& w = in.window();
  if ((window->entries() > 0 || w.evicted_any()) && !has_applied_) {
    return Invalid("last_applied", "unset, but the window holds history");
  }
  if (window->entries() > 0) {
    const TimeNs newest = window->NewestEntryTime();
    const TimeNs want = config.window.resolution == 0
                            ? last_applied_
                            : FloorTo(last_applied_, config.window.resolution);
    if (newest != want) {
      return Invalid("window",
                     absl::StrCat("the newest entry is at ", newest,
                                  ", not at last_applied (", want, ")"));
    }
    if (w.first_time() <= last_applied_ - config.window.length) {
      return Invalid("window.first_time",
                     absl::StrCat(w.first_time(),
                                  " is a window or more before last_applied"));
    }
  }
  RETURN_IF_ERROR(
      EpisodesFromProto(in.episodes(), config, rules_, episodes_.data()));
  if (in.pending_size() > 0 && config.allowed_lateness == 0) {
    return Invalid("pending", "events waiting although allowed_lateness is 0");
  }
  absl::flat_hash_set<uint64_t> arrival_seen;
  for (int k = 0; k < in.pending_size(); ++k) {
    const ebb::v1::PendingPriceSnapshot& p = in.pending(k);
    const std::string field = absl::StrCat("pending[", k, "]");
    if (!PositiveFinite(p.price())) {
      return Invalid(
          absl::StrCat(field, ".price"),
          absl::StrCat(p.price(), " is not a finite positive price"));
    }
    // Waiting: at or after the newest applied event, after the watermark,
    // not after the newest seen.
    if (!seen_any_ || p.time() > newest_seen_ ||
        p.time() <= newest_seen_ - config.allowed_lateness ||
        (has_applied_ && p.time() < last_applied_)) {
      return Invalid(absl::StrCat(field, ".time"),
                     absl::StrCat(p.time(),
                                  " is not between the watermark and "
                                  "newest_seen, at or after last_applied"));
    }
    if (k > 0 && (p.time() < in.pending(k - 1).time() ||
                  (p.time() == in.pending(k - 1).time() &&
                   p.arrival() <= in.pending(k - 1).arrival()))) {
      return Invalid(absl::StrCat(field, ".time"),
                     "not after the previous pending event (time, then "
                     "arrival)");
    }
    if (p.arrival() >= arrivals || !arrival_seen.insert(p.arrival()).second) {
      return Invalid(absl::StrCat(field, ".arrival"),
                     absl::StrCat(p.arrival(),
                                  " is repeated or not below the "
                                  "engine's arrivals (",
                                  arrivals, ")"));
    }
    auto source = source_index.find(p.source());
    if (source == source_index.end()) {
      return Invalid(absl::StrCat(field, ".source"),
                     absl::StrCat("\"", absl::CHexEscape(p.source()),
                                  "\" is not a source of this engine"));
    }
    if (p.partition() < -1) {
      return Invalid(absl::StrCat(field, ".partition"),
                     absl::StrCat(p.partition(), " is below -1"));
    }
    Buffer(PendingPrice{p.time(), p.arrival(), p.price(),
                        Origin{source->second, p.partition(), p.offset()},
                        p.event_id()});
  }
  window_ = *std::move(window);
  changed_ = false;
  return absl::OkStatus();
}

void Pipeline::SnapshotHeader(bool delta, ebb::v1::EngineSnapshot* out) const {
  out->Clear();
  out->set_version(kSnapshotVersion);
  out->set_delta(delta);
  out->set_config_hash(config_.config_hash);
  out->set_window_length_ns(config_.window.length);
  out->set_resolution_ns(config_.window.resolution);
  out->set_allowed_lateness_ns(config_.allowed_lateness);
  ebb::v1::EngineCounters* c = out->mutable_counters();
  c->set_received(stats_.received);
  c->set_applied(stats_.applied);
  c->set_news(stats_.news);
  for (uint64_t n : stats_.rejected) c->add_rejected(n);
  for (uint64_t n : stats_.alerts) c->add_alerts(n);
  c->set_symbols(stats_.symbols);
  c->set_freed(stats_.freed);
  c->set_restarted(stats_.restarted);
  c->set_forgotten(stats_.forgotten);
  if (newest_time_ != std::numeric_limits<TimeNs>::min()) {
    out->set_newest_time(newest_time_);
  }
  out->set_sweep_next(sweep_next_);
  out->set_quiet_made(quiet_made_);
  out->set_arrivals(arrivals_);
  out->set_live_symbols(static_cast<uint32_t>(live_.size()));
}

void Pipeline::QuietSnapshot(const std::string& symbol, const QuietSymbol& q,
                             ebb::v1::QuietSymbolSnapshot* out) const {
  out->set_symbol(symbol);
  out->set_last_applied(q.last_applied);
  out->set_last_price(q.last_price);
  out->set_freed_as(q.freed_as);
  if (q.episodes.empty()) return;
  const SymbolState::RuleIndices rules = MatchingRules(config_, symbol);
  for (size_t i = 0; i < rules.size() && i < q.episodes.size(); ++i) {
    if (IsDefault(q.episodes[i])) continue;
    EpisodeToProto(config_.rules[rules[i]].name, q.episodes[i],
                   out->add_episodes());
  }
}

void Pipeline::Snapshot(ebb::v1::EngineSnapshot* out) {
  SnapshotHeader(/*delta=*/false, out);
  out->mutable_symbols()->Reserve(static_cast<int>(live_.size()));
  for (SymbolState* state : live_) {
    state->Snapshot(config_.rules, sources_, out->add_symbols());
    state->set_changed(false);
  }
  std::vector<QuietEntry> quiet;
  quiet.reserve(quiet_.size());
  for (const auto& entry : quiet_) quiet.push_back(&entry);
  FinishSnapshot(std::move(quiet), out);
}

void Pipeline::FinishSnapshot(std::vector<QuietEntry> quiet,
                              ebb::v1::EngineSnapshot* out) {
  // Quiet records in the order they were made (freed_as).
  std::sort(quiet.begin(), quiet.end(), [](QuietEntry a, QuietEntry b) {
    return a->second.freed_as < b->second.freed_as;
  });
  for (QuietEntry entry : quiet) {
    QuietSnapshot(entry->first, entry->second, out->add_quiet());
  }
  out->set_complete(true);
  track_changes_ = true;
  changed_away_.clear();
}

void Pipeline::SnapshotChanged(ebb::v1::EngineSnapshot* out) {
  SnapshotHeader(/*delta=*/true, out);
  for (SymbolState* state : live_) {
    if (!state->changed()) continue;
    state->Snapshot(config_.rules, sources_, out->add_symbols());
    state->set_changed(false);
  }
  // A symbol that lost its state or record since the last snapshot: now
  // quiet (its record is new), live (its state is marked changed, so it is
  // above), or neither.
  std::vector<QuietEntry> quiet;
  for (const std::string& symbol : changed_away_) {
    auto q = quiet_.find(symbol);
    if (q != quiet_.end()) {
      quiet.push_back(&*q);
    } else if (!symbols_.contains(symbol)) {
      out->add_removed(symbol);
    }
  }
  std::sort(out->mutable_removed()->begin(), out->mutable_removed()->end());
  FinishSnapshot(std::move(quiet), out);
}

absl::Status Pipeline::Restore(const ebb::v1::EngineSnapshot& in) {
  RETURN_IF_ERROR(CheckEngineSnapshot(in));
  if (in.delta()) {
    return absl::InvalidArgumentError(
        "snapshot: a delta; restore a full snapshot (ApplySnapshotDelta "
        "merges deltas into one)");
  }
  if (stats_.received != 0 || !symbols_.empty() || !quiet_.empty()) {
    return absl::FailedPreconditionError(
        "snapshot: the engine has received records already");
  }
  if (in.window_length_ns() != config_.window.length ||
      in.resolution_ns() != config_.window.resolution ||
      in.allowed_lateness_ns() != config_.allowed_lateness) {
    return absl::FailedPreconditionError(absl::StrCat(
        "snapshot: taken with window ", in.window_length_ns(),
        " ns, resolution ", in.resolution_ns(), " ns, allowed_lateness ",
        in.allowed_lateness_ns(), " ns; this engine has ",
        config_.window.length, ", ", config_.window.resolution, ", ",
        config_.allowed_lateness));
  }
  PipelineStats stats;
  const ebb::v1::EngineCounters& c = in.counters();
  stats.received = c.received();
  stats.applied = c.applied();
  stats.news = c.news();
  for (int i = 0; i < c.rejected_size(); ++i) {
    if (static_cast<size_t>(i) < stats.rejected.size()) {
      stats.rejected[i] = c.rejected(i);
    } else if (c.rejected(i) != 0) {
      return Invalid("snapshot: counters.rejected",
                     absl::StrCat("a count for reject reason ", i,
                                  ", which this build does not know"));
    }
  }
  for (int i = 0; i < c.alerts_size(); ++i) {
    if (static_cast<size_t>(i) < stats.alerts.size()) {
      stats.alerts[i] = c.alerts(i);
    } else if (c.alerts(i) != 0) {
      return Invalid("snapshot: counters.alerts",
                     absl::StrCat("a count for transition ", i,
                                  ", which this build does not know"));
    }
  }
  stats.symbols = c.symbols();
  stats.freed = c.freed();
  stats.restarted = c.restarted();
  stats.forgotten = c.forgotten();
  if (in.has_newest_time() && !InRange(in.newest_time())) {
    return Invalid("snapshot: newest_time", "out of range");
  }
  const size_t live = static_cast<size_t>(in.symbols_size());
  if (config_.max_symbols != 0 &&
      live + static_cast<size_t>(in.quiet_size()) > config_.max_symbols) {
    return absl::FailedPreconditionError(absl::StrCat(
        "snapshot: ", live, " symbols with state and ", in.quiet_size(),
        " quiet ones are more than this engine's max_symbols (",
        config_.max_symbols, ")"));
  }
  if (in.sweep_next() > live) {
    return Invalid(
        "snapshot: sweep_next",
        absl::StrCat(in.sweep_next(), " is beyond the ", live, " symbols"));
  }
  // Sources: the engine's names, then those only the snapshot has (added to
  // the engine if it is restored).
  absl::flat_hash_map<std::string, uint32_t> source_index;
  for (size_t i = sources_.size(); i-- > 0;) {
    source_index[sources_[i]] = static_cast<uint32_t>(i);
  }
  std::vector<std::string> new_sources;
  for (const ebb::v1::SymbolSnapshot& s : in.symbols()) {
    for (const ebb::v1::PendingPriceSnapshot& p : s.pending()) {
      if (source_index
              .try_emplace(
                  p.source(),
                  static_cast<uint32_t>(sources_.size() + new_sources.size()))
              .second) {
        new_sources.push_back(p.source());
      }
    }
  }
  const TimeNs newest = in.has_newest_time()
                            ? in.newest_time()
                            : std::numeric_limits<TimeNs>::min();
  std::vector<StatePtr> states;
  states.reserve(live);
  absl::flat_hash_set<absl::string_view> names;
  for (int k = 0; k < in.symbols_size(); ++k) {
    const ebb::v1::SymbolSnapshot& s = in.symbols(k);
    const std::string context =
        SymbolContext("snapshot: symbols", k, s.symbol());
    if (!IsValidSymbol(s.symbol())) {
      return Invalid(absl::StrCat(context, "symbol"), "not a valid symbol");
    }
    if (!names.insert(s.symbol()).second) {
      return Invalid(absl::StrCat(context, "symbol"), "listed twice");
    }
    if (s.live_index() != static_cast<uint32_t>(k)) {
      return Invalid(absl::StrCat(context, "live_index"),
                     absl::StrCat(s.live_index(), " is not its position"));
    }
    if (s.has_newest_seen() && s.newest_seen() > newest) {
      return Invalid(absl::StrCat(context, "newest_seen"),
                     "after the engine's newest_time");
    }
    StatePtr state = MakeState(s.symbol());
    RETURN_IF_ERROR(InContext(
        state->Restore(s, config_, source_index, stats.received, in.arrivals()),
        context));
    states.push_back(std::move(state));
  }
  absl::flat_hash_map<std::string, QuietSymbol> quiet;
  uint64_t previous = 0;
  for (int k = 0; k < in.quiet_size(); ++k) {
    const ebb::v1::QuietSymbolSnapshot& q = in.quiet(k);
    const std::string context = SymbolContext("snapshot: quiet", k, q.symbol());
    if (!IsValidSymbol(q.symbol())) {
      return Invalid(absl::StrCat(context, "symbol"), "not a valid symbol");
    }
    if (names.contains(q.symbol()) || quiet.contains(q.symbol())) {
      return Invalid(absl::StrCat(context, "symbol"), "listed twice");
    }
    if (!PositiveFinite(q.last_price())) {
      return Invalid(
          absl::StrCat(context, "last_price"),
          absl::StrCat(q.last_price(), " is not a finite positive price"));
    }
    if (!InRange(q.last_applied()) || q.last_applied() > newest) {
      return Invalid(absl::StrCat(context, "last_applied"),
                     "out of range or after the engine's newest_time");
    }
    if (q.freed_as() <= previous || q.freed_as() > in.quiet_made()) {
      return Invalid(absl::StrCat(context, "freed_as"),
                     absl::StrCat(q.freed_as(),
                                  " is not after the previous record's and "
                                  "at most quiet_made (",
                                  in.quiet_made(), ")"));
    }
    previous = q.freed_as();
    QuietSymbol record{q.last_applied(), q.last_price(), {}, q.freed_as()};
    if (q.episodes_size() > 0) {
      const SymbolState::RuleIndices rules = MatchingRules(config_, q.symbol());
      record.episodes.resize(rules.size());
      RETURN_IF_ERROR(InContext(EpisodesFromProto(q.episodes(), config_, rules,
                                                  record.episodes.data()),
                                context));
    }
    quiet.emplace(q.symbol(), std::move(record));
  }
  // Everything checked: the engine takes the state.
  for (std::string& name : new_sources) sources_.push_back(std::move(name));
  stats_ = stats;
  newest_time_ = newest;
  sweep_next_ = in.sweep_next();
  quiet_made_ = in.quiet_made();
  arrivals_ = in.arrivals();
  for (StatePtr& state : states) {
    SymbolState* const s = state.get();
    s->set_live_index(static_cast<uint32_t>(live_.size()));
    live_.push_back(s);
    symbols_.try_emplace(s->symbol(), std::move(state));
  }
  for (const ebb::v1::QuietSymbolSnapshot& q : in.quiet()) {
    quiet_order_.emplace_back(q.symbol(), q.freed_as());
  }
  quiet_ = std::move(quiet);
  ++generation_;
  last_state_ = nullptr;
  last_symbol_ = nullptr;
  // The restored state is the baseline of the next SnapshotChanged.
  track_changes_ = true;
  changed_away_.clear();
  return absl::OkStatus();
}

absl::Status CheckEngineSnapshot(const ebb::v1::EngineSnapshot& s) {
  if (s.version() != kSnapshotVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "snapshot: version ", s.version(),
        " is not supported (this build reads version ", kSnapshotVersion, ")"));
  }
  if (!s.complete()) {
    return absl::InvalidArgumentError(
        "snapshot: no 'complete' field: the snapshot was cut short");
  }
  if (!s.delta() &&
      s.live_symbols() != static_cast<uint32_t>(s.symbols_size())) {
    return Invalid(
        "snapshot: live_symbols",
        absl::StrCat(s.live_symbols(), " for ", s.symbols_size(), " symbols"));
  }
  for (int k = 0; k < s.symbols_size(); ++k) {
    if (s.symbols(k).live_index() >= s.live_symbols()) {
      return Invalid(
          absl::StrCat(
              SymbolContext("snapshot: symbols", k, s.symbols(k).symbol()),
              "live_index"),
          absl::StrCat(s.symbols(k).live_index(),
                       " is not below live_symbols (", s.live_symbols(), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ebb::v1::EngineSnapshot> ParseEngineSnapshot(
    absl::string_view bytes) {
  ebb::v1::EngineSnapshot snapshot;
  if (!snapshot.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(
        absl::StrCat("snapshot: ", bytes.size(),
                     " bytes do not parse as ebb.v1.EngineSnapshot"));
  }
  RETURN_IF_ERROR(CheckEngineSnapshot(snapshot));
  return snapshot;
}

absl::Status ApplySnapshotDelta(const ebb::v1::EngineSnapshot& delta,
                                ebb::v1::EngineSnapshot* full) {
  RETURN_IF_ERROR(CheckEngineSnapshot(delta));
  RETURN_IF_ERROR(CheckEngineSnapshot(*full));
  if (!delta.delta() || full->delta()) {
    return absl::InvalidArgumentError(
        "snapshot: ApplySnapshotDelta takes a delta and a full snapshot");
  }
  if (delta.window_length_ns() != full->window_length_ns() ||
      delta.resolution_ns() != full->resolution_ns() ||
      delta.allowed_lateness_ns() != full->allowed_lateness_ns()) {
    return absl::FailedPreconditionError(
        "snapshot: the delta's window options are not the full snapshot's");
  }
  // Every symbol the delta names loses what the full snapshot had for it.
  absl::flat_hash_set<std::string> touched(delta.removed().begin(),
                                           delta.removed().end());
  for (const ebb::v1::SymbolSnapshot& s : delta.symbols())
    touched.insert(s.symbol());
  for (const ebb::v1::QuietSymbolSnapshot& q : delta.quiet()) {
    touched.insert(q.symbol());
  }
  std::vector<ebb::v1::SymbolSnapshot*> symbols;
  while (!full->symbols().empty()) {
    ebb::v1::SymbolSnapshot* s = full->mutable_symbols()->ReleaseLast();
    if (touched.contains(s->symbol())) {
      delete s;
    } else {
      symbols.push_back(s);
    }
  }
  for (const ebb::v1::SymbolSnapshot& s : delta.symbols()) {
    symbols.push_back(new ebb::v1::SymbolSnapshot(s));
  }
  std::sort(
      symbols.begin(), symbols.end(),
      [](const ebb::v1::SymbolSnapshot* a, const ebb::v1::SymbolSnapshot* b) {
        return a->live_index() < b->live_index();
      });
  bool indices_ok = symbols.size() == delta.live_symbols();
  for (size_t i = 0; i < symbols.size(); ++i) {
    indices_ok = indices_ok && symbols[i]->live_index() == i;
    full->mutable_symbols()->AddAllocated(symbols[i]);
  }
  auto* quiet = full->mutable_quiet();
  quiet->erase(std::remove_if(quiet->begin(), quiet->end(),
                              [&](const ebb::v1::QuietSymbolSnapshot& q) {
                                return touched.contains(q.symbol());
                              }),
               quiet->end());
  for (const ebb::v1::QuietSymbolSnapshot& q : delta.quiet()) *quiet->Add() = q;
  std::stable_sort(quiet->begin(), quiet->end(),
                   [](const ebb::v1::QuietSymbolSnapshot& a,
                      const ebb::v1::QuietSymbolSnapshot& b) {
                     return a.freed_as() < b.freed_as();
                   });
  if (!indices_ok) {
    return absl::InvalidArgumentError(
        "snapshot: after the delta the live indices are not 0..live_symbols-1 "
        "(a delta missing, or applied twice?)");
  }
  full->set_config_hash(delta.config_hash());
  *full->mutable_position() = delta.position();
  *full->mutable_counters() = delta.counters();
  if (delta.has_newest_time()) {
    full->set_newest_time(delta.newest_time());
  } else {
    full->clear_newest_time();
  }
  full->set_sweep_next(delta.sweep_next());
  full->set_quiet_made(delta.quiet_made());
  full->set_arrivals(delta.arrivals());
  full->set_live_symbols(delta.live_symbols());
  return absl::OkStatus();
}

}  // namespace ebb
