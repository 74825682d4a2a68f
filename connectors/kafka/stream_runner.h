#pragma once

// The streaming runtime: the one place that owns
//   consume (batches) -> Pipeline (one per assigned partition) -> produce
//   (alerts, dead letters) -> commit (only offsets whose outputs the broker
//   acknowledged).
//
// At-least-once: every commit_interval the processed offsets become a
// checkpoint, committed (asynchronously) once the producer has acknowledged
// every output queued before it, so the loop never waits on the broker; a
// crash replays from the last commit and re-emits the same alerts
// (deterministic ids). Revokes and shutdown flush and commit synchronously.
// Per-partition state is rebuilt on assignment by the warm start
// (docs/kafka.md): the partition is read from its oldest retained message (or
// from offsetsForTimes(now - window - lateness)) up to where processing
// resumes, with alerts suppressed, so windows are whole and no stale alert
// floods out.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "connectors/kafka/kafka_client.h"
#include "ebb/v1/config.pb.h"
#include "pipeline/pipeline.h"

namespace ebb::kafka {

struct StreamOptions {
  std::string brokers = "localhost:9092";
  std::string group = "ebb";
  std::string prices_topic = "ebb.prices";
  std::string news_topic = "ebb.news";  // empty: no news
  std::string alerts_topic = "ebb.alerts";
  std::string dlq_topic = "ebb.dlq";
  Properties properties;  // every client
  Properties consumer_properties;
  Properties producer_properties;
  bool start_earliest = false;
  bool warm_start = true;
  // Start the warm-start history at offsetsForTimes(now - window - lateness
  // - warm_start_margin) instead of the oldest retained message.
  bool warm_start_by_time = false;
  // With warm_start_by_time: how much further back than the window the
  // history starts, so that it holds each symbol's newest event at or before
  // t - window (the anchor of `change` and `full_window`) for a live event at
  // t, when the symbol's events are at most this far apart there. >= 0.
  absl::Duration warm_start_margin = absl::Hours(7 * 24);
  bool emit_history_alerts = false;
  absl::Duration commit_interval = absl::Milliseconds(200);
  int max_batch = 10000;
  // Stop (cleanly) after this long without a message, once partitions are
  // assigned. Zero: run until stopped. For demos, tests and backfills. When
  // no partition was ever assigned by then (brokers unreachable,
  // authentication refused, no such topic), Run() fails with the reason.
  absl::Duration exit_when_idle = absl::ZeroDuration();
  // How long a stop may take: flushing the outputs, committing what the
  // broker acknowledged, leaving the group. What is not acknowledged and
  // committed by then is reported, and Run() fails (a restart processes it
  // again).
  absl::Duration shutdown_timeout = absl::Seconds(10);
  // Record per-message latency (consumed -> outputs handed to the producer).
  bool record_latency = false;
  // With record_latency: samples to make room for (and write once) when Run()
  // starts. Growing the sample vectors later is a pause of the loop itself
  // (copying and first-touching tens of megabytes: 100-230 ms measured), and
  // the backlog it leaves behind then shows up in every later message's
  // latency.
  size_t latency_capacity = 0;
  // Print assignments, revocations and postponed commits on stderr.
  bool verbose = true;
  // Called after each batch while partitions warm up, with the warm-start
  // history processed so far and the total planned (both cumulative).
  std::function<void(uint64_t done, uint64_t total)> on_warm_progress;
};

// The options of a KafkaConfig, with defaults for what it leaves empty.
absl::StatusOr<StreamOptions> StreamOptionsFromConfig(
    const ebb::v1::KafkaConfig& config);

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
  uint64_t kafka_errors = 0;  // transient consumer errors (retried)
  double busy_seconds = 0;    // CPU time of the consuming thread in Run()
  PipelineStats pipeline;     // summed over every partition, past and present
};

class StreamRunner : public RebalanceListener, public Output {
 public:
  static absl::StatusOr<std::unique_ptr<StreamRunner>> Create(
      StreamOptions options, EngineConfig engine, const Clock* clock);
  ~StreamRunner() override;

  // Consumes until *stop is set (or the idle exit), then finishes the batch,
  // flushes, commits, leaves the group, within options.shutdown_timeout. An
  // error means outputs may not have been acknowledged; nothing after the
  // last good commit was committed (stats().shutdown_incomplete: the stop
  // ran out of time, and the error says what was left).
  absl::Status Run(const std::atomic<bool>* stop);

  // Not thread-safe: call when Run() has returned (or from its thread).
  StreamStats stats() const;
  // Partitions currently assigned; safe from any thread (tests wait on it).
  int assigned_partitions() const {
    return assigned_partitions_.load(std::memory_order_acquire);
  }
  // Latency samples in ns, when options.record_latency, one per processed
  // message: latencies() from the return of its batch's consume call (so it
  // includes waiting behind the messages before it in that batch), and
  // service_times() from the start of its own processing.
  const std::vector<uint32_t>& latencies() const { return latencies_; }
  const std::vector<uint32_t>& service_times() const { return service_times_; }

  // Output (the pipelines call these).
  void OnAlert(const ebb::v1::Alert& alert) override;
  void OnDeadLetter(const DeadLetterView& dead_letter) override;

  // RebalanceListener (the consumer calls these on this thread).
  void OnAssign(rd_kafka_topic_partition_list_t* partitions) override;
  void OnRevoke(const rd_kafka_topic_partition_list_t* partitions,
                bool lost) override;

 private:
  using TaskKey = std::pair<int, int32_t>;  // (kind, partition)
  // Offsets to commit, at most one per task.
  using TaskOffsets = std::vector<std::pair<TaskKey, int64_t>>;
  struct Task;
  StreamRunner(StreamOptions options, EngineConfig engine, const Clock* clock);

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
  // Commits the checkpoints whose outputs are all acknowledged, waiting for
  // the result until `deadline`.
  void CommitAcknowledged(absl::Time deadline);
  // "ebb.prices[0] offsets 1200-1499, ...": processed, not committed.
  std::string Uncommitted() const;
  size_t NextBatch();  // into batch_
  void ProcessBatch(size_t count);
  // With record_latency: room for `extra` more samples in each vector
  // (geometric: at least doubling, and at least 2^20 samples).
  void RoomForSamples(size_t extra, bool geometric);
  void Process(Task& task, const rd_kafka_message_t& message);
  // Loads the message structs, keys and values of the messages ahead of
  // batch_[i] into the cache; hints only.
  void PrefetchMessages(size_t i, size_t count) const;
  static constexpr size_t kMessageAhead = 32;
  static constexpr size_t kBytesAhead = 24;
  // Pipeline prefetch hints from the keys of the messages ahead of batch_[i]
  // (`current`) that belong to the same partition.
  void HintAhead(const Task& task, const rd_kafka_message_t& current, size_t i,
                 size_t count) const;
  // kPrices, kNews, or -1 for a topic ebb does not consume.
  int KindOf(const char* topic) const;
  Task* TaskFor(const char* topic, int32_t partition);
  // The offset a commit of `task` would store now.
  static int64_t CommitTarget(const Task& task);
  // Records the processed offsets not yet committed or checkpointed, with the
  // producer's queued() count.
  void TakeCheckpoint();
  // Serves commit results, then commits (asynchronously) the newest
  // checkpoints whose outputs the producer has all settled.
  void CommitSettled();
  // Hands the results of asynchronous commits to OnCommitResult, waiting at
  // most `timeout_ms` for the first.
  void ServeCommitResults(int timeout_ms);
  // `rebalances`: rebalances_ when the commit was sent.
  void OnCommitResult(const absl::Status& status,
                      const rd_kafka_topic_partition_list_t* offsets,
                      uint64_t rebalances);
  // Puts the offsets of `newer` into `into`, replacing those of the same
  // task.
  static void MergeOffsets(const TaskOffsets& newer, TaskOffsets* into);
  // Flushes the producer, then commits the processed offsets of `tasks`
  // (all when empty) and waits for the result. When the flush takes longer
  // than `timeout` (a broker outage), nothing is committed and the result is
  // OK: a later commit retries. An error means a delivery failed for good.
  absl::Status CommitProcessed(const std::vector<Task*>& tasks,
                               absl::Duration timeout);
  // Reacts to a commit refused with Aborted (the group is rebalancing).
  void HoldIfRebalancing(const absl::Status& refused);
  void Retire(Task& task);
  void SetFatal(absl::Status status);
  // Decides where a newly assigned price partition starts and how much of it
  // is warm-start history.
  void PlanWarmStart(Task& task, rd_kafka_topic_partition_t* element,
                     int64_t committed);
  // Resumes at the committed offset, or (none) where a new group starts.
  void StartWithoutWarmUp(Task& task, rd_kafka_topic_partition_t* element,
                          int64_t committed);

  StreamOptions options_;
  EngineConfig engine_;
  const Clock* clock_;
  std::unique_ptr<Consumer> consumer_;
  std::unique_ptr<Producer> producer_;

  absl::flat_hash_map<TaskKey, std::unique_ptr<Task>> tasks_;
  // Offsets whose outputs were all queued as producer messages 1..seq: safe
  // to commit once settled_through() reaches seq. Oldest first; a revoke
  // removes its partitions.
  struct Checkpoint {
    uint64_t seq = 0;
    TaskOffsets offsets;
  };
  std::deque<Checkpoint> checkpoints_;
  std::vector<rd_kafka_message_t*> batch_;  // null beyond the live messages
  uint64_t consume_calls_ = 0;              // ConsumeBatch calls started
  // A commit was refused because the group is rebalancing: with the eager
  // protocol every partition is about to be revoked, and whatever is processed
  // now could not be committed (its new owner would process it again). So
  // messages are left unprocessed (the new owners start from the committed
  // offsets) until the revoke arrives.
  bool hold_until_revoke_ = false;
  // Cooperative protocol: after a commit refused because the group is
  // rebalancing, checkpoints are not committed before this time (10 s
  // later) or the next assignment, whichever comes first.
  absl::Time commits_paused_until_ = absl::InfinitePast();
  // Rebalance callbacks so far (OnAssign and OnRevoke), to recognise the
  // results of commits sent before the latest one.
  uint64_t rebalances_ = 0;
  int commits_in_flight_ = 0;  // CommitAsync() calls without a result yet
  // The message being processed (outputs need its key and origin).
  Task* current_task_ = nullptr;
  const rd_kafka_message_t* current_ = nullptr;
  bool current_is_history_ = false;

  // The stop has begun: revokes (leaving the group) commit nothing more.
  bool shutting_down_ = false;
  uint64_t partitions_assigned_ = 0;  // over every assignment so far
  absl::Status last_commit_error_;    // of the latest refused commit

  std::atomic<int> assigned_partitions_{0};
  absl::Time last_activity_;  // the last message or assignment
  uint64_t warm_total_ = 0;   // history messages planned by warm starts
  StreamStats stats_;
  PipelineStats retired_;  // stats of partitions no longer assigned
  absl::Status fatal_;
  std::string scratch_;
  std::vector<uint32_t> latencies_;
  std::vector<uint32_t> service_times_;
};

}  // namespace ebb::kafka
