// MergeSources: several sources read in event-time order, with one record
// of lookahead per source on a min-heap.

#include <algorithm>
#include <functional>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "base/status_macros.h"
#include "connectors/file_source.h"

namespace ebb {
namespace {

class SingleSource : public RecordSource {
 public:
  explicit SingleSource(std::unique_ptr<RecordSource> source)
      : source_(std::move(source)) {}
  absl::StatusOr<bool> Next(SourceRecord* record) override {
    absl::StatusOr<bool> more = source_->Next(record);
    record->source_index = 0;
    return more;
  }
  uint64_t bytes_read() const override { return source_->bytes_read(); }
  uint64_t size_bytes() const override { return source_->size_bytes(); }

 private:
  std::unique_ptr<RecordSource> source_;
};

class MergedSource : public RecordSource {
 public:
  explicit MergedSource(std::vector<std::unique_ptr<RecordSource>> sources)
      : sources_(std::move(sources)),
        slots_(sources_.size()),
        last_time_(sources_.size(), std::numeric_limits<TimeNs>::min()) {
    heap_.reserve(sources_.size());
  }

  absl::StatusOr<bool> Next(SourceRecord* record) override {
    // Fill the lookahead of every source (at the start), or of the one last
    // emitted.
    while (started_ < sources_.size()) {
      ASSIGN_OR_RETURN(bool error,
                       Refill(static_cast<uint32_t>(started_), record));
      if (error) return true;
      ++started_;
    }
    if (pending_ >= 0) {
      ASSIGN_OR_RETURN(bool error,
                       Refill(static_cast<uint32_t>(pending_), record));
      if (error) return true;
      pending_ = -1;
    }
    if (heap_.empty()) return false;
    std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
    const uint32_t index = heap_.back().second;
    heap_.pop_back();
    slots_[index].Swap(record);
    record->source_index = index;
    pending_ = static_cast<int64_t>(index);
    return true;
  }

  uint64_t bytes_read() const override {
    uint64_t total = 0;
    for (const auto& s : sources_) total += s->bytes_read();
    return total;
  }
  uint64_t size_bytes() const override {
    uint64_t total = 0;
    for (const auto& s : sources_) total += s->size_bytes();
    return total;
  }

 private:
  // Reads the next record of source `i` into its slot and onto the heap. An
  // error record goes straight to *out instead: returns true then.
  absl::StatusOr<bool> Refill(uint32_t i, SourceRecord* out) {
    SourceRecord& slot = slots_[i];
    ASSIGN_OR_RETURN(bool more, sources_[i]->Next(&slot));
    if (!more) return false;
    if (slot.kind == SourceRecord::Kind::kError) {
      slot.Swap(out);
      out->source_index = i;
      return true;
    }
    if (slot.kind == SourceRecord::Kind::kEncoded && !slot.decoded) {
      // No valid time (the pipeline rejects the record): the previous one's.
      slot.time = last_time_[i];
    }
    last_time_[i] = slot.time;
    heap_.emplace_back(slot.time, i);
    std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
    return false;
  }

  std::vector<std::unique_ptr<RecordSource>> sources_;
  std::vector<SourceRecord> slots_;
  std::vector<TimeNs> last_time_;
  std::vector<std::pair<TimeNs, uint32_t>>
      heap_;  // min-heap on (time, source index)
  size_t started_ = 0;
  int64_t pending_ = -1;
};

class EmptySource : public RecordSource {
 public:
  absl::StatusOr<bool> Next(SourceRecord*) override { return false; }
  uint64_t bytes_read() const override { return 0; }
  uint64_t size_bytes() const override { return 0; }
};

}  // namespace

std::unique_ptr<RecordSource> MergeSources(
    std::vector<std::unique_ptr<RecordSource>> sources) {
  if (sources.empty()) return std::make_unique<EmptySource>();
  if (sources.size() == 1)
    return std::make_unique<SingleSource>(std::move(sources[0]));
  return std::make_unique<MergedSource>(std::move(sources));
}

}  // namespace ebb
