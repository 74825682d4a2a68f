// StreamRunner's rebalances (the RebalanceListener): a revoke commits or
// drops its partitions' tasks, an assignment creates them (StartTasks, where
// the warm-start planner decides where each starts), and a rewind after an
// aborted transaction creates them again from the committed offsets. The
// loop is stream_runner.cc.

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "connectors/kafka/stream_runner.h"  // IWYU pragma: associated

namespace ebb::kafka {
namespace {

constexpr absl::Duration kRequestTimeout = absl::Seconds(10);
// How long a revoke waits for acknowledgements before giving up on its
// commit.
constexpr absl::Duration kFinalFlushTimeout = absl::Seconds(60);

}  // namespace

void StreamRunner::Retire(PartitionTask& task) {
  retired_.Add(task.pipeline().stats());
}

void StreamRunner::OnRevoke(const rd_kafka_topic_partition_list_t* partitions,
                            bool lost) {
  committer_->OnRebalance(/*assigned=*/false);
  std::vector<PartitionTask*> revoked;
  for (int i = 0; i < partitions->cnt; ++i) {
    PartitionTask* task =
        TaskFor(partitions->elems[i].topic, partitions->elems[i].partition);
    if (task != nullptr) revoked.push_back(task);
  }
  if (lost) {
    // Another member may own them already: their state is dropped without a
    // flush or commit, and the new owner resumes from the last commit.
    ++stats_.lost;
    if (options_.verbose) {
      logger_->Log(absl::StrCat(
          "the group membership was lost; dropping ", revoked.size(),
          " partition", revoked.size() == 1 ? "" : "s",
          " without committing (the next owner resumes from the last "
          "commit)"));
    }
  } else if (shutting_down_) {
    // The stop has committed what it could (FinishAndCommit).
  } else if (!options_.warm_start && fatal_.ok()) {
    // Without a warm start nobody would apply the events still waiting in
    // reorder buffers (allowed_lateness > 0): apply them now, before their
    // offsets are committed.
    for (PartitionTask* task : revoked) {
      if (absl::Status s = task->Flush(*output_); !s.ok()) SetFatal(s);
    }
  }
  if (!lost && !shutting_down_ && fatal_.ok()) {
    // If this cannot flush in time, the partitions' new owner reprocesses
    // from the last commit (at-least-once).
    if (absl::Status s = committer_->CommitRevoked(revoked, kFinalFlushTimeout);
        !s.ok()) {
      SetFatal(s);
    }
  }
  for (PartitionTask* task : revoked) {
    const TaskKey key = task->key();
    committer_->Forget(key);
    Retire(*task);
    tasks_.erase(key);
  }
  assigned_partitions_.store(static_cast<int>(tasks_.size()),
                             std::memory_order_release);
  if (!revoked.empty() && options_.verbose) {
    logger_->Log(absl::StrCat(revoked.size(), " partition",
                              revoked.size() == 1 ? "" : "s", " revoked"));
  }
}

int StreamRunner::StartTasks(rd_kafka_topic_partition_list_t* partitions,
                             const rd_kafka_topic_partition_list_t* committed,
                             size_t taken) {
  int warm = 0;
  for (int i = 0; i < partitions->cnt; ++i) {
    rd_kafka_topic_partition_t* element = &partitions->elems[i];
    const int kind = KindOf(element->topic);
    absl::StatusOr<std::unique_ptr<PartitionTask>> made = PartitionTask::Create(
        kind, kind == kPrices ? &options_.prices_topic : &options_.news_topic,
        element->partition, engine_, clock_);
    if (!made.ok()) {
      SetFatal(made.status());
      return warm;
    }
    std::unique_ptr<PartitionTask> task = *std::move(made);
    task->created_during_call = consume_calls_;
    task->created_at_index = taken;
    const bool known = committed != nullptr &&
                       committed->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR;
    const int64_t committed_offset =
        known ? committed->elems[i].offset : RD_KAFKA_OFFSET_INVALID;
    if (!known) {
      // Resume from the group's offsets, whatever they are; no warm start.
      element->offset = RD_KAFKA_OFFSET_INVALID;
      task->next_offset = -1;
    } else if (kind == kPrices) {
      planner_->PlanWarmStart(*task, element, committed_offset);
      if (task->warm_until > element->offset) ++warm;
    } else {
      planner_->StartWithoutWarmUp(*task, element, committed_offset);
    }
    committer_->Track(task.get(), committed_offset);
    const TaskKey key = task->key();
    // Where live processing begins: a rewind before the first commit
    // returns here.
    if (committed_offset < 0) resume_at_[key] = task->CommitTarget();
    tasks_[key] = std::move(task);
  }
  return warm;
}

absl::Status StreamRunner::Rewind() {
  if (tasks_.empty()) return absl::OkStatus();
  if (transactional_ == nullptr) {
    return absl::InternalError("rewind without a transactional committer");
  }
  const int count = static_cast<int>(tasks_.size());
  PartitionListPtr partitions(rd_kafka_topic_partition_list_new(count));
  PartitionListPtr committed(rd_kafka_topic_partition_list_new(count));
  std::vector<TaskKey> never_committed;
  for (auto& [key, task] : tasks_) {
    rd_kafka_topic_partition_list_add(partitions.get(), task->topic->c_str(),
                                      task->partition);
    int64_t offset = transactional_->committed(key);
    if (offset < 0) {
      // Nothing committed yet: back to where the assignment began.
      auto it = resume_at_.find(key);
      if (it != resume_at_.end()) offset = it->second;
      never_committed.push_back(key);
    }
    rd_kafka_topic_partition_list_add(committed.get(), task->topic->c_str(),
                                      task->partition)
        ->offset = offset;
    committer_->Forget(key);
    Retire(*task);
  }
  tasks_.clear();
  const int warm = StartTasks(partitions.get(), committed.get(), 0);
  if (!fatal_.ok()) return fatal_;
  // Their start is still to be committed (pinned), as at the assignment.
  for (const TaskKey& key : never_committed) {
    auto it = tasks_.find(key);
    if (it != tasks_.end()) committer_->Track(it->second.get(), -1);
  }
  if (absl::Status s = consumer_->Seek(partitions.get(), kRequestTimeout);
      !s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("rewind after an aborted transaction: ", s.message()));
  }
  if (options_.verbose) {
    logger_->Log(
        absl::StrCat("rewound ", count, " partition", count == 1 ? "" : "s",
                     " to their committed offsets (", warm, " warming up)"));
  }
  return absl::OkStatus();
}

void StreamRunner::OnAssign(rd_kafka_topic_partition_list_t* partitions) {
  committer_->OnRebalance(/*assigned=*/true);
  ++stats_.assignments;
  partitions_assigned_ += static_cast<uint64_t>(partitions->cnt);
  last_activity_ = Now();
  // Messages the current ConsumeBatch call has already taken were fetched
  // before this assignment (librdkafka 2.0.2 serves the rebalance in the
  // middle of the call; batch_ is null beyond them).
  size_t taken = 0;
  while (taken < batch_.size() && batch_[taken] != nullptr) ++taken;

  // The group's committed offsets, in one request.
  PartitionListPtr committed(rd_kafka_topic_partition_list_copy(partitions));
  absl::Status have_committed =
      consumer_->Committed(committed.get(), kRequestTimeout);
  if (!have_committed.ok()) {
    logger_->Log(absl::StrCat(have_committed.message(),
                              "; resuming from the group's offsets"));
  }
  const int warm = StartTasks(
      partitions, have_committed.ok() ? committed.get() : nullptr, taken);
  assigned_partitions_.store(static_cast<int>(tasks_.size()),
                             std::memory_order_release);
  if (options_.verbose) {
    logger_->Log(absl::StrCat(partitions->cnt, " partition",
                              partitions->cnt == 1 ? "" : "s", " assigned (",
                              warm, " warming up)"));
  }
}

}  // namespace ebb::kafka
