#include "connectors/kafka/transactional_committer.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ebb::kafka {
namespace {

// The shortest timeout one transactional call gets.
constexpr absl::Duration kMinCallTimeout = absl::Milliseconds(100);
// How long an abort may take before the producer is given up as fatal.
constexpr absl::Duration kAbortTimeout = absl::Seconds(30);
// Between two attempts of a call that failed retriably.
constexpr absl::Duration kRetryPause = absl::Milliseconds(50);

}  // namespace

absl::Status TransactionalCommitter::Start(absl::Time deadline) {
  const TxnResult init = Retry(deadline, [&](absl::Duration timeout) {
    return producer_->InitTransactions(timeout);
  });
  if (!init.ok()) {
    // Before any transaction there is nothing to abort: every class stops.
    SetFatal(init.status);
    return fatal_;
  }
  Begin();
  return fatal_;
}

void TransactionalCommitter::SetFatal(const absl::Status& status) {
  if (fatal_.ok()) fatal_ = status;
  last_error_ = status;
  open_ = false;
}

TxnResult TransactionalCommitter::Retry(
    absl::Time deadline, absl::FunctionRef<TxnResult(absl::Duration)> call) {
  while (true) {
    const TxnResult result =
        call(std::max(deadline - absl::Now(), kMinCallTimeout));
    if (result.kind != TxnResult::kRetriable || absl::Now() >= deadline) {
      return result;
    }
    last_error_ = result.status;
    absl::SleepFor(kRetryPause);  // some retriable errors come back at once
  }
}

void TransactionalCommitter::Begin() {
  if (!fatal_.ok() || finished_) return;
  const TxnResult begun = producer_->BeginTransaction();
  if (!begun.ok()) {
    // Begin fails only in a state no abort repairs.
    SetFatal(begun.status);
    return;
  }
  open_ = true;
  queued_at_begin_ = producer_->queued();
  for (auto& [key, p] : partitions_) p.at_begin = p.task->CommitTarget();
}

bool TransactionalCommitter::HasWork() const {
  if (producer_->queued() != queued_at_begin_) return true;
  for (const auto& [key, p] : partitions_) {
    if (p.task->CommitTarget() != p.at_begin) return true;
  }
  return false;
}

void TransactionalCommitter::Track(const PartitionTask* task,
                                   int64_t committed) {
  // A new task's CommitTarget() counts as work (it pins a new group's start
  // at once), unless the group has already committed it.
  partitions_[task->key()] = {task, committed, committed};
}

void TransactionalCommitter::MustAbort(const absl::Status& why) {
  if (!open_ || !fatal_.ok()) return;
  if (!abort_due_) last_error_ = why;
  abort_due_ = true;
}

void TransactionalCommitter::Abort(absl::Time deadline) {
  open_ = false;
  abort_due_ = false;
  ++aborts_;
  const TxnResult aborted = Retry(deadline, [&](absl::Duration timeout) {
    return producer_->AbortTransaction(timeout);
  });
  if (!aborted.ok()) {
    SetFatal(aborted.status);
    return;
  }
  rewind_ = true;
  if (verbose_) {
    logger_->Log(
        absl::StrCat("transaction aborted (", last_error_.message(),
                     "); every partition goes back to its committed offset"));
  }
  Begin();
}

void TransactionalCommitter::CommitOpen(absl::Time deadline, bool last) {
  if (!open_ || !fatal_.ok()) return;
  if (rewind_ || abort_due_) {
    // Aborted, and the loop has not rewound yet (the abort came from a
    // revoke inside a consume call): what was processed since continued from
    // positions past the aborted outputs. Or an output could not be queued.
    // Either must not be committed.
    if (abort_due_ || HasWork()) Abort(absl::Now() + kAbortTimeout);
    return;
  }
  PartitionListPtr offsets(rd_kafka_topic_partition_list_new(
      static_cast<int>(std::max<size_t>(partitions_.size(), 1))));
  std::vector<Partition*> moved;
  for (auto& [key, p] : partitions_) {
    const int64_t target = p.task->CommitTarget();
    if (target < 0 || target == p.committed) continue;
    rd_kafka_topic_partition_list_add(offsets.get(), p.task->topic->c_str(),
                                      p.task->partition)
        ->offset = target;
    moved.push_back(&p);
  }
  TxnResult result;
  if (offsets->cnt > 0) {
    GroupMetadataPtr group = consumer_->GroupMetadata();
    result = Retry(deadline, [&](absl::Duration timeout) {
      return producer_->SendOffsetsToTransaction(offsets.get(), group.get(),
                                                 timeout);
    });
  }
  if (result.ok()) {
    result = Retry(deadline, [&](absl::Duration timeout) {
      return producer_->CommitTransaction(timeout);
    });
  }
  switch (result.kind) {
    case TxnResult::kOk:
      open_ = false;
      ++commits_;
      for (Partition* p : moved) p->committed = p->task->CommitTarget();
      if (!last) Begin();
      return;
    case TxnResult::kFatal:
      SetFatal(result.status);
      return;
    case TxnResult::kRetriable:  // still failing at the deadline
    case TxnResult::kAbortable:
      last_error_ = result.status;
      Abort(absl::Now() + kAbortTimeout);
      return;
  }
}

void TransactionalCommitter::Checkpoint() {
  if (!open_ || (!abort_due_ && !HasWork())) return;
  CommitOpen(absl::Now() + retry_for_, /*last=*/false);
}

absl::Status TransactionalCommitter::Poll() {
  if (abort_due_ && open_ && fatal_.ok()) Abort(absl::Now() + kAbortTimeout);
  if (!fatal_.ok()) return fatal_;
  if (rewind_) {
    rewind_ = false;
    return absl::AbortedError(
        absl::StrCat("transaction aborted: ", last_error_.message()));
  }
  return absl::OkStatus();
}

absl::Status TransactionalCommitter::CommitRevoked(
    absl::Span<PartitionTask* const> tasks, absl::Duration timeout) {
  if (tasks.empty()) {
    for (const auto& [key, p] : partitions_) revoke_done_.insert(key);
  }
  for (const PartitionTask* task : tasks) revoke_done_.insert(task->key());
  if (open_ && (abort_due_ || HasWork())) {
    CommitOpen(absl::Now() + std::min(timeout, retry_for_), /*last=*/false);
  }
  // An abort leaves the revoked partitions to their next owner (from the
  // committed offsets) and the others to the loop's rewind.
  return fatal_;
}

void TransactionalCommitter::Forget(TaskKey key) {
  if (revoke_done_.erase(key) == 0 && open_ && fatal_.ok() && HasWork()) {
    // Not committed on its way out (the assignment was lost, or the loop
    // stopped on an error): nothing of the open transaction may become
    // visible.
    last_error_ = absl::AbortedError("partitions revoked without a commit");
    Abort(absl::Now() + kAbortTimeout);
  }
  partitions_.erase(key);
}

absl::Status TransactionalCommitter::Finish(absl::Time deadline) {
  if (open_ && (abort_due_ || HasWork())) CommitOpen(deadline, /*last=*/true);
  if (open_) {
    // Nothing in it: end it, so that no open transaction outlives the stop.
    (void)producer_->AbortTransaction(
        std::max(deadline - absl::Now(), kMinCallTimeout));
    open_ = false;
  }
  finished_ = true;
  rewind_ = false;
  return fatal_;
}

std::string TransactionalCommitter::Uncommitted() const {
  std::vector<std::string> parts;
  for (const auto& [key, p] : partitions_) {
    const int64_t target = p.task->CommitTarget();
    if (target < 0 || target == p.committed) continue;
    parts.push_back(
        absl::StrCat(*p.task->topic, "[", p.task->partition, "] offsets ",
                     std::max<int64_t>(p.committed, 0), "-", target - 1));
  }
  std::sort(parts.begin(), parts.end());
  return absl::StrJoin(parts, ", ");
}

}  // namespace ebb::kafka
