#include "engine/pipeline.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace ebb {

uint64_t PipelineStats::total_rejected() const {
  return std::accumulate(rejected.begin(), rejected.end(), uint64_t{0});
}

uint64_t PipelineStats::total_alerts() const {
  return std::accumulate(alerts.begin(), alerts.end(), uint64_t{0});
}

void PipelineStats::Add(const PipelineStats& other) {
  received += other.received;
  applied += other.applied;
  news += other.news;
  for (size_t i = 0; i < rejected.size(); ++i) rejected[i] += other.rejected[i];
  for (size_t i = 0; i < alerts.size(); ++i) alerts[i] += other.alerts[i];
  symbols += other.symbols;
  freed += other.freed;
  restarted += other.restarted;
  forgotten += other.forgotten;
}

namespace {

BlockPool& StatePool() {
  static BlockPool& pool =
      BlockPool::For(sizeof(SymbolState), alignof(SymbolState));
  return pool;
}

}  // namespace

void Pipeline::StateDeleter::operator()(SymbolState* state) const {
  state->~SymbolState();
  StatePool().Free(state);
}

absl::StatusOr<std::unique_ptr<Pipeline>> Pipeline::Create(EngineConfig config,
                                                           const Clock* clock,
                                                           Output* output) {
  if (clock == nullptr || output == nullptr) {
    return absl::InvalidArgumentError(
        "Pipeline::Create: clock and output are required");
  }
  if (config.rules.size() > 65535) {
    return absl::InvalidArgumentError("rules: at most 65535 rules");
  }
  return std::unique_ptr<Pipeline>(
      new Pipeline(std::move(config), clock, output));
}

Pipeline::Pipeline(EngineConfig config, const Clock* clock, Output* output)
    : config_(std::move(config)),
      validator_(clock, config_.max_future),
      news_validator_(clock, config_.max_future),
      output_(output),
      quiet_after_(config_.window.length + config_.allowed_lateness) {
  sources_.push_back("");  // index 0: unnamed
}

uint32_t Pipeline::RegisterSource(std::string name) {
  sources_.push_back(std::move(name));
  return static_cast<uint32_t>(sources_.size() - 1);
}

SymbolState* Pipeline::StateFor(absl::string_view symbol, TimeNs time) {
  if (next_lookup_ != nullptr) {
    const Lookup lookup = *next_lookup_;
    next_lookup_ = nullptr;
    if (Matches(lookup, symbol)) {
      last_symbol_ = &lookup.entry->first;
      last_state_ = lookup.entry->second.get();
      return last_state_;
    }
  }
  if (last_state_ != nullptr && SameBytes(symbol, *last_symbol_))
    return last_state_;
  auto it = symbols_.find(symbol);
  if (it == symbols_.end()) {
    if (config_.max_symbols != 0 &&
        symbols_.size() + quiet_.size() >= config_.max_symbols &&
        !quiet_.contains(symbol)) {
      if (quiet_.empty()) return nullptr;
      ForgetOldestQuietSymbol();
    }
    // Inserting may move every entry; the cached key is refreshed below, and
    // the hints' lookups are dropped.
    ++generation_;
    it = symbols_.try_emplace(symbol, NewState(symbol, time)).first;
    it->second->set_live_index(static_cast<uint32_t>(live_.size()));
    live_.push_back(it->second.get());
  }
  last_symbol_ = &it->first;
  last_state_ = it->second.get();
  return last_state_;
}

Pipeline::StatePtr Pipeline::MakeState(absl::string_view symbol) const {
  SymbolState::RuleIndices rules;
  for (size_t i = 0; i < config_.rules.size(); ++i) {
    if (config_.rules[i].Matches(symbol)) {
      rules.push_back(static_cast<uint16_t>(i));
    }
  }
  return StatePtr(new (StatePool().Allocate())
                      SymbolState(symbol, config_.window, std::move(rules)));
}

Pipeline::StatePtr Pipeline::NewState(absl::string_view symbol, TimeNs time) {
  StatePtr state = MakeState(symbol);
  auto quiet = quiet_.find(symbol);
  if (quiet == quiet_.end()) {
    ++stats_.symbols;
    return state;
  }
  // The symbol went quiet and its state was freed: carry on from the record.
  const QuietSymbol& q = quiet->second;
  // An event (not late) that the old window's newest entry would still have
  // been in the window of: see "Memory" in pipeline.h.
  const TimeNs newest_start =
      config_.window.resolution == 0
          ? q.last_applied
          : FloorTo(q.last_applied, config_.window.resolution);
  if (time >= q.last_applied && newest_start > time - config_.window.length) {
    ++stats_.restarted;
  }
  state->Observe(q.last_applied, stats_.received);
  state->MarkApplied(q.last_applied);
  state->window().StartAfter(q.last_price);
  if (!q.episodes.empty()) {
    std::copy(q.episodes.begin(), q.episodes.end(), state->episodes().begin());
  }
  quiet_.erase(quiet);
  NoteChangedAway(symbol);
  return state;
}

void Pipeline::SweepQuietSymbols() {
  if (live_.empty()) return;
  if (sweep_next_ >= live_.size()) sweep_next_ = 0;
  // The next state's first line is loaded while this event is handled, so
  // that the next step does not wait for it.
  if (sweep_next_ + 1 < live_.size()) PrefetchLine(live_[sweep_next_ + 1]);
  SymbolState& state = *live_[sweep_next_];
  if (!state.QuietFor(newest_time_, quiet_after_, stats_.received,
                      quiet_records_)) {
    ++sweep_next_;
    return;
  }
  // Events still waiting for the symbol's watermark go first: every later
  // event is at most allowed_lateness behind newest_time_, so none can come
  // before them.
  Release(state, state.symbol(), state.newest_seen());
  FreeState(static_cast<uint32_t>(sweep_next_));  // the last state moves here
}

void Pipeline::ForgetOldestQuietSymbol() {
  while (!quiet_order_.empty()) {
    auto [symbol, freed_as] = std::move(quiet_order_.front());
    quiet_order_.pop_front();
    auto q = quiet_.find(symbol);
    if (q != quiet_.end() && q->second.freed_as == freed_as) {
      NoteChangedAway(symbol);
      quiet_.erase(q);
      ++stats_.forgotten;
      return;
    }
  }
}

void Pipeline::FreeState(uint32_t live_index) {
  SymbolState* const state = live_[live_index];
  QuietSymbol record{state->last_applied(), state->window().NewestPrice(), {}};
  const SymbolState::Episodes& episodes = state->episodes();
  if (std::any_of(episodes.begin(), episodes.end(),
                  [](const AlertEpisode& e) { return e.active; })) {
    record.episodes.assign(episodes.begin(), episodes.end());
  }
  record.freed_as = ++quiet_made_;
  quiet_order_.emplace_back(state->symbol(), record.freed_as);
  quiet_.insert_or_assign(state->symbol(), std::move(record));
  // Entries of records that are gone outnumber the live ones: drop them, so
  // that the order stays within twice the records.
  if (quiet_order_.size() > 2 * quiet_.size() + 64) {
    quiet_order_.erase(
        std::remove_if(quiet_order_.begin(), quiet_order_.end(),
                       [this](const std::pair<std::string, uint64_t>& e) {
                         auto q = quiet_.find(e.first);
                         return q == quiet_.end() ||
                                q->second.freed_as != e.second;
                       }),
        quiet_order_.end());
  }
  live_[live_index] = live_.back();
  live_[live_index]->set_live_index(live_index);
  live_[live_index]->set_changed(true);  // its place in the sweep's order
  live_.pop_back();
  NoteChangedAway(state->symbol());
  // The hints' lookups and the last state may name this one.
  ++generation_;
  last_state_ = nullptr;
  last_symbol_ = nullptr;
  symbols_.erase(symbols_.find(state->symbol()));
  ++stats_.freed;
}

void Pipeline::HintBatch(absl::Span<const PriceRecord> batch, size_t i) {
  if (i == 0 && BlockPool::LiveBytes() >= hint_min_window_bytes_) {
    // The records the hints below never reach: states first, then (those
    // loads in flight) the windows of the first ones.
    const size_t states = std::min(kPrefetchStateAhead, batch.size());
    for (size_t k = 0; k < states; ++k) {
      lookups_[k % kLookups] = PrefetchStateLookup(batch[k].symbol);
    }
    const size_t windows = std::min(kPrefetchWindowAhead, batch.size());
    for (size_t k = 0; k < windows; ++k) {
      PrefetchWindowLookup(batch[k].symbol, &lookups_[k % kLookups]);
    }
  }
  PrefetchAhead(i, batch.size(), [batch](size_t k) { return batch[k].symbol; });
}

Pipeline::Lookup Pipeline::PrefetchStateLookup(absl::string_view symbol) {
  auto it = symbols_.find(symbol);
  if (it == symbols_.end()) return {nullptr, generation_};
  it->second->Prefetch();
  return {&*it, generation_};
}

void Pipeline::PrefetchWindowLookup(absl::string_view symbol, Lookup* lookup) {
  if (!Matches(*lookup, symbol)) {
    auto it = symbols_.find(symbol);
    *lookup = {it == symbols_.end() ? nullptr : &*it, generation_};
  }
  PrefetchWindowOf(lookup->entry == nullptr ? nullptr
                                            : lookup->entry->second.get());
}

void Pipeline::PrefetchWindowOf(const SymbolState* state) {
  PendingPrefetch& pending = pending_prefetch_[next_prefetch_];
  next_prefetch_ = (next_prefetch_ + 1) % kPrefetchSlotsLag;
  if (pending.state != nullptr && pending.generation == generation_) {
    pending.state->window().PrefetchNextAdd();
  }
  if (state == nullptr) {
    pending.state = nullptr;
    return;
  }
  state->window().PrefetchTable();
  pending = {state, generation_};
}

void Pipeline::Reject(ebb::v1::RejectReason reason, absl::string_view detail,
                      absl::string_view original, absl::string_view symbol,
                      const Origin& origin) {
  ++stats_.rejected[reason];
  // Dead letters are protobuf messages whose detail and symbol are strings,
  // which must be UTF-8 for any client to parse them.
  if (!IsValidUtf8(detail) || !IsValidUtf8(symbol)) {
    const std::string escaped_detail = EscapeInvalidUtf8(detail);
    const std::string escaped_symbol = EscapeInvalidUtf8(symbol);
    output_->OnDeadLetter(DeadLetterView{reason, escaped_detail, original,
                                         escaped_symbol, origin});
    return;
  }
  output_->OnDeadLetter(
      DeadLetterView{reason, detail, original, symbol, origin});
}

bool Pipeline::DecodeCanonicalRecord(absl::string_view bytes,
                                     const Origin& origin,
                                     const absl::string_view* key,
                                     PriceRecord* out) {
  DecodedPrice event;
  if (!PriceEventDecoder::DecodeCanonical(bytes, &event) || !event.has_time ||
      (key != nullptr && *key != event.symbol)) {
    return false;
  }
  absl::StatusOr<TimeNs> time = FromSecondsAndNanos(event.seconds, event.nanos);
  if (!time.ok()) return false;
  *out = PriceRecord{event.symbol, *time, event.price,
                     origin,       bytes, event.event_id};
  return true;
}

void Pipeline::OnEncodedPrice(absl::string_view bytes, const Origin& origin,
                              const absl::string_view* key) {
  PriceRecord record;
  if (DecodeCanonicalRecord(bytes, origin, key, &record)) {
    OnPrice(record.symbol, record.time, record.price, origin, bytes,
            record.event_id);
    return;
  }
  // Anything else: libprotobuf decides, or the record is rejected with why.
  DecodedPrice event;
  if (!decoder_.Decode(bytes, &event)) {
    const ebb::v1::RejectReason reason =
        PriceEventDecoder::DiagnoseUndecodable(bytes, &detail_);
    OnUndecodable(reason, detail_, bytes, {}, origin);
    return;
  }
  if (!event.has_time) {
    OnUndecodable(ebb::v1::INVALID_TIME, "event_time is missing", bytes,
                  event.symbol, origin);
    return;
  }
  auto time = FromSecondsAndNanos(event.seconds, event.nanos);
  if (!time.ok()) {
    OnUndecodable(ebb::v1::INVALID_TIME,
                  absl::StrCat("event_time: ", time.status().message()), bytes,
                  event.symbol, origin);
    return;
  }
  if (key != nullptr && *key != event.symbol) {
    OnUndecodable(ebb::v1::KEY_MISMATCH,
                  absl::StrCat("message key \"", absl::CHexEscape(*key),
                               "\" is not the event's symbol"),
                  bytes, event.symbol, origin);
    return;
  }
  OnPrice(event.symbol, *time, event.price, origin, bytes, event.event_id);
}

void Pipeline::OnNews(const ebb::v1::NewsEvent& news, const Origin& origin,
                      absl::string_view original) {
  ++stats_.received;
  TimeNs time;
  const ebb::v1::RejectReason reason =
      news_validator_.Check(news, &time, &detail_);
  if (reason != ebb::v1::REJECT_REASON_UNSPECIFIED) {
    Reject(reason, detail_, original, {}, origin);
    return;
  }
  ++stats_.news;
}

void Pipeline::OnEncodedNews(absl::string_view bytes, const Origin& origin) {
  const ebb::v1::RejectReason reason = DecodeNewsEvent(bytes, &news_, &detail_);
  if (reason != ebb::v1::REJECT_REASON_UNSPECIFIED) {
    OnUndecodable(reason, detail_, bytes, {}, origin);
    return;
  }
  OnNews(news_, origin, bytes);
}

void Pipeline::OnUndecodable(ebb::v1::RejectReason reason,
                             absl::string_view detail,
                             absl::string_view original,
                             absl::string_view symbol, const Origin& origin) {
  ++stats_.received;
  Reject(reason, detail, original, symbol, origin);
}

uint64_t Pipeline::pending() const {
  uint64_t total = 0;
  for (const auto& [symbol, state] : symbols_) total += state->pending();
  return total;
}

void Pipeline::OnPrice(absl::string_view symbol, TimeNs time, double price,
                       const Origin& origin, absl::string_view original,
                       absl::string_view event_id) {
  ++stats_.received;
  const ebb::v1::RejectReason reason =
      validator_.Check(symbol, time, price, &detail_);
  if (reason != ebb::v1::REJECT_REASON_UNSPECIFIED) {
    Reject(reason, detail_, original, symbol, origin);
    return;
  }
  SymbolState* const found = StateFor(symbol, time);
  if (found == nullptr) {
    detail_ = absl::StrCat("the engine holds state for max_symbols (",
                           config_.max_symbols,
                           ") symbols; this symbol would be one more");
    Reject(ebb::v1::SYMBOL_LIMIT, detail_, original, symbol, origin);
    return;
  }
  SymbolState& state = *found;
  // Late: it would have to be applied before an event that already was.
  if (state.has_applied() && time < state.last_applied()) {
    detail_ =
        absl::StrCat("event time ", FormatTime(time), " is before ",
                     FormatTime(state.last_applied()),
                     ", already applied for this symbol (allowed_lateness ",
                     FormatDuration(config_.allowed_lateness), ")");
    Reject(ebb::v1::LATE, detail_, original, symbol, origin);
    return;
  }
  if (state.window().full()) {
    Reject(ebb::v1::OVERSIZE,
           "the symbol's window holds the maximum number of entries", original,
           symbol, origin);
    return;
  }
  state.Observe(time, stats_.received);
  if (time > newest_time_) newest_time_ = time;
  if (config_.allowed_lateness == 0) {
    Apply(state, symbol, time, price, origin, event_id);
  } else {
    state.Buffer(
        PendingPrice{time, arrivals_++, price, origin, std::string(event_id)});
    Release(state, symbol, state.newest_seen() - config_.allowed_lateness);
  }
  // One sweep step every kSweepEvery records: the step's line is a likely
  // cache miss beside the event's own.
  if (free_quiet_ && stats_.received % kSweepEvery == 0) SweepQuietSymbols();
}

void Pipeline::Release(SymbolState& state, absl::string_view symbol,
                       TimeNs watermark) {
  while (state.HasPendingAtOrBefore(watermark)) {
    PendingPrice p = state.PopOldest();
    Apply(state, symbol, p.time, p.price, p.origin, p.event_id);
  }
}

void Pipeline::Flush() {
  // Across symbols in (time, arrival) order, as the watermarks would have
  // released them: the outputs do not depend on the map's iteration order
  // (which changes from process to process).
  struct Head {
    TimeNs time;
    uint64_t arrival;
    absl::string_view symbol;
    SymbolState* state;
  };
  const auto later = [](const Head& a, const Head& b) {
    return a.time != b.time ? a.time > b.time : a.arrival > b.arrival;
  };
  std::vector<Head> heads;
  for (auto& [symbol, state] : symbols_) {
    if (!state->HasPending()) continue;
    state->set_changed(true);
    const PendingPrice& oldest = state->OldestPending();
    heads.push_back({oldest.time, oldest.arrival, symbol, state.get()});
  }
  std::make_heap(heads.begin(), heads.end(), later);
  while (!heads.empty()) {
    std::pop_heap(heads.begin(), heads.end(), later);
    Head& head = heads.back();
    PendingPrice p = head.state->PopOldest();
    Apply(*head.state, head.symbol, p.time, p.price, p.origin, p.event_id);
    if (!head.state->HasPending()) {
      heads.pop_back();
      continue;
    }
    head.time = head.state->OldestPending().time;
    head.arrival = head.state->OldestPending().arrival;
    std::push_heap(heads.begin(), heads.end(), later);
  }
}

void Pipeline::Apply(SymbolState& state, absl::string_view symbol, TimeNs time,
                     double price, const Origin& origin,
                     absl::string_view event_id) {
  state.MarkApplied(time);
  state.window().Add(time, price, &metrics_);
  ++stats_.applied;
  if (output_->WantsMetrics()) {
    output_->OnMetrics(
        MetricsView{symbol, time, price, &metrics_, config_.window.length});
  }
  const SymbolState::RuleIndices& rules = state.rules();
  for (size_t i = 0; i < rules.size(); ++i) {
    const RuleSpec& rule = config_.rules[rules[i]];
    AlertEpisode& episode = state.episodes()[i];
    std::optional<RuleOutcome> outcome =
        EvaluateRule(rule, metrics_, time, &episode);
    if (!outcome.has_value()) continue;
    alert_.Clear();
    BuildAlert(rule, *outcome, episode,
               AlertContext{symbol, time, price, &metrics_},
               config_.window.length, &alert_);
    ebb::v1::Provenance* provenance = alert_.mutable_provenance();
    provenance->set_source(sources_[origin.source]);
    if (origin.partition >= 0) provenance->set_partition(origin.partition);
    provenance->set_offset(origin.offset);
    provenance->set_config_hash(config_.config_hash);
    provenance->set_event_id(std::string(event_id));
    ++stats_.alerts[outcome->transition];
    output_->OnAlert(alert_);
  }
}

size_t Pipeline::WindowMemoryBytes() const {
  size_t total = 0;
  for (const auto& [symbol, state] : symbols_) {
    total += state->window().MemoryBytes();
  }
  return total;
}

size_t Pipeline::WindowEntries() const {
  size_t total = 0;
  for (const auto& [symbol, state] : symbols_) {
    total += state->window().entries();
  }
  return total;
}

}  // namespace ebb
