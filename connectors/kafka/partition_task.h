#pragma once

// One assigned input partition: its pipeline (the per-symbol state of the
// partition, which moves with it), where its warm-start history ends and where
// its input stands. It hands each message to its pipeline and the outputs the
// message caused, with the message's origin, to a KafkaOutput.

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "base/clock.h"
#include "connectors/kafka/kafka_output.h"
#include "ebb/v1/events.pb.h"
#include "engine/pipeline.h"

namespace ebb::kafka {

// What a partition holds.
inline constexpr int kPrices = 0;
inline constexpr int kNews = 1;
// (kind, partition): a partition of the prices or the news topic.
using TaskKey = std::pair<int, int32_t>;

class PartitionTask {
 public:
  // A task for `partition` of `topic` (which must outlive it), with a new
  // pipeline.
  static absl::StatusOr<std::unique_ptr<PartitionTask>> Create(
      int kind, const std::string* topic, int32_t partition,
      const EngineConfig& engine, const Clock* clock);
  PartitionTask(const PartitionTask&) = delete;
  PartitionTask& operator=(const PartitionTask&) = delete;

  // Hands `message` to the pipeline (a value that is null, empty or over
  // kMaxValueBytes is rejected as such), then each output it caused to
  // `output` with its origin. Returns the first output that could not be
  // queued. REQUIRES: message.offset >= next_offset.
  absl::Status Process(const rd_kafka_message_t& message, KafkaOutput& output);
  // Process() for each of `messages` (consecutive messages of this
  // partition, offsets ascending, the first >= next_offset), with the same
  // results, outputs and origins: prices whose value is a canonical
  // PriceEvent with a valid time and their key as symbol go to the pipeline
  // in batches (Pipeline::OnPrices, which loads the states ahead); any other
  // message alone. `done(i)` is called once messages[i]'s outputs are handed
  // over. Returns the first output that could not be queued.
  absl::Status ProcessRun(absl::Span<rd_kafka_message_t* const> messages,
                          KafkaOutput& output,
                          absl::FunctionRef<void(size_t)> done);
  // Applies the events waiting in reorder buffers; their outputs have no
  // record of their own (nor are they history).
  absl::Status Flush(KafkaOutput& output);

  bool IsHistory(int64_t offset) const { return offset < warm_until; }
  // The offset a commit of this partition would store now. During a warm
  // start it is the resume offset itself (history has no outputs): a new
  // group's starting point is pinned at once, and a crash or rebalance before
  // the first live message cannot move it. -1: nothing to commit.
  int64_t CommitTarget() const { return std::max(next_offset, warm_until); }
  TaskKey key() const { return {kind, partition}; }
  Pipeline& pipeline() const { return *pipeline_; }

  const int kind;
  const std::string* const topic;
  const int32_t partition;
  int64_t next_offset = -1;  // the next offset to process (-1: any)
  int64_t warm_until = -1;   // offsets below this are warm-start history
  // Created during ConsumeBatch call number `created_during_call`, when that
  // call had already taken `created_at_index` messages: those were fetched
  // for a superseded assignment of the same partition.
  uint64_t created_during_call = 0;
  size_t created_at_index = 0;

 private:
  // The pipeline's outputs of one call, kept (the views it passes die with
  // the call) until they go to the KafkaOutput with the record's origin.
  class Collector : public Output {
   public:
    void OnAlert(const ebb::v1::Alert& alert) override;
    void OnDeadLetter(const DeadLetterView& dead_letter) override;
    bool empty() const { return size_ == 0; }
    // Hands the outputs over in the order they came and forgets them.
    absl::Status DeliverTo(const RecordOrigin& record, KafkaOutput& output);

   private:
    struct Entry {
      bool alert;
      int transition;
      ebb::v1::RejectReason reason;
      std::string symbol;
      std::string bytes;  // the serialized alert, or the rejected original
      std::string detail;
      Origin origin;
    };
    Entry& Next();
    std::vector<Entry> entries_;  // the first size_ are live (reused)
    size_t size_ = 0;
  };

  // The origin of `message` for the outputs.
  RecordOrigin OriginOf(const rd_kafka_message_t& message) const;
  // Hands records_ to the pipeline; after each, its message's outputs to
  // `output` and done(index). Keeps the first error in *first.
  void HandOver(absl::Span<rd_kafka_message_t* const> messages,
                KafkaOutput& output, absl::FunctionRef<void(size_t)> done,
                absl::Status* first);

  PartitionTask(int kind_of, const std::string* topic_name,
                int32_t partition_number)
      : kind(kind_of), topic(topic_name), partition(partition_number) {}

  Collector collector_;
  std::unique_ptr<Pipeline> pipeline_;
  Origin origin_;  // the pipeline's origin of this partition's records
  // ProcessRun's batch of decoded prices and the index of each one's
  // message (reused).
  std::vector<Pipeline::PriceRecord> records_;
  std::vector<size_t> record_message_;
};

}  // namespace ebb::kafka
