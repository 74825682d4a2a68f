#pragma once

// Exactly-once (docs/kafka.md, "Exactly once"): the outputs of the assigned
// partitions and their input offsets commit together, in one Kafka
// transaction per commit interval (KIP-447: one transactional producer per
// instance, the input offsets sent with the consumer's group metadata).

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "connectors/kafka/kafka_client.h"
#include "connectors/kafka/logger.h"
#include "connectors/kafka/offset_committer.h"
#include "connectors/kafka/partition_task.h"

namespace ebb::kafka {

// A transaction is open from Start() on and begun again after every commit
// or abort; the KafkaOutput produces into it (the same producer).
// Checkpoint() sends the tracked partitions' CommitTarget()s with
// send_offsets_to_transaction and commits, when anything was produced or an
// offset moved since the transaction began. librdkafka's error classes:
// retriable, the same call again until `retry_for` has passed (then the
// error is handled as abortable); abortable, the transaction is aborted and
// the next Poll() returns Aborted (the loop rewinds every tracked partition
// to its committed offset and rebuilds its state); fatal (fenced by a newer
// instance with the same transactional.id, among others), every later Poll()
// and Finish() fail with it and nothing is committed any more.
// CommitRevoked() commits the open transaction (every partition's, not only
// the revoked ones: a transaction covers them all); Forget() of a partition
// that CommitRevoked() did not just commit (a lost assignment, or a stop
// after an error) aborts the open transaction when it holds anything.
// Finish() commits and begins no new transaction.
class TransactionalCommitter : public OffsetCommitter {
 public:
  // The producer must have a transactional.id; every pointer must outlive
  // it. `verbose`: log commits refused and aborts.
  TransactionalCommitter(Producer* producer, Consumer* consumer, Logger* logger,
                         bool verbose,
                         absl::Duration retry_for = absl::Seconds(30))
      : producer_(producer),
        consumer_(consumer),
        logger_(logger),
        verbose_(verbose),
        retry_for_(retry_for) {}

  absl::Status Start(absl::Time deadline) override;
  void OnRebalance(bool assigned) override {}
  void Track(const PartitionTask* task, int64_t committed) override;
  absl::Status CommitRevoked(absl::Span<PartitionTask* const> tasks,
                             absl::Duration timeout) override;
  void Forget(TaskKey key) override;
  void Checkpoint() override;
  absl::Status Poll() override;
  absl::Status Finish(absl::Time deadline) override;
  bool holding() const override { return false; }
  std::string Uncommitted() const override;
  uint64_t commits() const override { return commits_; }
  const absl::Status& last_error() const override { return last_error_; }

  // An output could not be queued because the open transaction failed
  // (Producer::Produce() answered Aborted): it is aborted at the next Poll()
  // (which then returns Aborted) and nothing of it is committed.
  void MustAbort(const absl::Status& why);
  // The offset of a tracked partition that the last committed transaction
  // (or, before any, the group at assignment) holds; -1 when none or not
  // tracked. What a rewind returns to.
  int64_t committed(TaskKey key) const {
    auto it = partitions_.find(key);
    return it == partitions_.end() ? -1 : it->second.committed;
  }
  // Transactions aborted after an abortable error (or a lost assignment).
  uint64_t aborts() const { return aborts_; }
  // The fatal error, once there is one.
  const absl::Status& fatal() const { return fatal_; }

 private:
  struct Partition {
    const PartitionTask* task = nullptr;
    int64_t committed = -1;  // the last offset committed
    int64_t at_begin = -1;   // CommitTarget() when the transaction began
  };

  // True when the open transaction holds outputs or moved offsets.
  bool HasWork() const;
  // Commits the open transaction by `deadline`, then (unless `last`) begins
  // the next. Abortable errors abort it (and set rewind_); fatal ones set
  // fatal_. While a rewind is pending it aborts instead.
  void CommitOpen(absl::Time deadline, bool last);
  void Abort(absl::Time deadline);
  void Begin();
  // Calls `call` while it fails retriably and `deadline` has not passed
  // (each call gets the time left, at least 100 ms).
  TxnResult Retry(absl::Time deadline,
                  absl::FunctionRef<TxnResult(absl::Duration)> call);
  void SetFatal(const absl::Status& status);

  Producer* const producer_;
  Consumer* const consumer_;
  Logger* const logger_;
  const bool verbose_;
  const absl::Duration retry_for_;

  absl::flat_hash_map<TaskKey, Partition> partitions_;
  // Partitions whose outputs CommitRevoked() just committed (or gave up on):
  // their Forget() aborts nothing.
  absl::flat_hash_set<TaskKey> revoke_done_;
  bool open_ = false;       // a transaction is begun and not ended
  bool finished_ = false;   // Finish() ran: no new transaction
  bool rewind_ = false;     // aborted: the next Poll() returns Aborted
  bool abort_due_ = false;  // MustAbort(): abort before anything else
  uint64_t queued_at_begin_ = 0;
  uint64_t commits_ = 0;
  uint64_t aborts_ = 0;
  absl::Status last_error_;
  absl::Status fatal_;
};

}  // namespace ebb::kafka
