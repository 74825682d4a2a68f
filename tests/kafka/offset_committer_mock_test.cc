// The at-least-once commit protocol over a real consumer on librdkafka's mock
// cluster (the real protocol over loopback TCP, with the mock's fault
// injection): what librdkafka does with a commit that fails.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "connectors/kafka/embedded_broker.h"
#include "connectors/kafka/offset_committer.h"
#include "engine/config.h"
#include "gtest/gtest.h"
#include "kafka/kafka_test_util.h"

namespace ebb::kafka {
namespace {

// No outputs: every checkpoint is acknowledged at once.
class NoOutputs : public Acknowledgements {
 public:
  uint64_t queued() const override { return 0; }
  uint64_t settled_through() const override { return 0; }
  absl::Status status() override { return absl::OkStatus(); }
  absl::Status Flush(absl::Duration) override { return absl::OkStatus(); }
};

class KeptLog : public Logger {
 public:
  void Log(absl::string_view message) override {
    messages_.emplace_back(message);
  }
  std::vector<std::string> messages_;
};

// A commit whose request times out is retried by librdkafka itself, after
// retry.backoff.ms (100 ms), on the coordinator's connection; a commit sent
// meanwhile goes out at once and lands first, and the retried older one moves
// the group's offset back. The committer sends the second only after the
// first's result, so the group ends at the newest offset.
TEST(AtLeastOnceCommitterMockTest, ARetriedCommitDoesNotMoveTheOffsetBack) {
  auto broker = EmbeddedBroker::Start(1, DefaultTopics());
  ASSERT_TRUE(broker.ok()) << broker.status();
  const std::string bootstrap = (*broker)->bootstrap();
  const std::string group = "retried-commit";
  auto consumer = Consumer::Create(
      {{"bootstrap.servers", bootstrap}, {"group.id", group}}, nullptr);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  auto engine = CompileConfig(DefaultConfig());
  ASSERT_TRUE(engine.ok());
  const std::string topic = "ebb.prices";
  auto task =
      PartitionTask::Create(kPrices, &topic, 0, *engine, SystemClock::Get());
  ASSERT_TRUE(task.ok());
  ConsumerOffsetStore store(consumer->get());
  NoOutputs acks;
  KeptLog log;
  AtLeastOnceCommitter committer(&store, &acks, SystemClock::Get(), &log,
                                 /*verbose=*/true);
  committer.Track(task->get(), -1);
  // Checkpoints at 100, 200, 300... up to `until`, each followed by Poll()s
  // for `wait`.
  int64_t offset = 0;
  auto commit_every_100 = [&](int64_t until, absl::Duration wait) {
    while (offset < until) {
      offset += 100;
      (*task)->next_offset = offset;
      committer.Checkpoint();
      const absl::Time end = absl::Now() + wait;
      do {
        ASSERT_TRUE(committer.Poll().ok());
        absl::SleepFor(absl::Milliseconds(1));
      } while (absl::Now() < end);
    }
  };
  // A first commit that succeeds: the group's coordinator is known and up.
  commit_every_100(100, absl::Seconds(2));
  ASSERT_EQ(committer.commits(), 1u) << committer.last_error();

  // The next commit's request times out (the broker does not commit it);
  // librdkafka retries it 100 ms later. Checkpoints go on every 10 ms.
  rd_kafka_mock_push_request_errors((*broker)->cluster(), 8 /* OffsetCommit */,
                                    1, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
  commit_every_100(500, absl::Milliseconds(10));
  // Nothing new (the feed has ended): checkpoints and results for 3 s.
  const absl::Time end = absl::Now() + absl::Seconds(3);
  while (absl::Now() < end) {
    committer.Checkpoint();
    ASSERT_TRUE(committer.Poll().ok());
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(committer.Uncommitted(), "");
  std::map<int32_t, int64_t> committed;
  ASSERT_TRUE(ebb_test::CommittedOffsets(bootstrap, group, &committed,
                                         absl::Seconds(5)));
  EXPECT_EQ(committed[0], 500);
}

}  // namespace
}  // namespace ebb::kafka
