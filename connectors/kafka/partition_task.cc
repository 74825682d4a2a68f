#include "connectors/kafka/partition_task.h"

#include "absl/strings/str_cat.h"

namespace ebb::kafka {

absl::StatusOr<std::unique_ptr<PartitionTask>> PartitionTask::Create(
    int kind, const std::string* topic, int32_t partition,
    const EngineConfig& engine, const Clock* clock) {
  std::unique_ptr<PartitionTask> task(
      new PartitionTask(kind, topic, partition));
  absl::StatusOr<std::unique_ptr<Pipeline>> pipeline =
      Pipeline::Create(engine, clock, &task->collector_);
  if (!pipeline.ok()) return pipeline.status();
  task->pipeline_ = *std::move(pipeline);
  task->origin_.source = task->pipeline_->RegisterSource(*topic);
  task->origin_.partition = partition;
  return task;
}

absl::Status PartitionTask::Process(const rd_kafka_message_t& message,
                                    KafkaOutput& output) {
  next_offset = message.offset + 1;
  origin_.offset = message.offset;
  const absl::string_view value(static_cast<const char*>(message.payload),
                                message.payload == nullptr ? 0 : message.len);
  const absl::string_view key(static_cast<const char*>(message.key),
                              message.key == nullptr ? 0 : message.key_len);
  if (value.empty()) {
    // A tombstone (a null value) or an empty one: no event to read.
    pipeline_->OnUndecodable(ebb::v1::EMPTY_VALUE,
                             message.payload == nullptr
                                 ? "the message value is null (a tombstone)"
                                 : "the message value is empty",
                             value, {}, origin_);
  } else if (value.size() > kMaxValueBytes) {
    pipeline_->OnUndecodable(
        ebb::v1::OVERSIZE,
        absl::StrCat("message value of ", value.size(),
                     " bytes exceeds the limit of ", kMaxValueBytes),
        value.substr(0, kDeadLetterCutBytes), {}, origin_);
  } else if (kind == kPrices) {
    pipeline_->OnEncodedPrice(value, origin_, &key);
  } else {
    pipeline_->OnEncodedNews(value, origin_);
  }
  if (collector_.empty()) return absl::OkStatus();
  return collector_.DeliverTo(OriginOf(message), output);
}

RecordOrigin PartitionTask::OriginOf(const rd_kafka_message_t& message) const {
  RecordOrigin record;
  record.topic = *topic;
  record.partition = partition;
  record.offset = message.offset;
  record.history = IsHistory(message.offset);
  record.key = absl::string_view(static_cast<const char*>(message.key),
                                 message.key == nullptr ? 0 : message.key_len);
  if (message.payload != nullptr) {
    record.value = absl::string_view(static_cast<const char*>(message.payload),
                                     message.len);
  }
  return record;
}

absl::Status PartitionTask::ProcessRun(
    absl::Span<rd_kafka_message_t* const> messages, KafkaOutput& output,
    absl::FunctionRef<void(size_t)> done) {
  absl::Status first;
  if (kind != kPrices) {
    for (size_t i = 0; i < messages.size(); ++i) {
      absl::Status status = Process(*messages[i], output);
      if (first.ok()) first = std::move(status);
      done(i);
    }
    return first;
  }
  // Decoded in slices, so that a slice's values are still in the cache when
  // the pipeline reads their symbols.
  constexpr size_t kSlice = 256;
  records_.clear();
  record_message_.clear();
  for (size_t i = 0; i < messages.size(); ++i) {
    const rd_kafka_message_t& message = *messages[i];
    const absl::string_view value(static_cast<const char*>(message.payload),
                                  message.payload == nullptr ? 0 : message.len);
    const absl::string_view key(static_cast<const char*>(message.key),
                                message.key == nullptr ? 0 : message.key_len);
    Origin origin = origin_;
    origin.offset = message.offset;
    Pipeline::PriceRecord record;
    if (!value.empty() && value.size() <= kMaxValueBytes &&
        Pipeline::DecodeCanonicalRecord(value, origin, &key, &record)) {
      records_.push_back(record);
      record_message_.push_back(i);
      if (records_.size() == kSlice) {
        HandOver(messages, output, done, &first);
      }
      continue;
    }
    // Anything else (rejected, or decoded by libprotobuf) goes alone, after
    // the prices before it.
    HandOver(messages, output, done, &first);
    absl::Status status = Process(message, output);
    if (first.ok()) first = std::move(status);
    done(i);
  }
  HandOver(messages, output, done, &first);
  if (!messages.empty()) next_offset = messages.back()->offset + 1;
  return first;
}

void PartitionTask::HandOver(absl::Span<rd_kafka_message_t* const> messages,
                             KafkaOutput& output,
                             absl::FunctionRef<void(size_t)> done,
                             absl::Status* first) {
  if (records_.empty()) return;
  size_t j = 0;
  pipeline_->OnPrices(records_, [&] {
    const size_t i = record_message_[j++];
    if (!collector_.empty()) {
      absl::Status status =
          collector_.DeliverTo(OriginOf(*messages[i]), output);
      if (first->ok()) *first = std::move(status);
    }
    done(i);
    return false;
  });
  next_offset = messages[record_message_.back()]->offset + 1;
  records_.clear();
  record_message_.clear();
}

absl::Status PartitionTask::Flush(KafkaOutput& output) {
  pipeline_->Flush();
  if (collector_.empty()) return absl::OkStatus();
  return collector_.DeliverTo(RecordOrigin(), output);
}

PartitionTask::Collector::Entry& PartitionTask::Collector::Next() {
  if (size_ == entries_.size()) entries_.emplace_back();
  return entries_[size_++];
}

void PartitionTask::Collector::OnAlert(const ebb::v1::Alert& alert) {
  Entry& entry = Next();
  entry.alert = true;
  entry.transition = static_cast<int>(alert.transition());
  entry.symbol = alert.symbol();
  entry.bytes.clear();
  alert.SerializeToString(&entry.bytes);
}

void PartitionTask::Collector::OnDeadLetter(const DeadLetterView& dead_letter) {
  Entry& entry = Next();
  entry.alert = false;
  entry.reason = dead_letter.reason;
  entry.symbol.assign(dead_letter.symbol.data(), dead_letter.symbol.size());
  entry.bytes.assign(dead_letter.original.data(), dead_letter.original.size());
  entry.detail.assign(dead_letter.detail.data(), dead_letter.detail.size());
  entry.origin = dead_letter.origin;
}

absl::Status PartitionTask::Collector::DeliverTo(const RecordOrigin& record,
                                                 KafkaOutput& output) {
  absl::Status first;
  for (size_t i = 0; i < size_; ++i) {
    const Entry& e = entries_[i];
    absl::Status status =
        e.alert ? output.Alert(record, e.symbol, e.transition, e.bytes)
                : output.DeadLetter(record,
                                    DeadLetterView{e.reason, e.detail, e.bytes,
                                                   e.symbol, e.origin});
    if (first.ok()) first = std::move(status);
  }
  size_ = 0;
  return first;
}

}  // namespace ebb::kafka
