#include "connectors/kafka/offset_committer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ebb::kafka {
namespace {

// How long checkpoints wait after a commit refused by a cooperative
// rebalance, unless a rebalance callback comes first.
constexpr absl::Duration kCommitPause = absl::Seconds(10);
// How long a synchronous commit waits for asynchronous ones still on their
// way.
constexpr absl::Duration kCommitDrainTimeout = absl::Seconds(5);
// How long the next asynchronous commit waits for the result of the one on
// its way. librdkafka always reports one (at the latest when its retries and
// the wait for a coordinator, session.timeout.ms, run out); this only bounds
// a wait that would otherwise stop commits for good.
constexpr absl::Duration kCommitResultTimeout = absl::Seconds(60);

}  // namespace

void AtLeastOnceCommitter::OnRebalance(bool assigned) {
  ++rebalances_;
  if (!assigned) return;
  // The rebalance is over for this member: commits may go again (with the
  // cooperative protocol the revoke comes before the member has rejoined,
  // so only the assignment ends the pause).
  commits_paused_until_ = absl::InfinitePast();
  if (store_->eager()) hold_until_revoke_ = false;
}

void AtLeastOnceCommitter::Track(const PartitionTask* task, int64_t committed) {
  Partition& p = partitions_[task->key()];
  p = Partition();
  p.task = task;
  p.committed = committed >= 0 ? committed : -1;
}

void AtLeastOnceCommitter::Forget(TaskKey key) {
  // A pending checkpoint must not commit for a later owner of the key.
  auto drop = [&](Offsets& offsets) {
    offsets.erase(
        std::remove_if(offsets.begin(), offsets.end(),
                       [&](const auto& entry) { return entry.first == key; }),
        offsets.end());
  };
  for (Pending& checkpoint : checkpoints_) drop(checkpoint.offsets);
  drop(ready_);
  partitions_.erase(key);
  if (partitions_.empty()) hold_until_revoke_ = false;
}

AtLeastOnceCommitter::Partition* AtLeastOnceCommitter::Find(const char* topic,
                                                            int32_t partition) {
  for (auto& [key, p] : partitions_) {
    if (key.second == partition && *p.task->topic == topic) return &p;
  }
  return nullptr;
}

std::string AtLeastOnceCommitter::Uncommitted() const {
  std::vector<std::pair<TaskKey, std::string>> parts;
  for (const auto& [key, p] : partitions_) {
    const PartitionTask& task = *p.task;
    const int64_t target = task.CommitTarget();
    if (target < 0 || target == p.committed) continue;
    parts.emplace_back(
        key,
        p.committed >= 0
            ? absl::StrCat(*task.topic, "[", task.partition, "] offsets ",
                           p.committed, "-", target - 1)
            : absl::StrCat(*task.topic, "[", task.partition, "] offsets up to ",
                           target - 1, " (none committed)"));
  }
  std::sort(parts.begin(), parts.end());
  std::string out;
  for (const auto& [key, text] : parts) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", text);
  }
  return out;
}

void AtLeastOnceCommitter::Checkpoint() {
  Pending checkpoint;
  checkpoint.seq = acks_->queued();
  for (auto& [key, p] : partitions_) {
    const int64_t target = p.task->CommitTarget();
    if (target >= 0 && target != p.checkpointed && target != p.committed) {
      checkpoint.offsets.emplace_back(key, target);
      p.checkpointed = target;
    }
  }
  if (checkpoint.offsets.empty()) return;
  // While acknowledgements are slow (a broker outage) at most two
  // checkpoints wait: the oldest, committed as soon as it settles, and one
  // that collects everything after it.
  if (checkpoints_.size() >= 2 &&
      checkpoints_.back().seq > acks_->settled_through()) {
    Pending& back = checkpoints_.back();
    back.seq = checkpoint.seq;
    MergeOffsets(checkpoint.offsets, &back.offsets);
    return;
  }
  checkpoints_.push_back(std::move(checkpoint));
}

void AtLeastOnceCommitter::MergeOffsets(const Offsets& newer, Offsets* into) {
  for (const auto& [key, offset] : newer) {
    auto same = std::find_if(into->begin(), into->end(),
                             [&](const auto& m) { return m.first == key; });
    if (same == into->end()) {
      into->emplace_back(key, offset);
    } else {
      same->second = offset;  // checkpoints only move forward
    }
  }
}

absl::Status AtLeastOnceCommitter::Poll() {
  ServeCommitResults(0);
  if (absl::Status s = acks_->status(); !s.ok()) {
    // An output is lost for good: nothing after the last commit may be
    // committed now.
    return s;
  }
  TakeSettled();
  // A rebalance refused a commit: eager, every partition is about to be
  // revoked (and the revoke drops their offsets); cooperative, the offsets
  // wait for the new assignment.
  if (hold_until_revoke_ || Now() < commits_paused_until_) {
    return absl::OkStatus();
  }
  if (commits_in_flight_ > 0) {
    if (Now() - last_sent_ < kCommitResultTimeout) return absl::OkStatus();
    if (!ready_.empty()) {
      logger_->Log(absl::StrCat("no result for the offset commit sent ",
                                absl::FormatDuration(Now() - last_sent_),
                                " ago; committing the newer offsets"));
    }
  }
  SendReady();
  return absl::OkStatus();
}

void AtLeastOnceCommitter::TakeSettled() {
  const uint64_t settled = acks_->settled_through();
  while (!checkpoints_.empty() && checkpoints_.front().seq <= settled) {
    MergeOffsets(checkpoints_.front().offsets, &ready_);
    checkpoints_.pop_front();
  }
}

bool AtLeastOnceCommitter::SendReady() {
  PartitionListPtr list(
      rd_kafka_topic_partition_list_new(static_cast<int>(ready_.size())));
  for (const auto& [key, offset] : ready_) {
    auto it = partitions_.find(key);
    if (it == partitions_.end() || offset == it->second.committed) continue;
    rd_kafka_topic_partition_list_add(
        list.get(), it->second.task->topic->c_str(), key.second)
        ->offset = offset;
  }
  ready_.clear();
  if (list->cnt == 0) return false;
  const absl::Status sent = store_->CommitAsync(list.get(), rebalances_);
  if (!sent.ok()) {
    OnCommitResult(sent, list.get(), rebalances_);
    return false;
  }
  ++commits_in_flight_;
  last_sent_ = Now();
  return true;
}

void AtLeastOnceCommitter::ServeCommitResults(int timeout_ms) {
  store_->PollCommitResults(
      timeout_ms,
      [this](const absl::Status& status,
             const rd_kafka_topic_partition_list_t* offsets, uint64_t tag) {
        if (commits_in_flight_ > 0) --commits_in_flight_;
        OnCommitResult(status, offsets, tag);
      });
}

void AtLeastOnceCommitter::OnCommitResult(
    const absl::Status& status, const rd_kafka_topic_partition_list_t* offsets,
    uint64_t rebalances) {
  bool any = false;
  for (int i = 0; offsets != nullptr && i < offsets->cnt; ++i) {
    const rd_kafka_topic_partition_t& e = offsets->elems[i];
    Partition* p = Find(e.topic, e.partition);
    if (p == nullptr) continue;
    if (status.ok() && e.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      // An older commit confirmed after a newer one landed after it: the
      // group holds the older offset, and the next checkpoint offers the
      // newer one again.
      if (e.offset < p->committed) p->checkpointed = -1;
      p->committed = e.offset;
      any = true;
    } else {
      p->checkpointed = -1;  // the next checkpoint retries it
    }
  }
  if (any) ++commits_;
  if (status.ok()) return;
  if (offsets == nullptr) {
    // Which offsets were refused is unknown (librdkafka reports them with
    // every result): every partition's is offered again.
    for (auto& [key, p] : partitions_) p.checkpointed = -1;
  }
  last_error_ = status;
  // A refusal of a commit sent before the latest rebalance callback is about
  // a rebalance that is over (the bookkeeping above is right either way: a
  // refused offset is offered again).
  if (rebalances != rebalances_) return;
  if (absl::IsAborted(status) && store_->eager()) {
    HoldIfRebalancing(status);
    return;
  }
  if (absl::IsAborted(status)) {
    // Cooperative: processing goes on, but another commit before this
    // member has rejoined can come back ILLEGAL_GENERATION, which makes
    // librdkafka declare the whole assignment lost (seen on the mock
    // broker). Commits wait for the new assignment (or 10 s).
    if (commits_paused_until_ < Now() && verbose_) {
      logger_->Log(absl::StrCat(status.message(),
                                ": the group is rebalancing; commits wait for "
                                "the new assignment"));
    }
    commits_paused_until_ = Now() + kCommitPause;
    return;
  }
  // Not fatal: the next checkpoint retries; a crash before then re-emits
  // (at-least-once).
  logger_->Log(absl::StrCat(status.message(), " (will retry)"));
}

void AtLeastOnceCommitter::HoldIfRebalancing(const absl::Status& refused) {
  if (!hold_until_revoke_ && verbose_) {
    logger_->Log(absl::StrCat(refused.message(),
                              ": the group is rebalancing; holding until the "
                              "partitions are revoked"));
  }
  hold_until_revoke_ = true;
}

absl::Status AtLeastOnceCommitter::CommitRevoked(
    absl::Span<PartitionTask* const> tasks, absl::Duration timeout) {
  std::vector<Partition*> due;
  auto consider = [&](Partition* p) {
    if (p == nullptr) return;
    const int64_t target = p->task->CommitTarget();
    if (target >= 0 && target != p->committed) due.push_back(p);
  };
  // No task of ours among the revoked partitions: every tracked partition.
  if (tasks.empty()) {
    for (auto& [key, p] : partitions_) consider(&p);
  } else {
    for (PartitionTask* task : tasks) {
      auto it = partitions_.find(task->key());
      consider(it == partitions_.end() ? nullptr : &it->second);
    }
  }
  if (due.empty()) return absl::OkStatus();
  // Every output caused by the offsets about to be committed must be on the
  // broker first.
  if (absl::Status s = acks_->Flush(timeout); !s.ok()) {
    if (!absl::IsDeadlineExceeded(s)) return s;
    logger_->Log(absl::StrCat(s.message(), "; commit postponed"));
    return absl::OkStatus();
  }
  // An asynchronous commit still on its way (librdkafka may hold it while
  // it looks for the coordinator) could reach the broker after this one and
  // move an offset back: let those finish first, for a few seconds at most.
  const absl::Time drain_until = Now() + kCommitDrainTimeout;
  while (commits_in_flight_ > 0 && Now() < drain_until) {
    ServeCommitResults(10);
  }
  PartitionListPtr list(
      rd_kafka_topic_partition_list_new(static_cast<int>(due.size())));
  for (Partition* p : due) {
    rd_kafka_topic_partition_list_add(list.get(), p->task->topic->c_str(),
                                      p->task->partition)
        ->offset = p->task->CommitTarget();
  }
  absl::Status committed = store_->Commit(list.get());
  if (absl::IsAborted(committed) && store_->eager()) {
    HoldIfRebalancing(committed);
    return absl::OkStatus();
  }
  if (!committed.ok()) {
    // Not fatal: a later commit retries; a crash before then re-emits
    // (at-least-once).
    logger_->Log(absl::StrCat(committed.message(), " (will retry)"));
    return absl::OkStatus();
  }
  ++commits_;
  for (Partition* p : due) {
    p->committed = p->task->CommitTarget();
    p->checkpointed = p->committed;
  }
  return absl::OkStatus();
}

absl::Status AtLeastOnceCommitter::Finish(absl::Time deadline) {
  Checkpoint();
  absl::Status flushed =
      acks_->Flush(std::max(deadline - Now(), absl::ZeroDuration()));
  if (!flushed.ok() && !absl::IsDeadlineExceeded(flushed)) {
    return flushed;  // a delivery failed for good: commit nothing more
  }
  CommitAcknowledged(deadline);
  return absl::OkStatus();
}

void AtLeastOnceCommitter::CommitAcknowledged(absl::Time deadline) {
  auto left_ms = [&] {
    return static_cast<int>(std::clamp<int64_t>(
        absl::ToInt64Milliseconds(deadline - Now()), 0, 10));
  };
  // An older asynchronous commit could land after this one and move an
  // offset back: those finish first.
  while (commits_in_flight_ > 0 && Now() < deadline) {
    ServeCommitResults(left_ms());
  }
  if (commits_in_flight_ > 0) return;
  // What those refused (or moved back) is offered again.
  Checkpoint();
  TakeSettled();
  if (!SendReady()) return;
  while (commits_in_flight_ > 0 && Now() < deadline) {
    ServeCommitResults(left_ms());
  }
}

}  // namespace ebb::kafka
