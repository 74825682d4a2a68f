#pragma once

// The streaming runtime's loop: the one place that wires
//   consume (batches) -> PartitionTask (one per assigned partition: its
//   Pipeline) -> KafkaOutput (alerts, dead letters to the producer) ->
//   OffsetCommitter (only offsets whose outputs the broker acknowledged).
//
// At-least-once (AtLeastOnceCommitter): every commit_interval the processed
// offsets become a checkpoint, committed (asynchronously) once the producer
// has acknowledged every output queued before it, so the loop never waits on
// the broker; a crash replays from the last commit and re-emits the same
// alerts (deterministic ids). Revokes and shutdown flush and commit
// synchronously. Exactly-once (TransactionalCommitter): outputs and offsets
// commit in one transaction per commit_interval; after an aborted one every
// partition is rewound to its committed offset and rebuilt (Rewind()).
// Per-partition state is rebuilt on assignment by the warm
// start (WarmStartPlanner, docs/kafka.md), with alerts suppressed, so windows
// are whole and no stale alert floods out.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "connectors/kafka/kafka_client.h"
#include "connectors/kafka/kafka_output.h"
#include "connectors/kafka/logger.h"
#include "connectors/kafka/offset_committer.h"
#include "connectors/kafka/partition_task.h"
#include "connectors/kafka/stream_options.h"
#include "connectors/kafka/transactional_committer.h"
#include "connectors/kafka/warm_start.h"
#include "engine/pipeline.h"

namespace ebb::kafka {

struct StreamStats {
  uint64_t consumed = 0;         // messages processed (history included)
  uint64_t history = 0;          // warm-start messages (no outputs)
  uint64_t stale = 0;            // dropped: fetched for a superseded assignment
  uint64_t held = 0;             // left for the next owner during a rebalance
  uint64_t alerts_produced = 0;  // handed to the producer
  uint64_t alerts_suppressed = 0;  // alerts of warm-start history
  uint64_t dead_letters_produced = 0;
  // Acknowledged by the broker: alerts by transition (indexed by
  // ebb::v1::Transition), and dead letters.
  uint64_t alerts_published[4] = {};
  uint64_t dead_letters_published = 0;
  // The stop could not acknowledge and commit everything processed within
  // shutdown_timeout (Run() then fails, saying what).
  bool shutdown_incomplete = false;
  uint64_t commits = 0;
  uint64_t batches = 0;
  uint64_t assignments = 0;
  uint64_t lost = 0;  // revocations of a lost membership (nothing committed)
  // Exactly-once: aborted transactions after which every partition went
  // back to its committed offset (its state rebuilt by the warm start).
  uint64_t rewinds = 0;
  uint64_t kafka_errors = 0;  // transient consumer errors (retried)
  double busy_seconds = 0;    // CPU time of the consuming thread in Run()
  PipelineStats pipeline;     // summed over every partition, past and present
};

class StreamRunner : public RebalanceListener {
 public:
  // `clock` is the engine's clock and the loop's (commit interval, idle
  // exit, timeouts); it must outlive the runner.
  static absl::StatusOr<std::unique_ptr<StreamRunner>> Create(
      StreamOptions options, EngineConfig engine, const Clock* clock);
  ~StreamRunner() override;

  // Consumes until *stop is set (or the idle exit), then finishes the batch,
  // flushes, commits, leaves the group, within options.shutdown_timeout. An
  // error means outputs may not have been acknowledged; nothing after the
  // last good commit was committed (stats().shutdown_incomplete: the stop
  // ran out of time, and the error says what was left).
  absl::Status Run(const std::atomic<bool>* stop);

  // A snapshot, safe from any thread: during Run() as of the end of the
  // loop's latest pass (at most one batch, or about 100 ms, old), and
  // complete once Run() has returned.
  StreamStats stats() const;
  // Partitions currently assigned; safe from any thread (tests wait on it).
  int assigned_partitions() const {
    return assigned_partitions_.load(std::memory_order_acquire);
  }
  // Latency samples in ns, when options.record_latency, one per processed
  // message: latencies() from the return of its batch's consume call (so it
  // includes waiting behind the messages before it in that batch), and
  // service_times() from the start of its own processing. Call when Run()
  // has returned.
  const std::vector<uint32_t>& latencies() const { return latencies_; }
  const std::vector<uint32_t>& service_times() const { return service_times_; }

  // RebalanceListener (the consumer calls these on this thread).
  void OnAssign(rd_kafka_topic_partition_list_t* partitions) override;
  void OnRevoke(const rd_kafka_topic_partition_list_t* partitions,
                bool lost) override;

 private:
  StreamRunner(StreamOptions options, EngineConfig engine, const Clock* clock);

  absl::Time Now() const { return absl::FromUnixNanos(clock_->NowNs()); }
  absl::Status Loop(const std::atomic<bool>* stop);
  // Called when the idle time has passed without any partition assigned
  // `waited` after the start: OK while the brokers answer and the prices
  // topic exists (the group may still be forming; at most kJoinAllowance
  // longer), otherwise the error saying why nothing was assigned.
  absl::Status StillJoining(absl::Duration waited);
  // The stop: applies what waits in reorder buffers (without a warm start),
  // flushes the producer and commits what it acknowledged, until `deadline`.
  // Reports what was left unacknowledged or uncommitted.
  absl::Status FinishAndCommit(absl::Time deadline);
  size_t NextBatch();  // into batch_
  void ProcessBatch(size_t count);
  // With record_latency: room for `extra` more samples in each vector
  // (geometric: at least doubling, and at least 2^20 samples).
  void RoomForSamples(size_t extra, bool geometric);
  // Loads the message structs, keys and values of the messages ahead of
  // batch_[i] into the cache; hints only.
  void PrefetchMessages(size_t i, size_t count) const;
  static constexpr size_t kMessageAhead = 32;
  static constexpr size_t kBytesAhead = 24;
  // kPrices, kNews, or -1 for a topic ebb does not consume.
  int KindOf(const char* topic) const;
  PartitionTask* TaskFor(const char* topic, int32_t partition);
  // A new task for each of `partitions`, tracked, planned from its
  // committed offset (`committed`, element by element; null: unknown, resume
  // from the group's offsets): each element's offset becomes where it starts
  // reading. `taken`: messages the current consume call had already taken.
  // Returns how many warm up.
  int StartTasks(rd_kafka_topic_partition_list_t* partitions,
                 const rd_kafka_topic_partition_list_t* committed,
                 size_t taken);
  // After an aborted transaction: every task is replaced by a new one from
  // the offset of the last committed transaction (or, before the first,
  // where its assignment began), by the assignment's path (warm start
  // included), and the consumer seeks there.
  absl::Status Rewind();
  void Retire(PartitionTask& task);
  void SetFatal(absl::Status status);
  // An output could not be queued: fatal, unless the open transaction only
  // has to be aborted (exactly-once; then it is, and everything rewound).
  void OnOutputError(absl::Status status);
  // Every counter as of now (the loop's thread).
  StreamStats Collect() const;
  // Collect() for stats().
  void Publish();

  StreamOptions options_;
  EngineConfig engine_;
  const Clock* clock_;
  Logger* logger_;
  std::unique_ptr<Consumer> consumer_;
  std::unique_ptr<Producer> producer_;
  std::unique_ptr<KafkaOutput> output_;
  std::unique_ptr<ProducerAcknowledgements> acknowledgements_;
  std::unique_ptr<ConsumerOffsetStore> offset_store_;
  std::unique_ptr<OffsetCommitter> committer_;
  // committer_, when it is transactional (exactly-once); null otherwise.
  TransactionalCommitter* transactional_ = nullptr;
  std::unique_ptr<WarmStartPlanner> planner_;

  absl::flat_hash_map<TaskKey, std::unique_ptr<PartitionTask>> tasks_;
  // Where live processing began for partitions assigned without a committed
  // offset (a new group).
  absl::flat_hash_map<TaskKey, int64_t> resume_at_;
  std::vector<rd_kafka_message_t*> batch_;  // null beyond the live messages
  // ProcessBatch's messages to process, in runs of one task (reused).
  std::vector<rd_kafka_message_t*> run_;
  uint64_t consume_calls_ = 0;  // ConsumeBatch calls started

  // The stop has begun: revokes (leaving the group) commit nothing more.
  bool shutting_down_ = false;
  uint64_t partitions_assigned_ = 0;  // over every assignment so far

  std::atomic<int> assigned_partitions_{0};
  absl::Time last_activity_;  // the last message or assignment
  // The loop's own counters (those of the output, the committer, the
  // producer and the pipelines are added by Collect()).
  StreamStats stats_;
  PipelineStats retired_;  // stats of partitions no longer assigned
  absl::Status fatal_;
  std::vector<uint32_t> latencies_;
  std::vector<uint32_t> service_times_;

  mutable absl::Mutex published_mu_;
  StreamStats published_ ABSL_GUARDED_BY(published_mu_);
};

}  // namespace ebb::kafka
