// Exactly-once (processing_guarantee "exactly_once"): the configuration, and
// StreamRunner with its TransactionalCommitter on a real Apache Kafka broker
// (label kafka-real: read_committed is honoured there, so the alert topic is
// checked as subscribers see it) and on librdkafka's mock cluster where its
// fault injection is needed (an abortable commit error; the mock's fetch
// ignores read_committed, so there the rewind is checked through counters and
// committed offsets).

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "connectors/kafka/stream_runner.h"
#include "gtest/gtest.h"
#include "kafka/kafka_test_util.h"

namespace ebb::kafka {
namespace {

using ebb_test::BrokerKind;
using ebb_test::Contents;
using ebb_test::FeedEvent;
using ebb_test::MakeFeed;
using ebb_test::ParseAlerts;
using ebb_test::Publish;
using ebb_test::ReplayAlerts;
using ebb_test::TestBroker;

TEST(ExactlyOnceOptionsTest, ProcessingGuaranteeAndItsDefaults) {
  ebb::v1::KafkaConfig config;
  auto defaults = StreamOptionsFromConfig(config);
  ASSERT_TRUE(defaults.ok());
  EXPECT_FALSE(defaults->exactly_once);  // at-least-once stays the default
  EXPECT_EQ(defaults->commit_interval, absl::Milliseconds(200));

  config.set_processing_guarantee("exactly_once");
  auto exactly = StreamOptionsFromConfig(config);
  ASSERT_TRUE(exactly.ok());
  EXPECT_TRUE(exactly->exactly_once);
  EXPECT_EQ(exactly->commit_interval, absl::Milliseconds(100));
  EXPECT_EQ(exactly->transactional_id, "");

  config.set_commit_interval("1s");
  config.set_transactional_id("desk-1");
  auto configured = StreamOptionsFromConfig(config);
  ASSERT_TRUE(configured.ok());
  EXPECT_EQ(configured->commit_interval, absl::Seconds(1));
  EXPECT_EQ(configured->transactional_id, "desk-1");

  config.set_processing_guarantee("at_least_once");
  auto at_least = StreamOptionsFromConfig(config);
  ASSERT_TRUE(at_least.ok());
  EXPECT_FALSE(at_least->exactly_once);

  config.set_processing_guarantee("EXACTLY_ONCE");
  auto bad = StreamOptionsFromConfig(config);
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
  EXPECT_EQ(bad.status().message(),
            "kafka.processing_guarantee: must be \"at_least_once\" or "
            "\"exactly_once\"");
}

TEST(ExactlyOnceOptionsTest, DefaultTransactionalIdIsStablePerInstance) {
  StreamOptions options;
  options.group = "desk";
  options.prices_topic = "prices";
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  EXPECT_EQ(DefaultTransactionalId(options),
            absl::StrCat("ebb-desk-", host, "-prices"));
  options.properties = {{"group.instance.id", "a"}};
  EXPECT_EQ(DefaultTransactionalId(options), "ebb-desk-a");
  options.consumer_properties = {{"group.instance.id", "b"}};
  EXPECT_EQ(DefaultTransactionalId(options), "ebb-desk-b");
}

class ExactlyOnceTest : public ::testing::Test {
 protected:
  virtual BrokerKind kind() const { return BrokerKind::kEmbedded; }

  void SetUp() override {
    auto broker = TestBroker::Start(kind());
    if (absl::IsFailedPrecondition(broker.status())) {
      GTEST_SKIP() << broker.status().message();
    }
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
  }

  StreamOptions Options(const std::string& group) {
    StreamOptions o;
    o.brokers = broker_->bootstrap();
    o.group = broker_->Name(group);
    o.prices_topic = broker_->topics().prices;
    o.news_topic = broker_->topics().news;
    o.alerts_topic = broker_->topics().alerts;
    o.dlq_topic = broker_->topics().dlq;
    o.start_earliest = true;
    o.exit_when_idle = absl::Milliseconds(2000);
    o.commit_interval = absl::Milliseconds(100);
    o.consumer_properties = {{"session.timeout.ms", "6000"}};
    o.exactly_once = true;
    o.transactional_id = broker_->Name("ebb-txn-" + group);
    return o;
  }

  std::unique_ptr<StreamRunner> MakeRunner(StreamOptions options) {
    auto engine = CompileConfig(DefaultConfig());
    EXPECT_TRUE(engine.ok());
    auto runner = StreamRunner::Create(std::move(options), *std::move(engine),
                                       SystemClock::Get());
    EXPECT_TRUE(runner.ok()) << runner.status();
    return runner.ok() ? *std::move(runner) : nullptr;
  }

  int64_t CommittedTotal(const std::string& group) {
    std::map<int32_t, int64_t> offsets;
    if (!ebb_test::CommittedOffsets(broker_->bootstrap(), broker_->Name(group),
                                    &offsets, absl::Seconds(5),
                                    broker_->topics().prices)) {
      return -1;
    }
    int64_t total = 0;
    for (const auto& [p, offset] : offsets)
      total += std::max<int64_t>(0, offset);
    return total;
  }

  bool WaitUntilCommitted(const std::string& group, int64_t n) {
    const absl::Time deadline = absl::Now() + absl::Seconds(120);
    while (absl::Now() < deadline) {
      if (CommittedTotal(group) >= n) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

  // Test (d), below.
  void AbortAndRewind(int16_t api_key, rd_kafka_resp_err_t error);
  // Scaling out from one instance to two mid-stream, with `assignor`.
  void ScaleOut(const std::string& group, const std::string& assignor);

  std::vector<ebb::v1::Alert> CommittedAlerts() {
    return ParseAlerts(ebb_test::ReadCommitted(broker_->bootstrap(),
                                               broker_->topics().alerts));
  }

  std::unique_ptr<TestBroker> broker_;
};

class ExactlyOnceRealBrokerTest : public ExactlyOnceTest {
 protected:
  BrokerKind kind() const override { return BrokerKind::kReal; }
};

// (a) What a read_committed subscriber sees equals the replay's alerts, each
// once.
TEST_F(ExactlyOnceRealBrokerTest, CommittedAlertsEqualReplay) {
  const std::vector<FeedEvent> feed = MakeFeed(16, 600);
  Publish(broker_->bootstrap(), broker_->topics().prices, feed);
  auto runner = MakeRunner(Options("once"));
  std::atomic<bool> stop{false};
  const absl::Status status = runner->Run(&stop);
  ASSERT_TRUE(status.ok()) << status;
  const StreamStats stats = runner->stats();
  EXPECT_EQ(stats.consumed, feed.size());
  EXPECT_EQ(stats.rewinds, 0u);
  EXPECT_GT(stats.commits, 0u);
  EXPECT_EQ(CommittedTotal("once"), static_cast<int64_t>(feed.size()));
  const auto expected = ReplayAlerts(feed);
  ASSERT_GT(expected.size(), 20u);
  EXPECT_EQ(Contents(CommittedAlerts()), Contents(expected));
}

// (c) A second producer with the same transactional.id fences the running
// instance: its next commit fails fatally, Run() returns the error, and the
// alerts of its open transaction never become visible. A successor with the
// id then finishes the feed: every alert once.
TEST_F(ExactlyOnceRealBrokerTest,
       FencedInstanceStopsAndItsOpenTransactionIsNeverVisible) {
  const std::vector<FeedEvent> feed = MakeFeed(16, 800);
  const size_t half = feed.size() / 2;
  const std::string b = broker_->bootstrap();
  Publish(b, broker_->topics().prices, feed, 0, half);

  StreamOptions options = Options("fenced");
  options.exit_when_idle = absl::ZeroDuration();
  // Commits every 4 s: the second half waits in an open transaction when
  // the fence comes.
  options.commit_interval = absl::Seconds(4);
  const std::string transactional_id = options.transactional_id;
  auto first = MakeRunner(options);
  std::atomic<bool> stop{false};
  absl::Status first_status;
  std::atomic<bool> first_done{false};
  std::thread run([&] {
    first_status = first->Run(&stop);
    first_done = true;
  });
  ASSERT_TRUE(WaitUntilCommitted("fenced", static_cast<int64_t>(half)));
  Publish(b, broker_->topics().prices, feed, half);
  const absl::Time deadline = absl::Now() + absl::Seconds(3);
  while (first->stats().consumed < feed.size() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  const StreamStats before_fence = first->stats();
  ASSERT_EQ(before_fence.consumed, feed.size());
  const auto first_half_alerts =
      ReplayAlerts(std::vector<FeedEvent>(feed.begin(), feed.begin() + half));
  // The open transaction holds alerts of the second half.
  ASSERT_GT(before_fence.alerts_produced, first_half_alerts.size());

  auto fencer = Producer::Create(
      {{"bootstrap.servers", b}, {"transactional.id", transactional_id}});
  ASSERT_TRUE(fencer.ok()) << fencer.status();
  const TxnResult init = (*fencer)->InitTransactions(absl::Seconds(30));
  ASSERT_TRUE(init.ok()) << init.status;

  // The fatal error ends Run() by itself at the next commit (4 s at most).
  const absl::Time stop_deadline = absl::Now() + absl::Seconds(30);
  while (!first_done && absl::Now() < stop_deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(first_done) << "the fenced instance kept running";
  stop = true;
  run.join();
  stop = false;
  EXPECT_TRUE(absl::IsInternal(first_status)) << first_status;
  EXPECT_TRUE(absl::StrContains(first_status.message(), "fatal"))
      << first_status;
  EXPECT_EQ(first->stats().commits, before_fence.commits);
  EXPECT_EQ(CommittedTotal("fenced"), static_cast<int64_t>(half));
  // Only what was committed before the fence is visible.
  const auto visible = CommittedAlerts();
  EXPECT_EQ(visible.size(), first_half_alerts.size());
  EXPECT_TRUE(Contents(visible) == Contents(first_half_alerts));

  fencer->reset();
  StreamOptions next = Options("fenced");
  next.transactional_id = transactional_id;
  auto second = MakeRunner(next);
  const absl::Status second_status = second->Run(&stop);
  ASSERT_TRUE(second_status.ok()) << second_status;
  EXPECT_EQ(CommittedTotal("fenced"), static_cast<int64_t>(feed.size()));
  EXPECT_EQ(Contents(CommittedAlerts()), Contents(ReplayAlerts(feed)));
}

// A second instance joins the group mid-stream: the first one's revoke
// commits its open transaction before the partitions move, the second warm
// starts them from the committed offsets, and a read_committed subscriber
// sees every alert once.
void ExactlyOnceTest::ScaleOut(const std::string& group,
                               const std::string& assignor) {
  const std::vector<FeedEvent> feed = MakeFeed(24, 1000);
  StreamOptions options = Options(group);
  options.exit_when_idle = absl::ZeroDuration();
  options.consumer_properties.emplace_back("partition.assignment.strategy",
                                           assignor);
  StreamOptions second_options = options;
  second_options.transactional_id += "-2";
  auto first = MakeRunner(options);
  auto second = MakeRunner(second_options);
  std::atomic<bool> stop{false};
  absl::Status first_status, second_status;
  std::thread run_first([&] { first_status = first->Run(&stop); });
  while (first->assigned_partitions() == 0) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  std::thread publisher([&] {
    auto producer = ebb_test::MakeProducer(broker_->bootstrap());
    for (size_t i = 0; i < feed.size(); i += 1000) {
      Publish(*producer, broker_->topics().prices, feed, i, i + 1000);
      absl::SleepFor(absl::Milliseconds(150));
    }
  });
  absl::SleepFor(absl::Milliseconds(1000));
  std::thread run_second([&] { second_status = second->Run(&stop); });
  publisher.join();
  EXPECT_TRUE(WaitUntilCommitted(group, static_cast<int64_t>(feed.size())));
  stop = true;
  run_first.join();
  run_second.join();
  ASSERT_TRUE(first_status.ok()) << first_status;
  ASSERT_TRUE(second_status.ok()) << second_status;
  const StreamStats a = first->stats(), b = second->stats();
  EXPECT_GT(b.consumed - b.history, 0u);  // the second instance took work
  EXPECT_GE(a.assignments + b.assignments, 3u);
  EXPECT_EQ(CommittedTotal(group), static_cast<int64_t>(feed.size()));
  const auto alerts = CommittedAlerts();
  const auto expected = ReplayAlerts(feed);
  ASSERT_GT(expected.size(), 40u);
  EXPECT_EQ(alerts.size(), expected.size());
  EXPECT_TRUE(Contents(alerts) == Contents(expected));
}

TEST_F(ExactlyOnceRealBrokerTest, SecondInstanceJoiningEmitsEveryAlertOnce) {
  ScaleOut("scale", "range,roundrobin");
}

TEST_F(ExactlyOnceRealBrokerTest, CooperativeRebalanceEmitsEveryAlertOnce) {
  ScaleOut("scale-coop", "cooperative-sticky");
}

// (d) An error librdkafka classes as abortable, injected into one request of
// the transactional protocol on the mock cluster (`api_key`: 24
// AddPartitionsToTxn, 26 EndTxn, 28 TxnOffsetCommit): the transaction is
// aborted, every partition goes back to its committed offset with its state
// rebuilt, and the feed ends fully committed with the replay's alerts. The
// mock shows aborted messages to every reader, so its alert topic may hold
// the aborted transaction's alerts as well: each one an alert of the replay
// (same id and content); and it keeps no offsets of transactions
// (TxnOffsetCommit succeeds and stores nothing), so the runner's counters
// tell what was committed and rewound.
void ExactlyOnceTest::AbortAndRewind(int16_t api_key,
                                     rd_kafka_resp_err_t error) {
  const std::vector<FeedEvent> feed = MakeFeed(16, 600);
  const size_t half = feed.size() / 2;
  const std::string b = broker_->bootstrap();
  Publish(b, broker_->topics().prices, feed, 0, half);
  StreamOptions options = Options("abortable");
  options.exit_when_idle = absl::Seconds(3);
  auto runner = MakeRunner(options);
  std::atomic<bool> stop{false};
  absl::Status status;
  std::thread run([&] { status = runner->Run(&stop); });
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while ((runner->stats().consumed < half || runner->stats().commits == 0) &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  absl::SleepFor(absl::Milliseconds(300));  // a few commit intervals more
  const StreamStats before = runner->stats();
  ASSERT_EQ(before.consumed, half);
  ASSERT_GT(before.commits, 0u);
  rd_kafka_mock_push_request_errors(broker_->cluster(), api_key, 1, error);
  Publish(b, broker_->topics().prices, feed, half);
  run.join();
  ASSERT_TRUE(status.ok()) << status;
  const StreamStats stats = runner->stats();
  EXPECT_EQ(stats.rewinds, 1u);
  EXPECT_GT(stats.commits, before.commits);
  // The rewind went back to the first half's committed offsets and rebuilt
  // the windows from the partitions' history up to there (the warm start:
  // the first half exactly), then processed the second half live again
  // (some of it twice: before the abort and after).
  EXPECT_EQ(stats.history, half);
  EXPECT_GT(stats.consumed, feed.size() + half);

  const auto expected = ReplayAlerts(feed);
  std::map<std::string, std::string> expected_by_id;
  for (const auto& a : expected) expected_by_id[a.id()] = ebb_test::Content(a);
  std::set<std::string> seen;
  for (const auto& a :
       ParseAlerts(ebb_test::ReadTopic(b, broker_->topics().alerts))) {
    ASSERT_EQ(expected_by_id.count(a.id()), 1u) << a.id();
    EXPECT_EQ(ebb_test::Content(a), expected_by_id[a.id()]);
    seen.insert(a.id());
  }
  EXPECT_EQ(seen.size(), expected_by_id.size());
}

// Any EndTxn error librdkafka does not name is abortable.
TEST_F(ExactlyOnceTest, AbortableEndTxnErrorRewindsAndLosesNothing) {
  AbortAndRewind(/*EndTxn*/ 26, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
}

// The zombie case of KIP-447: the group's generation moved on.
TEST_F(ExactlyOnceTest, AbortableTxnOffsetCommitErrorRewindsAndLosesNothing) {
  AbortAndRewind(/*TxnOffsetCommit*/ 28, RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION);
}

TEST_F(ExactlyOnceTest,
       AbortableAddPartitionsToTxnErrorRewindsAndLosesNothing) {
  AbortAndRewind(/*AddPartitionsToTxn*/ 24,
                 RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
}

}  // namespace
}  // namespace ebb::kafka
