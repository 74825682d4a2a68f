#pragma once

// When the input offsets of the assigned partitions are committed, relative
// to the outputs they caused.
//
// OffsetCommitter is what the loop (StreamRunner) asks of a commit protocol:
// it tracks the partitions from assignment to revocation, is told every
// commit_interval to take a checkpoint and on every pass to move commits on,
// commits (or drops) the partitions of a revoke, and commits what it can at
// the stop. AtLeastOnceCommitter is the at-least-once protocol of
// docs/kafka.md.
//
// TransactionalCommitter (transactional_committer.h) is the exactly-once
// protocol behind the same calls, with a transactional producer shared with
// the KafkaOutput: Start() initialises transactions and begins the first;
// Checkpoint() sends the tracked partitions' CommitTarget()s with
// send_offsets_to_transaction and commits; Poll() reports an abortable error
// as Aborted (the loop then rewinds the tasks to the committed offsets and
// rebuilds their state) and a fatal one (fenced) as an error that stops the
// loop; CommitRevoked() commits the open transaction, and a revoke of a lost
// assignment (Forget() without CommitRevoked()) aborts it; Finish() commits.

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "base/clock.h"
#include "connectors/kafka/kafka_client.h"
#include "connectors/kafka/logger.h"
#include "connectors/kafka/partition_task.h"

namespace ebb::kafka {

class OffsetCommitter {
 public:
  virtual ~OffsetCommitter() = default;

  // Before the first assignment, with the brokers' help when the protocol
  // needs it (a transactional committer initialises its producer's
  // transactions, fencing an older instance with the same transactional.id,
  // and begins the first transaction). An error stops the loop.
  virtual absl::Status Start(absl::Time deadline) { return absl::OkStatus(); }

  // A rebalance callback begins: commits sent before it are about a
  // rebalance that is over. `assigned`: the callback is an assignment (the
  // rebalance is over for this member: commits may go again).
  virtual void OnRebalance(bool assigned) = 0;
  // Starts tracking an assigned partition, whose group offset is `committed`
  // (-1: none). The task must outlive its Forget().
  virtual void Track(const PartitionTask* task, int64_t committed) = 0;
  // Commits what the revoked `tasks` (none: every tracked partition)
  // processed, waiting for their outputs at most `timeout` (when that is not
  // enough, nothing is committed and the result is OK: the next owner
  // reprocesses from the last commit). An error means an output is lost for
  // good.
  virtual absl::Status CommitRevoked(absl::Span<PartitionTask* const> tasks,
                                     absl::Duration timeout) = 0;
  // Stops tracking a revoked partition: nothing of it is committed any more.
  virtual void Forget(TaskKey key) = 0;

  // Every commit_interval: what the tracked partitions processed so far is
  // committed once every output queued until now is acknowledged.
  virtual void Checkpoint() = 0;
  // Every pass of the loop: serves commit results and commits what is due.
  // An error means an output is lost for good: nothing more may be
  // committed. Aborted (transactional committers only): the open transaction
  // was aborted; every tracked partition must go back to its committed offset
  // with its state rebuilt, then be tracked again.
  virtual absl::Status Poll() = 0;
  // The stop: checkpoints what was processed and commits what the outputs'
  // acknowledgements allow by `deadline`. An error means a delivery failed for
  // good (nothing more is committed); what is left is Uncommitted().
  virtual absl::Status Finish(absl::Time deadline) = 0;

  // True while input must be left unprocessed: the group is rebalancing and
  // every partition is about to be revoked (what is processed now could not
  // be committed).
  virtual bool holding() const = 0;
  // "ebb.prices[0] offsets 1200-1499, ...": processed, not committed.
  virtual std::string Uncommitted() const = 0;
  // Commits confirmed by the broker.
  virtual uint64_t commits() const = 0;
  // The latest refused commit (OK: none).
  virtual const absl::Status& last_error() const = 0;
};

// What the at-least-once protocol needs of the producer (Producer implements
// it): messages numbered in the order they were queued, and how far their
// delivery reports have come.
class Acknowledgements {
 public:
  virtual ~Acknowledgements() = default;
  virtual uint64_t queued() const = 0;
  virtual uint64_t settled_through() const = 0;
  // The first delivery that failed for good (or a fatal error); OK otherwise.
  virtual absl::Status status() = 0;
  // Waits for every queued message's report, at most `timeout`
  // (DeadlineExceeded); the first delivery failure otherwise.
  virtual absl::Status Flush(absl::Duration timeout) = 0;
};

// What the at-least-once protocol needs of the consumer (Consumer implements
// it; see Consumer for the contracts).
class OffsetStore {
 public:
  virtual ~OffsetStore() = default;
  virtual absl::Status Commit(
      const rd_kafka_topic_partition_list_t* offsets) = 0;
  virtual absl::Status CommitAsync(
      const rd_kafka_topic_partition_list_t* offsets, uint64_t tag) = 0;
  virtual void PollCommitResults(
      int timeout_ms,
      absl::FunctionRef<void(const absl::Status& status,
                             const rd_kafka_topic_partition_list_t* offsets,
                             uint64_t tag)>
          on_result) = 0;
  virtual bool eager() const = 0;
};

// The two above, served by the clients.
class ProducerAcknowledgements : public Acknowledgements {
 public:
  explicit ProducerAcknowledgements(Producer* producer) : producer_(producer) {}
  uint64_t queued() const override { return producer_->queued(); }
  uint64_t settled_through() const override {
    return producer_->settled_through();
  }
  absl::Status status() override { return producer_->status(); }
  absl::Status Flush(absl::Duration timeout) override {
    return producer_->Flush(timeout);
  }

 private:
  Producer* const producer_;
};

class ConsumerOffsetStore : public OffsetStore {
 public:
  explicit ConsumerOffsetStore(Consumer* consumer) : consumer_(consumer) {}
  absl::Status Commit(const rd_kafka_topic_partition_list_t* offsets) override {
    return consumer_->Commit(offsets);
  }
  absl::Status CommitAsync(const rd_kafka_topic_partition_list_t* offsets,
                           uint64_t tag) override {
    return consumer_->CommitAsync(offsets, tag);
  }
  void PollCommitResults(
      int timeout_ms,
      absl::FunctionRef<void(const absl::Status& status,
                             const rd_kafka_topic_partition_list_t* offsets,
                             uint64_t tag)>
          on_result) override {
    consumer_->PollCommitResults(timeout_ms, on_result);
  }
  bool eager() const override { return consumer_->eager(); }

 private:
  Consumer* const consumer_;
};

// At-least-once: a checkpoint holds the next offset of every partition
// processed since the last one and the producer's queued() count; it is
// committed (asynchronously) as soon as settled_through() reaches that count,
// so the loop never waits for the broker. While acknowledgements are slow at
// most two checkpoints wait: the oldest, and one that collects the rest.
//
// One asynchronous commit is on its way at a time: librdkafka retries a
// commit that failed (a request timed out, the coordinator lost) on its own,
// behind the back of commits sent after it, so two on their way can land in
// the other order and move an offset back. Offsets that become due meanwhile
// wait, merged (one per partition), for its result, or for 60 s without one.
// The latest confirmed commit of a partition is what the group holds: when
// it is older than one confirmed before it, the partition's offset is
// offered again at the next checkpoint. A refused commit is offered again at
// the next checkpoint too.
//
// A revoke and the stop flush the producer and commit synchronously, after the
// asynchronous commits still on their way. A commit refused because the group
// is rebalancing holds processing until the revoke (eager protocol) or pauses
// commits until the next assignment or 10 s (cooperative); a refusal of a
// commit sent before the latest rebalance callback is ignored.
class AtLeastOnceCommitter : public OffsetCommitter {
 public:
  // Every pointer must outlive it. `verbose`: log the pauses of a rebalance.
  AtLeastOnceCommitter(OffsetStore* store, Acknowledgements* acks,
                       const Clock* clock, Logger* logger, bool verbose)
      : store_(store),
        acks_(acks),
        clock_(clock),
        logger_(logger),
        verbose_(verbose) {}

  void OnRebalance(bool assigned) override;
  void Track(const PartitionTask* task, int64_t committed) override;
  absl::Status CommitRevoked(absl::Span<PartitionTask* const> tasks,
                             absl::Duration timeout) override;
  void Forget(TaskKey key) override;
  void Checkpoint() override;
  absl::Status Poll() override;
  absl::Status Finish(absl::Time deadline) override;
  bool holding() const override { return hold_until_revoke_; }
  std::string Uncommitted() const override;
  uint64_t commits() const override { return commits_; }
  const absl::Status& last_error() const override { return last_error_; }

 private:
  // Offsets to commit, at most one per partition.
  using Offsets = std::vector<std::pair<TaskKey, int64_t>>;
  // Offsets whose outputs were all queued as producer messages 1..seq: safe
  // to commit once settled_through() reaches seq.
  struct Pending {
    uint64_t seq = 0;
    Offsets offsets;
  };
  struct Partition {
    const PartitionTask* task = nullptr;
    int64_t committed = -1;     // of the latest confirmed commit
    int64_t checkpointed = -1;  // the last offset put in a checkpoint
  };

  absl::Time Now() const { return absl::FromUnixNanos(clock_->NowNs()); }
  Partition* Find(const char* topic, int32_t partition);
  // Puts the offsets of `newer` into `into`, replacing those of the same
  // partition.
  static void MergeOffsets(const Offsets& newer, Offsets* into);
  // Moves the checkpoints whose outputs are all acknowledged into ready_.
  void TakeSettled();
  // Commits ready_ asynchronously (what is not committed already). False:
  // nothing was sent.
  bool SendReady();
  // Hands the results of asynchronous commits to OnCommitResult, waiting at
  // most `timeout_ms` for the first.
  void ServeCommitResults(int timeout_ms);
  // `rebalances`: rebalances_ when the commit was sent.
  void OnCommitResult(const absl::Status& status,
                      const rd_kafka_topic_partition_list_t* offsets,
                      uint64_t rebalances);
  // Reacts to a commit refused with Aborted (the group is rebalancing).
  void HoldIfRebalancing(const absl::Status& refused);
  // Commits the checkpoints whose outputs are all acknowledged, waiting for
  // the result until `deadline`.
  void CommitAcknowledged(absl::Time deadline);

  OffsetStore* const store_;
  Acknowledgements* const acks_;
  const Clock* const clock_;
  Logger* const logger_;
  const bool verbose_;

  absl::flat_hash_map<TaskKey, Partition> partitions_;
  // Oldest first; a revoke removes its partitions.
  std::deque<Pending> checkpoints_;
  // Acknowledged, not sent yet (a commit is on its way, or the group is
  // rebalancing); a revoke removes its partitions.
  Offsets ready_;
  // A commit was refused because the group is rebalancing: with the eager
  // protocol every partition is about to be revoked, and whatever is
  // processed now could not be committed (its new owner would process it
  // again). So messages are left unprocessed (the new owners start from the
  // committed offsets) until the revoke arrives.
  bool hold_until_revoke_ = false;
  // Cooperative protocol: after a commit refused because the group is
  // rebalancing, checkpoints are not committed before this time (10 s
  // later) or the next assignment, whichever comes first.
  absl::Time commits_paused_until_ = absl::InfinitePast();
  // Rebalance callbacks so far, to recognise the results of commits sent
  // before the latest one.
  uint64_t rebalances_ = 0;
  int commits_in_flight_ = 0;  // CommitAsync() calls without a result yet
  absl::Time last_sent_;       // the latest CommitAsync() call
  absl::Status last_error_;    // of the latest refused commit
  uint64_t commits_ = 0;
};

}  // namespace ebb::kafka
