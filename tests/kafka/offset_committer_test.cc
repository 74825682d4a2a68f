// Unit tests (no broker) of the at-least-once commit protocol, driven by a
// fake sequence of acknowledgements and commit results.

#include "connectors/kafka/offset_committer.h"

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "base/clock.h"
#include "engine/config.h"
#include "gtest/gtest.h"

namespace ebb::kafka {
namespace {

// partition -> offset, of one commit.
using Sent = std::map<int32_t, int64_t>;

Sent ToSent(const rd_kafka_topic_partition_list_t* list) {
  Sent out;
  for (int i = 0; i < list->cnt; ++i) {
    out[list->elems[i].partition] = list->elems[i].offset;
  }
  return out;
}

// The producer's side: the test says how many messages were queued and how
// far their reports have come.
class FakeAcknowledgements : public Acknowledgements {
 public:
  uint64_t queued() const override { return queued_; }
  uint64_t settled_through() const override { return settled_; }
  absl::Status status() override { return failure_; }
  absl::Status Flush(absl::Duration) override {
    ++flushes_;
    if (!failure_.ok()) return failure_;
    if (flush_times_out_)
      return absl::DeadlineExceededError("flush: timed out");
    settled_ = queued_;
    return absl::OkStatus();
  }

  uint64_t queued_ = 0;
  uint64_t settled_ = 0;
  absl::Status failure_;
  bool flush_times_out_ = false;
  int flushes_ = 0;
};

// The consumer's side: commits are recorded; asynchronous ones get their
// result when the test releases it.
class FakeOffsetStore : public OffsetStore {
 public:
  absl::Status Commit(const rd_kafka_topic_partition_list_t* offsets) override {
    sync_.push_back(ToSent(offsets));
    return sync_result_;
  }
  absl::Status CommitAsync(const rd_kafka_topic_partition_list_t* offsets,
                           uint64_t tag) override {
    async_.push_back(ToSent(offsets));
    pending_.push_back(
        {PartitionListPtr(rd_kafka_topic_partition_list_copy(offsets)), tag});
    return absl::OkStatus();
  }
  void PollCommitResults(
      int,
      absl::FunctionRef<void(const absl::Status&,
                             const rd_kafka_topic_partition_list_t*, uint64_t)>
          on_result) override {
    while (released_ > 0 && !pending_.empty()) {
      --released_;
      Pending p = std::move(newest_first_ ? pending_.back() : pending_.front());
      if (newest_first_) {
        pending_.pop_back();
      } else {
        pending_.pop_front();
      }
      absl::Status status =
          results_.empty() ? absl::OkStatus() : results_.front();
      if (!results_.empty()) results_.pop_front();
      on_result(status, without_offsets_ ? nullptr : p.offsets.get(), p.tag);
    }
  }
  bool eager() const override { return eager_; }

  // Lets the next `n` asynchronous commits report (with results_, else OK).
  void Release(int n) { released_ += n; }

  struct Pending {
    PartitionListPtr offsets;
    uint64_t tag;
  };
  std::vector<Sent> async_, sync_;
  std::deque<Pending> pending_;
  std::deque<absl::Status> results_;
  absl::Status sync_result_;
  int released_ = 0;
  bool eager_ = true;
  // Results come newest first (librdkafka retrying an older commit).
  bool newest_first_ = false;
  // Results come without the list of offsets.
  bool without_offsets_ = false;
};

class NullLogger : public Logger {
 public:
  void Log(absl::string_view message) override {
    messages_.emplace_back(message);
  }
  std::vector<std::string> messages_;
};

class AtLeastOnceCommitterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto engine = CompileConfig(DefaultConfig());
    ASSERT_TRUE(engine.ok());
    for (int32_t p = 0; p < 2; ++p) {
      auto task = PartitionTask::Create(kPrices, &topic_, p, *engine, &clock_);
      ASSERT_TRUE(task.ok());
      tasks_.push_back(*std::move(task));
      committer_.Track(tasks_.back().get(), -1);
    }
  }

  std::string topic_ = "ebb.prices";
  FakeClock clock_{absl::ToUnixNanos(absl::FromUnixSeconds(1'700'000'000))};
  FakeAcknowledgements acks_;
  FakeOffsetStore store_;
  NullLogger log_;
  AtLeastOnceCommitter committer_{&store_, &acks_, &clock_, &log_, true};
  std::vector<std::unique_ptr<PartitionTask>> tasks_;
};

TEST_F(AtLeastOnceCommitterTest, CheckpointIsCommittedOnceItsOutputsSettle) {
  tasks_[0]->next_offset = 100;
  acks_.queued_ = 5;
  committer_.Checkpoint();
  acks_.queued_ = 9;  // outputs of later offsets do not hold it back
  for (uint64_t settled = 0; settled < 5; ++settled) {
    acks_.settled_ = settled;
    ASSERT_TRUE(committer_.Poll().ok());
    EXPECT_TRUE(store_.async_.empty()) << "settled " << settled;
  }
  EXPECT_EQ(committer_.Uncommitted(),
            "ebb.prices[0] offsets up to 99 (none "
            "committed)");
  acks_.settled_ = 5;
  ASSERT_TRUE(committer_.Poll().ok());
  ASSERT_EQ(store_.async_.size(), 1u);
  EXPECT_EQ(store_.async_[0], (Sent{{0, 100}}));
  EXPECT_EQ(committer_.commits(), 0u);  // not confirmed yet
  store_.Release(1);
  ASSERT_TRUE(committer_.Poll().ok());
  EXPECT_EQ(committer_.commits(), 1u);
  EXPECT_EQ(committer_.Uncommitted(), "");
  // Nothing new: no further commit.
  committer_.Checkpoint();
  ASSERT_TRUE(committer_.Poll().ok());
  EXPECT_EQ(store_.async_.size(), 1u);
}

TEST_F(AtLeastOnceCommitterTest, WhileAcknowledgementsLagAtMostTwoWait) {
  // Four checkpoints while nothing settles: the first waits alone, the rest
  // collect into the second (its count is the newest).
  for (int i = 1; i <= 4; ++i) {
    tasks_[0]->next_offset = 10 * i;
    tasks_[1]->next_offset = 100 * i;
    acks_.queued_ = static_cast<uint64_t>(i);
    committer_.Checkpoint();
  }
  acks_.settled_ = 1;
  ASSERT_TRUE(committer_.Poll().ok());
  ASSERT_EQ(store_.async_.size(), 1u);
  EXPECT_EQ(store_.async_[0], (Sent{{0, 10}, {1, 100}}));
  store_.Release(1);
  acks_.settled_ = 3;  // not yet the collecting checkpoint's 4
  ASSERT_TRUE(committer_.Poll().ok());
  EXPECT_EQ(store_.async_.size(), 1u);
  acks_.settled_ = 4;
  ASSERT_TRUE(committer_.Poll().ok());
  ASSERT_EQ(store_.async_.size(), 2u);
  EXPECT_EQ(store_.async_[1], (Sent{{0, 40}, {1, 400}}));
}

// librdkafka retries a commit that failed (a timeout, the coordinator lost)
// on its own: a commit sent meanwhile could land first, and the retried older
// one move the group's offset back. So a commit waits for the result of the
// one on its way; what becomes due meanwhile goes together after it.
TEST_F(AtLeastOnceCommitterTest, OneCommitOnItsWayAtATime) {
  tasks_[0]->next_offset = 10;
  committer_.Checkpoint();
  ASSERT_TRUE(committer_.Poll().ok());
  ASSERT_EQ(store_.async_.size(), 1u);
  tasks_[0]->next_offset = 20;
  committer_.Checkpoint();
  ASSERT_TRUE(committer_.Poll().ok());
  tasks_[0]->next_offset = 30;
  tasks_[1]->next_offset = 5;
  committer_.Checkpoint();
  ASSERT_TRUE(committer_.Poll().ok());
  EXPECT_EQ(store_.async_.size(), 1u);  // the first has no result yet
  store_.Release(1);
  ASSERT_TRUE(committer_.Poll().ok());
  ASSERT_EQ(store_.async_.size(), 2u);
  EXPECT_EQ(store_.async_[1], (Sent{{0, 30}, {1, 5}}));
  store_.Release(1);
  ASSERT_TRUE(committer_.Poll().ok());
  EXPECT_EQ(committer_.commits(), 2u);
  EXPECT_EQ(committer_.Uncommitted(), "");
}

// librdkafka reports every commit in the end; should one never be reported,
// commits wait a minute for it, not for ever.
TEST_F(AtLeastOnceCommitterTest, ACommitWithoutResultHoldsTheNextOneAMinute) {
  tasks_[0]->next_offset = 10;
  committer_.Checkpoint();
  ASSERT_TRUE(committer_.Poll().ok());
  tasks_[0]->next_offset = 20;
  committer_.Checkpoint();
  clock_.Set(clock_.NowNs() + absl::ToInt64Nanoseconds(absl::Seconds(59)));
  ASSERT_TRUE(committer_.Poll().ok());
  EXPECT_EQ(store_.async_.size(), 1u);
  clock_.Set(clock_.NowNs() + absl::ToInt64Nanoseconds(absl::Seconds(2)));
  ASSERT_TRUE(committer_.Poll().ok());
  ASSERT_EQ(store_.async_.size(), 2u);
  EXPECT_EQ(store_.async_[1], (Sent{{0, 20}}));
  ASSERT_EQ(log_.messages_.size(), 1u);
  EXPECT_EQ(log_.messages_[0],
            "no result for the offset commit sent 1m1s ago; committing the "
            "newer offsets");
}

// Should an older commit still land after a newer one (confirmed after it),
// the group holds the older offset: the newer one is committed again.
TEST_F(AtLeastOnceCommitterTest, OlderCommitConfirmedLastIsCommittedAgain) {
  tasks_[0]->next_offset = 10;
  committer_.Checkpoint();
  ASSERT_TRUE(committer_.Poll().ok());
  tasks_[0]->next_offset = 20;
  committer_.Checkpoint();
  clock_.Set(clock_.NowNs() + absl::ToInt64Nanoseconds(absl::Seconds(61)));
  ASSERT_TRUE(committer_.Poll().ok());
  ASSERT_EQ(store_.async_.size(), 2u);
  store_.newest_first_ = true;
  store_.Release(2);
  ASSERT_TRUE(committer_.Poll().ok());
  EXPECT_EQ(committer_.Uncommitted(), "ebb.prices[0] offsets 10-19");
  committer_.Checkpoint();
  ASSERT_TRUE(committer_.Poll().ok());
  ASSERT_EQ(store_.async_.size(), 3u);
  EXPECT_EQ(store_.async_[2], (Sent{{0, 20}}));
  store_.Release(1);
  ASSERT_TRUE(committer_.Poll().ok());
  EXPECT_EQ(committer_.Uncommitted(), "");
}

TEST_F(AtLeastOnceCommitterTest, RefusedOffsetIsOfferedAgain) {
  store_.eager_ = false;
  tasks_[0]->next_offset = 7;
  acks_.queued_ = 1;
  committer_.Checkpoint();
  acks_.settled_ = 1;
  ASSERT_TRUE(committer_.Poll().ok());
  store_.results_.push_back(
      absl::UnavailableError("coordinator not available"));
  store_.Release(1);
  ASSERT_TRUE(committer_.Poll().ok());
  EXPECT_EQ(committer_.commits(), 0u);
  EXPECT_EQ(committer_.last_error().message(), "coordinator not available");
  ASSERT_EQ(log_.messages_.size(), 1u);
  EXPECT_EQ(log_.messages_[0], "coordinator not available (will retry)");
  // The same offset, not moved since, goes again with the next checkpoint.
  committer_.Checkpoint();
  ASSERT_TRUE(committer_.Poll().ok());
  ASSERT_EQ(store_.async_.size(), 2u);
  EXPECT_EQ(store_.async_[1], (Sent{{0, 7}}));
}

TEST_F(AtLeastOnceCommitterTest, RefusalWithoutOffsetsOffersEveryOneAgain) {
  tasks_[0]->next_offset = 7;
  tasks_[1]->next_offset = 3;
  committer_.Checkpoint();
  ASSERT_TRUE(committer_.Poll().ok());
  store_.results_.push_back(absl::DeadlineExceededError("commit: timed out"));
  store_.without_offsets_ = true;
  store_.Release(1);
  ASSERT_TRUE(committer_.Poll().ok());
  committer_.Checkpoint();
  ASSERT_TRUE(committer_.Poll().ok());
  ASSERT_EQ(store_.async_.size(), 2u);
  EXPECT_EQ(store_.async_[1], (Sent{{0, 7}, {1, 3}}));
}

TEST_F(AtLeastOnceCommitterTest, EagerRebalanceRefusalHoldsUntilRevoke) {
  tasks_[0]->next_offset = 7;
  committer_.Checkpoint();
  ASSERT_TRUE(committer_.Poll().ok());
  store_.results_.push_back(absl::AbortedError("rebalance in progress"));
  store_.Release(1);
  ASSERT_TRUE(committer_.Poll().ok());
  EXPECT_TRUE(committer_.holding());
  // Checkpoints wait while holding.
  tasks_[0]->next_offset = 9;
  committer_.Checkpoint();
  ASSERT_TRUE(committer_.Poll().ok());
  EXPECT_EQ(store_.async_.size(), 1u);
  // The revoke of every partition ends the hold.
  committer_.OnRebalance(/*assigned=*/false);
  committer_.Forget(tasks_[0]->key());
  EXPECT_TRUE(committer_.holding());
  committer_.Forget(tasks_[1]->key());
  EXPECT_FALSE(committer_.holding());
}

TEST_F(AtLeastOnceCommitterTest, RefusalOfACommitBeforeTheLatestRebalance) {
  tasks_[0]->next_offset = 7;
  committer_.Checkpoint();
  ASSERT_TRUE(committer_.Poll().ok());
  committer_.OnRebalance(/*assigned=*/true);  // the rebalance is over
  store_.results_.push_back(absl::AbortedError("rebalance in progress"));
  store_.Release(1);
  ASSERT_TRUE(committer_.Poll().ok());
  EXPECT_FALSE(committer_.holding());
  EXPECT_TRUE(log_.messages_.empty());
}

TEST_F(AtLeastOnceCommitterTest, CooperativeRefusalPausesCommitsTenSeconds) {
  store_.eager_ = false;
  tasks_[0]->next_offset = 7;
  committer_.Checkpoint();
  ASSERT_TRUE(committer_.Poll().ok());
  store_.results_.push_back(absl::AbortedError("rebalance in progress"));
  store_.Release(1);
  ASSERT_TRUE(committer_.Poll().ok());
  EXPECT_FALSE(committer_.holding());
  committer_.Checkpoint();
  clock_.Set(clock_.NowNs() + absl::ToInt64Nanoseconds(absl::Seconds(9)));
  ASSERT_TRUE(committer_.Poll().ok());
  EXPECT_EQ(store_.async_.size(), 1u);  // paused
  clock_.Set(clock_.NowNs() + absl::ToInt64Nanoseconds(absl::Seconds(2)));
  ASSERT_TRUE(committer_.Poll().ok());
  EXPECT_EQ(store_.async_.size(), 2u);
}

TEST_F(AtLeastOnceCommitterTest, RevokeFlushesThenCommitsSynchronously) {
  tasks_[0]->next_offset = 50;
  tasks_[1]->next_offset = 60;
  acks_.queued_ = 3;
  ASSERT_TRUE(
      committer_.CommitRevoked({tasks_[1].get()}, absl::Seconds(1)).ok());
  EXPECT_EQ(acks_.flushes_, 1);
  ASSERT_EQ(store_.sync_.size(), 1u);
  EXPECT_EQ(store_.sync_[0], (Sent{{1, 60}}));  // only the revoked partition
  EXPECT_EQ(committer_.commits(), 1u);
  EXPECT_EQ(committer_.Uncommitted(),
            "ebb.prices[0] offsets up to 49 (none committed)");
}

TEST_F(AtLeastOnceCommitterTest, RevokeWhoseFlushTimesOutCommitsNothing) {
  tasks_[0]->next_offset = 50;
  acks_.queued_ = 3;
  acks_.flush_times_out_ = true;
  ASSERT_TRUE(
      committer_.CommitRevoked({tasks_[0].get()}, absl::Seconds(1)).ok());
  EXPECT_TRUE(store_.sync_.empty());
  ASSERT_EQ(log_.messages_.size(), 1u);
  EXPECT_EQ(log_.messages_[0], "flush: timed out; commit postponed");
}

TEST_F(AtLeastOnceCommitterTest, LostOutputStopsEveryCommit) {
  tasks_[0]->next_offset = 50;
  acks_.queued_ = 2;
  committer_.Checkpoint();
  acks_.settled_ = 2;
  acks_.failure_ = absl::InternalError("delivery to ebb.alerts failed");
  EXPECT_EQ(committer_.Poll().message(), "delivery to ebb.alerts failed");
  EXPECT_TRUE(store_.async_.empty());
  const absl::Status finished =
      committer_.Finish(absl::FromUnixNanos(clock_.NowNs()) + absl::Seconds(1));
  EXPECT_EQ(finished.message(), "delivery to ebb.alerts failed");
  EXPECT_TRUE(store_.async_.empty());
  EXPECT_TRUE(store_.sync_.empty());
}

// The stop waits for the commit on its way; what it refused goes again.
TEST_F(AtLeastOnceCommitterTest, FinishCommitsAgainWhatACommitOnItsWayLost) {
  tasks_[0]->next_offset = 10;
  committer_.Checkpoint();
  ASSERT_TRUE(committer_.Poll().ok());
  store_.results_.push_back(
      absl::UnavailableError("commit: Broker: Coordinator not available"));
  store_.Release(2);
  ASSERT_TRUE(
      committer_.Finish(absl::FromUnixNanos(clock_.NowNs()) + absl::Seconds(1))
          .ok());
  ASSERT_EQ(store_.async_.size(), 2u);
  EXPECT_EQ(store_.async_[1], (Sent{{0, 10}}));
  EXPECT_EQ(committer_.commits(), 1u);
  EXPECT_EQ(committer_.Uncommitted(), "");
}

TEST_F(AtLeastOnceCommitterTest, FinishCommitsWhatTheFlushAcknowledged) {
  tasks_[0]->next_offset = 50;
  tasks_[1]->next_offset = 8;
  acks_.queued_ = 2;
  store_.Release(1);
  ASSERT_TRUE(
      committer_.Finish(absl::FromUnixNanos(clock_.NowNs()) + absl::Seconds(1))
          .ok());
  ASSERT_EQ(store_.async_.size(), 1u);
  EXPECT_EQ(store_.async_[0], (Sent{{0, 50}, {1, 8}}));
  EXPECT_EQ(committer_.Uncommitted(), "");
}

}  // namespace
}  // namespace ebb::kafka
