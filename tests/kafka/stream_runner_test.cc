// The integration tier: ebb's streaming runtime against librdkafka's mock
// cluster (the real protocol over loopback TCP), with real producers and
// consumers and the mock's fault injection; and (label kafka-real) the same
// tests without fault injection, plus Kafka's own faults, offsetsForTimes and
// time retention, on a real Apache Kafka broker. Nothing of the client is
// mocked.

#include "connectors/kafka/stream_runner.h"

#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "connectors/kafka/embedded_broker.h"
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
using ebb_test::ReadTopic;
using ebb_test::Record;
using ebb_test::ReplayAlerts;
using ebb_test::TestBroker;
using ebb_test::Topics;

// The runtime on librdkafka's mock cluster (the fault-injection tests), and
// the base of StreamRunnerAnyBrokerTest (below) for the real broker.
class StreamRunnerTest : public ::testing::Test {
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

  const Topics& topics() const { return broker_->topics(); }

  StreamOptions Options(const std::string& group) {
    StreamOptions o;
    o.brokers = broker_->bootstrap();
    o.group = broker_->Name(group);
    o.prices_topic = topics().prices;
    o.news_topic = topics().news;
    o.alerts_topic = topics().alerts;
    o.dlq_topic = topics().dlq;
    o.start_earliest = true;
    o.exit_when_idle = absl::Milliseconds(1500);
    o.commit_interval = absl::Milliseconds(100);
    // The mock broker finishes a rebalance after a member leaves only when
    // the session timeout (less a second) has passed: keep it short.
    o.consumer_properties = {{"session.timeout.ms", "6000"}};
    return o;
  }

  std::unique_ptr<StreamRunner> MakeRunner(
      StreamOptions options,
      const ebb::v1::EbbConfig& config = DefaultConfig()) {
    auto engine = CompileConfig(config);
    EXPECT_TRUE(engine.ok());
    auto runner = StreamRunner::Create(std::move(options), *std::move(engine),
                                       SystemClock::Get());
    EXPECT_TRUE(runner.ok()) << runner.status();
    return runner.ok() ? *std::move(runner) : nullptr;
  }

  StreamStats RunToIdle(StreamOptions options) {
    auto runner = MakeRunner(std::move(options));
    std::atomic<bool> stop{false};
    absl::Status status = runner->Run(&stop);
    EXPECT_TRUE(status.ok()) << status;
    return runner->stats();
  }

  // The offsets `group` (as given to Options) has committed on the price
  // partitions (of `prices`, when given).
  bool Committed(const std::string& group, std::map<int32_t, int64_t>* out,
                 const std::string& prices = "") {
    return ebb_test::CommittedOffsets(
        broker_->bootstrap(), broker_->Name(group), out, absl::Seconds(5),
        prices.empty() ? topics().prices : prices);
  }

  // The sum of the group's committed offsets over the 4 price partitions.
  int64_t CommittedTotal(const std::string& group,
                         const std::string& prices = "") {
    std::map<int32_t, int64_t> offsets;
    if (!Committed(group, &offsets, prices)) return 0;
    int64_t total = 0;
    for (const auto& [partition, offset] : offsets) {
      total += std::max<int64_t>(0, offset);
    }
    return total;
  }

  // Waits (at most 2 minutes) until `group` has committed `n` offsets: then
  // every message was processed and its alerts acknowledged.
  void WaitUntilCommitted(const std::string& group, size_t n,
                          const std::string& prices = "") {
    const absl::Time deadline = absl::Now() + absl::Seconds(120);
    while (CommittedTotal(group, prices) < static_cast<int64_t>(n) &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(200));
    }
    EXPECT_EQ(CommittedTotal(group, prices), static_cast<int64_t>(n));
  }

  std::vector<Record> ReadAlerts() {
    return ReadTopic(broker_->bootstrap(), topics().alerts);
  }

  // Scaling out with `assignor` (partition.assignment.strategy) in `group`
  // (below).
  void ScaleOut(const std::string& group, const std::string& assignor);

  std::unique_ptr<TestBroker> broker_;
};

// The tests that need no fault injection, on both brokers: the embedded one
// and the real Apache Kafka broker of EBB_KAFKA_BROKERS (ctest label
// kafka-real; skipped without the variable).
class StreamRunnerAnyBrokerTest
    : public StreamRunnerTest,
      public ::testing::WithParamInterface<BrokerKind> {
 protected:
  BrokerKind kind() const override { return GetParam(); }
};

INSTANTIATE_TEST_SUITE_P(Brokers, StreamRunnerAnyBrokerTest,
                         ::testing::Values(BrokerKind::kEmbedded,
                                           BrokerKind::kReal),
                         ebb_test::BrokerKindName);

TEST_P(StreamRunnerAnyBrokerTest, AlertsEqualReplayAcrossPartitions) {
  const std::vector<FeedEvent> feed = MakeFeed(24, 1000);
  Publish(broker_->bootstrap(), topics().prices, feed);
  const StreamStats stats = RunToIdle(Options("parity"));
  EXPECT_EQ(stats.consumed, feed.size());
  EXPECT_EQ(stats.pipeline.applied, feed.size());
  EXPECT_EQ(stats.pipeline.total_rejected(), 0u);

  const std::vector<Record> records =
      ReadTopic(broker_->bootstrap(), topics().alerts);
  const std::vector<ebb::v1::Alert> alerts = ParseAlerts(records);
  const std::vector<ebb::v1::Alert> expected = ReplayAlerts(feed);
  ASSERT_GT(expected.size(), 40u);  // opened, escalated and resolved
  EXPECT_EQ(Contents(alerts), Contents(expected));
  EXPECT_EQ(stats.alerts_produced, expected.size());

  // Every partition carried symbols; alerts say where they came from, are
  // keyed by symbol and typed by headers.
  std::set<int32_t> partitions;
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].key, alerts[i].symbol());
    EXPECT_EQ(records[i].headers.at("ebb-type"), "ebb.v1.Alert");
    EXPECT_EQ(records[i].headers.at("ebb-schema-version"), "1");
    EXPECT_EQ(alerts[i].provenance().source(), topics().prices);
    ASSERT_TRUE(alerts[i].provenance().has_partition());
    partitions.insert(alerts[i].provenance().partition());
  }
  EXPECT_EQ(partitions.size(), 4u);
}

TEST_P(StreamRunnerAnyBrokerTest,
       BadMessagesGoToTheDeadLetterTopicWithReasons) {
  std::vector<FeedEvent> feed = MakeFeed(3, 50);
  Publish(broker_->bootstrap(), topics().prices, feed);
  auto producer =
      Producer::Create({{"bootstrap.servers", broker_->bootstrap()}});
  ASSERT_TRUE(producer.ok());
  const std::string truncated = ebb_test::Encode(feed[0]).substr(0, 7);
  const std::string oversize(100 * 1024, 'x');
  const std::string mismatch = ebb_test::Encode(feed[1]);  // symbol SYM1
  FeedEvent negative = feed.back();
  negative.price = -1;
  const std::string invalid = ebb_test::Encode(negative);
  ASSERT_TRUE(
      (*producer)->Produce(topics().prices, 0, "SYM0", truncated, {}).ok());
  ASSERT_TRUE(
      (*producer)->Produce(topics().prices, 1, "BIG", oversize, {}).ok());
  ASSERT_TRUE(
      (*producer)->Produce(topics().prices, 2, "SYM9", mismatch, {}).ok());
  ASSERT_TRUE((*producer)
                  ->Produce(topics().prices, 3, negative.symbol, invalid, {})
                  .ok());
  ASSERT_TRUE(
      (*producer)->Produce(topics().news, 0, "n1", "\xff\xff", {}).ok());
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(10)).ok());

  const StreamStats stats = RunToIdle(Options("dlq"));
  EXPECT_EQ(stats.consumed, feed.size() + 5);
  EXPECT_EQ(stats.pipeline.received, feed.size() + 5);
  EXPECT_EQ(stats.pipeline.total_rejected(), 5u);
  EXPECT_EQ(stats.dead_letters_produced, 5u);

  std::map<std::string, std::vector<Record>> by_reason;
  for (Record& r : ReadTopic(broker_->bootstrap(), topics().dlq)) {
    by_reason[r.headers["ebb-reason"]].push_back(r);
  }
  ASSERT_EQ(by_reason["truncated"].size(), 2u);  // the price and the news
  for (const Record& r : by_reason["truncated"]) {
    if (r.headers.at("ebb-source-topic") == topics().news) {
      EXPECT_EQ(r.value, "\xff\xff");
      EXPECT_EQ(r.key, "n1");
    } else {
      EXPECT_EQ(r.value, truncated);
      EXPECT_EQ(r.key, "SYM0");
      EXPECT_EQ(r.headers.at("ebb-source-partition"), "0");
    }
  }
  ASSERT_EQ(by_reason["oversize"].size(), 1u);
  EXPECT_EQ(by_reason["oversize"][0].key, "BIG");
  EXPECT_EQ(by_reason["oversize"][0].headers["ebb-source-partition"], "1");
  ASSERT_EQ(by_reason["key_mismatch"].size(), 1u);
  EXPECT_EQ(by_reason["key_mismatch"][0].value, mismatch);
  EXPECT_EQ(by_reason["key_mismatch"][0].key, "SYM9");
  ASSERT_EQ(by_reason["invalid_price"].size(), 1u);
  const Record& invalid_record = by_reason["invalid_price"][0];
  EXPECT_EQ(invalid_record.value, invalid);
  EXPECT_EQ(invalid_record.headers.at("ebb-source-topic"), topics().prices);
  EXPECT_EQ(invalid_record.headers.at("ebb-source-partition"), "3");
  EXPECT_NE(invalid_record.headers.at("ebb-detail").find("price"),
            std::string::npos);
  EXPECT_FALSE(invalid_record.headers.at("ebb-source-offset").empty());
}

// A tombstone is its own reason, and news from Kafka is validated as news
// from files is (Pipeline::OnNews): the same records, the same reasons.
TEST_F(StreamRunnerTest, TombstonesAndInvalidNewsAreDeadLetters) {
  auto producer =
      Producer::Create({{"bootstrap.servers", broker_->bootstrap()}});
  ASSERT_TRUE(producer.ok());
  ASSERT_TRUE((*producer)
                  ->Produce("ebb.prices", 0, "SYM0", absl::string_view(), {})
                  .ok());
  auto news = [](const std::string& id) {
    ebb::v1::NewsEvent n;
    n.set_id(id);
    n.set_headline("h");
    n.mutable_event_time()->set_seconds(1'700'000'000);
    n.add_symbols("BTC-USD");
    return n;
  };
  ebb::v1::NewsEvent valid = news("valid");
  valid.set_sentiment(-0.5);
  ebb::v1::NewsEvent no_time = news("no_time");
  no_time.clear_event_time();
  ebb::v1::NewsEvent sentiment = news("sentiment");
  sentiment.set_sentiment(1.5);
  ebb::v1::NewsEvent bad_symbol = news("bad_symbol");
  bad_symbol.add_symbols("BTC USD");
  // symbols = "A\xff": libprotobuf will not serialize it, so by hand.
  const std::string utf8 = news("utf8").SerializeAsString() + std::string(
                                                                  "\x3a\x02"
                                                                  "A\xff",
                                                                  4);
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{
           {"valid", valid.SerializeAsString()},
           {"no_time", no_time.SerializeAsString()},
           {"sentiment", sentiment.SerializeAsString()},
           {"bad_symbol", bad_symbol.SerializeAsString()},
           {"utf8", utf8}}) {
    ASSERT_TRUE((*producer)->Produce("ebb.news", 0, key, value, {}).ok());
  }
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(10)).ok());

  const StreamStats stats = RunToIdle(Options("tombstone"));
  EXPECT_EQ(stats.pipeline.received, 6u);
  EXPECT_EQ(stats.pipeline.news, 1u);
  EXPECT_EQ(stats.pipeline.rejected[ebb::v1::EMPTY_VALUE], 1u);
  EXPECT_EQ(stats.dead_letters_produced, 5u);
  std::map<std::string, Record> by_key;
  for (Record& r : ReadTopic(broker_->bootstrap(), "ebb.dlq")) {
    by_key[r.key] = r;
  }
  EXPECT_EQ(by_key["SYM0"].headers["ebb-reason"], "empty_value");
  EXPECT_EQ(by_key["SYM0"].headers["ebb-detail"],
            "the message value is null (a tombstone)");
  EXPECT_EQ(by_key["no_time"].headers["ebb-reason"], "invalid_time");
  EXPECT_EQ(by_key["no_time"].headers["ebb-detail"], "event_time is missing");
  EXPECT_EQ(by_key["sentiment"].headers["ebb-reason"], "malformed");
  EXPECT_EQ(by_key["sentiment"].headers["ebb-detail"],
            "sentiment 1.5: must be in [-1, 1]");
  EXPECT_EQ(by_key["bad_symbol"].headers["ebb-reason"], "invalid_symbol");
  EXPECT_EQ(by_key["bad_symbol"].headers["ebb-detail"],
            "symbols[1]: symbol \"BTC USD\" has a byte outside "
            "[A-Za-z0-9._:/^=-]");
  EXPECT_EQ(by_key["utf8"].headers["ebb-reason"], "invalid_symbol");
  EXPECT_EQ(by_key["utf8"].headers["ebb-detail"],
            "symbols \"A\\xff\" is not valid UTF-8");
  EXPECT_EQ(by_key["utf8"].value, utf8);
}

TEST_P(StreamRunnerAnyBrokerTest,
       WarmStartRebuildsWindowsWithoutReplayingAlerts) {
  const std::vector<FeedEvent> feed = MakeFeed(12, 1000);
  // The history is in the topic before the group exists; the crash is in the
  // second half, so its alerts must come out live, exactly as a replay says.
  const size_t split = feed.size() * 45 / 100;
  Publish(broker_->bootstrap(), topics().prices, feed, 0, split);

  StreamOptions options = Options("warm");
  options.start_earliest = false;  // a new group starts at the end...
  options.exit_when_idle = absl::ZeroDuration();
  auto runner = MakeRunner(options);
  std::atomic<bool> stop{false};
  absl::Status status;
  std::thread run([&] { status = runner->Run(&stop); });
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (runner->assigned_partitions() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_GT(runner->assigned_partitions(), 0);
  Publish(broker_->bootstrap(), topics().prices, feed, split);  // ...then live
  WaitUntilCommitted("warm", feed.size());
  stop = true;
  run.join();
  ASSERT_TRUE(status.ok()) << status;

  const StreamStats stats = runner->stats();
  EXPECT_EQ(stats.history, split);  // ...after rebuilding from the history
  EXPECT_EQ(stats.consumed, feed.size());
  const std::vector<ebb::v1::Alert> expected = ReplayAlerts(feed, split);
  ASSERT_GT(expected.size(), 10u);
  EXPECT_EQ(
      Contents(ParseAlerts(ReadTopic(broker_->bootstrap(), topics().alerts))),
      Contents(expected));

  // Without the warm start the same run sees only the live part: different
  // (and wrong) windows. This is what the warm start is for.
  const std::vector<FeedEvent> live(feed.begin() + split, feed.end());
  EXPECT_NE(Contents(ReplayAlerts(live)), Contents(expected));
}

// A new group starting at "latest" commits its starting point at once: an
// instance stopped (or killed, or rebalanced away) before any live message
// must not let its successor start later and treat the gap as history.
TEST_P(StreamRunnerAnyBrokerTest, NewGroupPinsItsStartBeforeAnyLiveMessage) {
  const std::vector<FeedEvent> feed = MakeFeed(12, 1000);
  const size_t split = feed.size() * 45 / 100;
  Publish(broker_->bootstrap(), topics().prices, feed, 0, split);
  StreamOptions options = Options("pin");
  options.start_earliest = false;
  options.exit_when_idle = absl::ZeroDuration();
  {
    auto first = MakeRunner(options);
    std::atomic<bool> stop{false};
    absl::Status status;
    std::thread run([&] { status = first->Run(&stop); });
    WaitUntilCommitted("pin", split);  // the warm-up's end, committed
    stop = true;
    run.join();
    ASSERT_TRUE(status.ok()) << status;
    EXPECT_EQ(first->stats().alerts_produced, 0u);
  }
  Publish(broker_->bootstrap(), topics().prices, feed, split);
  auto second = MakeRunner(options);
  std::atomic<bool> stop{false};
  absl::Status status;
  std::thread run([&] { status = second->Run(&stop); });
  WaitUntilCommitted("pin", feed.size());
  stop = true;
  run.join();
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(second->stats().history, split);
  const std::vector<ebb::v1::Alert> expected = ReplayAlerts(feed, split);
  ASSERT_GT(expected.size(), 10u);
  EXPECT_EQ(
      Contents(ParseAlerts(ReadTopic(broker_->bootstrap(), topics().alerts))),
      Contents(expected));
}

TEST_P(StreamRunnerAnyBrokerTest,
       WarmStartCanEmitTheHistoryAlertsWithTheirIds) {
  const std::vector<FeedEvent> feed = MakeFeed(8, 800);
  Publish(broker_->bootstrap(), topics().prices, feed);
  StreamOptions options = Options("history-alerts");
  options.start_earliest = false;  // everything published is history
  options.emit_history_alerts = true;
  const StreamStats stats = RunToIdle(options);
  EXPECT_EQ(stats.history, feed.size());
  EXPECT_EQ(stats.alerts_suppressed, 0u);
  const std::vector<ebb::v1::Alert> expected = ReplayAlerts(feed);
  ASSERT_GT(expected.size(), 10u);
  EXPECT_EQ(
      Contents(ParseAlerts(ReadTopic(broker_->bootstrap(), topics().alerts))),
      Contents(expected));
}

TEST_F(StreamRunnerTest, BrokerFaultsLoseNothing) {
  const std::vector<FeedEvent> feed = MakeFeed(16, 900);
  rd_kafka_mock_cluster_t* mock = broker_->cluster();
  StreamOptions options = Options("faults");
  // Faults stall fetching for seconds: stop when every offset is committed,
  // not after an idle time.
  options.exit_when_idle = absl::ZeroDuration();
  auto runner = MakeRunner(options);
  std::atomic<bool> stop{false};
  absl::Status status;
  std::thread run([&] { status = runner->Run(&stop); });
  while (runner->assigned_partitions() == 0) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  const size_t n = feed.size();
  // Added latency, then failed produce/fetch/commit requests (retriable),
  // then the broker down for a while and back, all while consuming.
  rd_kafka_mock_broker_set_rtt(mock, 1, 30);
  Publish(broker_->bootstrap(), "ebb.prices", feed, 0, n / 4);
  rd_kafka_mock_broker_set_rtt(mock, 1, 0);
  rd_kafka_mock_push_request_errors(mock, 0 /* Produce */, 3,
                                    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
  rd_kafka_mock_push_request_errors(mock, 1 /* Fetch */, 2,
                                    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
  rd_kafka_mock_push_request_errors(
      mock, 8 /* OffsetCommit */, 2, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
      RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE);
  Publish(broker_->bootstrap(), "ebb.prices", feed, n / 4, n / 2);
  rd_kafka_mock_broker_set_down(mock, 1);
  absl::SleepFor(absl::Milliseconds(1500));
  rd_kafka_mock_broker_set_up(mock, 1);
  Publish(broker_->bootstrap(), "ebb.prices", feed, n / 2, n);
  WaitUntilCommitted("faults", n);
  stop = true;
  run.join();
  ASSERT_TRUE(status.ok()) << status;

  const StreamStats stats = runner->stats();
  // The broker down can also cost the group its coordinator: then the group
  // rebalances, the partitions come back warm-started, and what was
  // processed after the last commit is processed again.
  EXPECT_GE(stats.consumed - stats.history, n);
  const std::vector<ebb::v1::Alert> alerts =
      ParseAlerts(ReadTopic(broker_->bootstrap(), "ebb.alerts"));
  const std::vector<ebb::v1::Alert> expected = ReplayAlerts(feed);
  ASSERT_GT(expected.size(), 20u);
  // Nothing lost, nothing different; a repeat (at-least-once) is the very
  // same alert. Without a rebalance there is none: the idempotent producer's
  // retries do not duplicate.
  const std::multiset<std::string> got = Contents(alerts);
  const std::multiset<std::string> want = Contents(expected);
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()),
            std::set<std::string>(want.begin(), want.end()));
  if (stats.assignments == 1) {
    EXPECT_EQ(got, want);
  }
  std::fprintf(stderr, "faults: %zu alerts for %zu, %llu assignments\n",
               alerts.size(), expected.size(),
               static_cast<unsigned long long>(stats.assignments));
}

// The at-least-once rule without a blocking flush: an offset is committed only
// once every alert caused before it is acknowledged. The alerts' leader (a
// second broker) is down while the runner consumes everything from the first:
// commits may advance only up to each partition's first alert-causing
// message, and after the outage everything is committed and delivered.
TEST(StreamRunnerCommitTest, OffsetsWaitForTheirAlertsToBeAcknowledged) {
  auto broker = EmbeddedBroker::Start(2, DefaultTopics());
  ASSERT_TRUE(broker.ok()) << broker.status();
  rd_kafka_mock_cluster_t* mock = (*broker)->cluster();
  const std::string bootstrap = (*broker)->bootstrap();
  const std::string group = "commit-wait";
  for (int p = 0; p < 4; ++p) {
    rd_kafka_mock_partition_set_leader(mock, "ebb.prices", p, 1);
  }
  rd_kafka_mock_partition_set_leader(mock, "ebb.dlq", 0, 1);
  rd_kafka_mock_partition_set_leader(mock, "ebb.alerts", 0, 2);
  rd_kafka_mock_coordinator_set(mock, "group", group.c_str(), 1);
  const std::vector<FeedEvent> feed = MakeFeed(12, 1000);
  Publish(bootstrap, "ebb.prices", feed);
  rd_kafka_mock_broker_set_down(mock, 2);

  StreamOptions o;
  o.brokers = bootstrap;
  o.group = group;
  o.start_earliest = true;
  o.commit_interval = absl::Milliseconds(50);
  auto engine = CompileConfig(DefaultConfig());
  ASSERT_TRUE(engine.ok());
  auto runner = StreamRunner::Create(o, *std::move(engine), SystemClock::Get());
  ASSERT_TRUE(runner.ok()) << runner.status();
  std::atomic<bool> stop{false};
  absl::Status status;
  std::thread run([&] { status = (*runner)->Run(&stop); });
  while ((*runner)->assigned_partitions() == 0) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  // The largest offsets committed while no alert could be acknowledged.
  std::map<int32_t, int64_t> during;
  const absl::Time outage_end = absl::Now() + absl::Seconds(5);
  while (absl::Now() < outage_end) {
    absl::SleepFor(absl::Milliseconds(250));
    std::map<int32_t, int64_t> now;
    ASSERT_TRUE(
        ebb_test::CommittedOffsets(bootstrap, group, &now, absl::Seconds(5)));
    for (const auto& [p, offset] : now) {
      during[p] = std::max(during[p], offset);
    }
  }
  rd_kafka_mock_broker_set_up(mock, 2);
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  int64_t total = 0;
  while (absl::Now() < deadline) {
    std::map<int32_t, int64_t> now;
    total = 0;
    if (ebb_test::CommittedOffsets(bootstrap, group, &now, absl::Seconds(5))) {
      for (const auto& [p, offset] : now) total += std::max<int64_t>(0, offset);
    }
    if (total == static_cast<int64_t>(feed.size())) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(total, static_cast<int64_t>(feed.size()));
  stop = true;
  run.join();
  ASSERT_TRUE(status.ok()) << status;

  const std::vector<ebb::v1::Alert> alerts =
      ParseAlerts(ReadTopic(bootstrap, "ebb.alerts"));
  EXPECT_EQ(Contents(alerts), Contents(ReplayAlerts(feed)));
  std::map<int32_t, int64_t> first_alert;  // offset of the first cause
  for (const ebb::v1::Alert& a : alerts) {
    const int32_t p = a.provenance().partition();
    const int64_t offset = a.provenance().offset();
    if (first_alert.count(p) == 0 || offset < first_alert[p]) {
      first_alert[p] = offset;
    }
  }
  ASSERT_EQ(first_alert.size(), 4u);  // every partition had alerts waiting
  for (const auto& [p, offset] : first_alert) {
    EXPECT_LE(during[p], offset)
        << "partition " << p << " committed past an unacknowledged alert";
  }
  // One member, no rebalance: every message processed once.
  EXPECT_EQ((*runner)->stats().consumed, feed.size());
  EXPECT_EQ((*runner)->stats().alerts_produced, alerts.size());
}

// A stop while the broker does not acknowledge the alerts ends within
// shutdown_timeout (not after the producer's own timeouts): it commits what
// was acknowledged, and fails saying how many outputs were left and which
// offsets are not committed.
TEST(StreamRunnerShutdownTest, StopWithAlertsUnacknowledgedEndsInTime) {
  auto broker = EmbeddedBroker::Start(2, DefaultTopics());
  ASSERT_TRUE(broker.ok()) << broker.status();
  rd_kafka_mock_cluster_t* mock = (*broker)->cluster();
  const std::string bootstrap = (*broker)->bootstrap();
  const std::string group = "bounded-stop";
  for (int p = 0; p < 4; ++p) {
    rd_kafka_mock_partition_set_leader(mock, "ebb.prices", p, 1);
  }
  rd_kafka_mock_partition_set_leader(mock, "ebb.dlq", 0, 1);
  rd_kafka_mock_partition_set_leader(mock, "ebb.alerts", 0, 2);
  rd_kafka_mock_coordinator_set(mock, "group", group.c_str(), 1);
  // The first third processed, acknowledged and committed while every
  // broker is up; the rest (with the crash) while the alerts' leader is down.
  const std::vector<FeedEvent> feed = MakeFeed(12, 1000);
  const size_t first = feed.size() / 3;
  const size_t all_alerts = ReplayAlerts(feed).size();
  const size_t late_alerts = ReplayAlerts(feed, first).size();
  ASSERT_GT(late_alerts, 0u);

  StreamOptions o;
  o.brokers = bootstrap;
  o.group = group;
  o.start_earliest = true;
  o.commit_interval = absl::Milliseconds(50);
  o.shutdown_timeout = absl::Seconds(2);
  o.consumer_properties = {{"session.timeout.ms", "6000"}};
  auto engine = CompileConfig(DefaultConfig());
  ASSERT_TRUE(engine.ok());
  auto runner = StreamRunner::Create(o, *std::move(engine), SystemClock::Get());
  ASSERT_TRUE(runner.ok()) << runner.status();
  std::atomic<bool> stop{false};
  absl::Status status;
  absl::Time returned;
  std::thread run([&] {
    status = (*runner)->Run(&stop);
    returned = absl::Now();
  });
  Publish(bootstrap, "ebb.prices", feed, 0, first);
  std::map<int32_t, int64_t> before;
  int64_t total = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (total < static_cast<int64_t>(first) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
    ASSERT_TRUE(ebb_test::CommittedOffsets(bootstrap, group, &before,
                                           absl::Seconds(5)));
    total = 0;
    for (const auto& [p, offset] : before)
      total += std::max<int64_t>(0, offset);
  }
  ASSERT_EQ(total, static_cast<int64_t>(first));
  rd_kafka_mock_broker_set_down(mock, 2);
  Publish(bootstrap, "ebb.prices", feed, first);
  absl::SleepFor(absl::Seconds(3));  // time to process it (milliseconds)
  const absl::Time stopped = absl::Now();
  stop = true;
  run.join();
  // It ends (the bound is generous: this is not a timing test; without the
  // bound a stop waits for two 60 s flushes).
  EXPECT_LT(returned - stopped, absl::Seconds(20));
  EXPECT_TRUE(absl::IsDeadlineExceeded(status)) << status;
  const StreamStats stats = (*runner)->stats();
  EXPECT_TRUE(stats.shutdown_incomplete);
  EXPECT_EQ(stats.alerts_produced, all_alerts);
  uint64_t published = 0;
  for (uint64_t n : stats.alerts_published) published += n;
  EXPECT_EQ(published, all_alerts - late_alerts);
  const std::string alerts_left =
      absl::StrCat(late_alerts, " alert", late_alerts == 1 ? "" : "s",
                   " and 0 dead letters not acknowledged within 2s; "
                   "not committed (a restart processes them again): ");
  EXPECT_NE(status.message().find(alerts_left), absl::string_view::npos)
      << status;
  // What was committed stays (a partition may have moved on to just before
  // its first unacknowledged alert), and the message names the rest.
  std::map<int32_t, int64_t> after;
  ASSERT_TRUE(
      ebb_test::CommittedOffsets(bootstrap, group, &after, absl::Seconds(5)));
  for (const auto& [p, offset] : before) {
    EXPECT_GE(after[p], offset) << "partition " << p;
    EXPECT_NE(status.message().find(
                  absl::StrCat("ebb.prices[", p, "] offsets ", after[p], "-")),
              absl::string_view::npos)
        << status;
  }
}

// The idle exit fires even when no partition is ever assigned, and says why.
TEST(StreamRunnerShutdownTest, IdleExitWithoutAssignmentFailsWithTheReason) {
  StreamOptions o;
  o.brokers = "127.0.0.1:1";
  o.exit_when_idle = absl::Seconds(1);
  auto engine = CompileConfig(DefaultConfig());
  ASSERT_TRUE(engine.ok());
  auto runner = StreamRunner::Create(o, *std::move(engine), SystemClock::Get());
  ASSERT_TRUE(runner.ok()) << runner.status();
  std::atomic<bool> stop{false};
  const absl::Status status = (*runner)->Run(&stop);
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
  EXPECT_NE(status.message().find("no partition assigned in "),
            absl::string_view::npos)
      << status;
  EXPECT_NE(status.message().find("brokers 127.0.0.1:1 unreachable ("),
            absl::string_view::npos)
      << status;
  EXPECT_NE(status.message().find("Connection refused"),
            absl::string_view::npos)
      << status;
  EXPECT_FALSE((*runner)->stats().shutdown_incomplete);
}

TEST(ErrorLogTest, ExplainsTheMostTellingError) {
  ErrorLog log;
  EXPECT_EQ(log.Explain("b:9092"), "");
  log.Record(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, "1/1 brokers are down");
  EXPECT_EQ(log.Explain("b:9092"),
            "brokers b:9092 unreachable (1/1 brokers are down)");
  log.Record(RD_KAFKA_RESP_ERR__TRANSPORT, "b:9092/1: Connection refused");
  log.Record(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, "1/1 brokers are down");
  EXPECT_EQ(log.Explain("b:9092"),
            "brokers b:9092 unreachable (b:9092/1: Connection refused)");
  log.Record(RD_KAFKA_RESP_ERR__AUTHENTICATION,
             "SASL authentication error: Authentication failed");
  EXPECT_EQ(log.Explain("b:9092"),
            "authentication failed (SASL authentication error: "
            "Authentication failed)");
  ErrorLog denied;
  denied.Record(RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED, "");
  EXPECT_EQ(denied.Explain("b"),
            std::string("not authorized (") +
                rd_kafka_err2str(RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED) +
                ")");
}

// An output that cannot even be queued (here a dead letter larger than the
// producer's message.max.bytes) stops the runner, and nothing processed in
// that pass is committed: the bad message is processed again after a restart
// (with a checkpoint every millisecond, the pass that hit the error would
// otherwise commit past it at once).
TEST_P(StreamRunnerAnyBrokerTest,
       AnOutputThatCannotBeQueuedIsNeverCommittedPast) {
  // 100 quiet hours (no alert), committed; then the bad message alone, so
  // that nothing else waits for an acknowledgement and the checkpoint of the
  // pass that hits the error would be committable at once.
  const std::vector<FeedEvent> feed = MakeFeed(1, 400);
  auto producer = ebb_test::MakeProducer(broker_->bootstrap());
  ASSERT_NE(producer, nullptr);
  for (size_t i = 0; i < 100; ++i) {
    ASSERT_TRUE(producer
                    ->Produce(topics().prices, 0, feed[i].symbol,
                              ebb_test::Encode(feed[i]), {})
                    .ok());
  }
  ASSERT_TRUE(producer->Flush(absl::Seconds(10)).ok());

  StreamOptions options = Options("unqueueable");
  options.exit_when_idle = absl::ZeroDuration();
  options.commit_interval = absl::Milliseconds(1);
  options.producer_properties = {{"message.max.bytes", "2000"}};
  auto runner = MakeRunner(options);
  std::atomic<bool> stop{false};
  absl::Status status;
  std::thread run([&] { status = runner->Run(&stop); });
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  std::map<int32_t, int64_t> committed;
  while (absl::Now() < deadline) {
    ASSERT_TRUE(Committed("unqueueable", &committed));
    if (committed[0] == 100) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_EQ(committed[0], 100);
  const std::string garbage(5000, 'x');  // not a PriceEvent: dead-lettered
  ASSERT_TRUE(producer->Produce(topics().prices, 0, "SYM0", garbage, {}).ok());
  ASSERT_TRUE(producer->Flush(absl::Seconds(10)).ok());
  run.join();  // the runner stops by itself
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find(topics().dlq), absl::string_view::npos)
      << status;
  ASSERT_TRUE(Committed("unqueueable", &committed));
  EXPECT_EQ(committed[0], 100) << "committed past the message whose dead "
                                  "letter was never queued";
}

// Scaling out: a second instance joins the group mid-stream, partitions move
// (revoke: flush and commit; assign: warm start), and no alert is lost.
void StreamRunnerTest::ScaleOut(const std::string& group,
                                const std::string& assignor) {
  const std::vector<FeedEvent> feed = MakeFeed(24, 1000);
  StreamOptions options = Options(group);
  options.exit_when_idle = absl::ZeroDuration();
  options.consumer_properties.emplace_back("partition.assignment.strategy",
                                           assignor);
  auto first = MakeRunner(options);
  auto second = MakeRunner(options);
  std::atomic<bool> stop{false};
  absl::Status first_status, second_status;
  std::thread run_first([&] { first_status = first->Run(&stop); });
  while (first->assigned_partitions() == 0) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  std::thread publisher([&] {
    auto producer = ebb_test::MakeProducer(broker_->bootstrap());
    for (size_t i = 0; i < feed.size(); i += 1000) {
      Publish(*producer, topics().prices, feed, i, i + 1000);
      absl::SleepFor(absl::Milliseconds(150));
    }
  });
  absl::SleepFor(absl::Milliseconds(1000));
  std::thread run_second([&] { second_status = second->Run(&stop); });
  publisher.join();
  WaitUntilCommitted(group, feed.size());
  stop = true;
  run_first.join();
  run_second.join();
  ASSERT_TRUE(first_status.ok()) << first_status;
  ASSERT_TRUE(second_status.ok()) << second_status;

  const StreamStats a = first->stats(), b = second->stats();
  const uint64_t live_a = a.consumed - a.history,
                 live_b = b.consumed - b.history;
  EXPECT_GT(live_b, 0u);  // the second instance took work
  EXPECT_GE(a.assignments + b.assignments, 3u);
  // Every message processed live at least once. More than once only for
  // offsets processed but not committed when the rebalance began (the mock
  // broker, unlike Kafka, refuses commits while a group rebalances; ebb then
  // stops processing until the revoke).
  EXPECT_GE(live_a + live_b, feed.size());

  const std::vector<ebb::v1::Alert> alerts =
      ParseAlerts(ReadTopic(broker_->bootstrap(), topics().alerts));
  const std::vector<ebb::v1::Alert> expected = ReplayAlerts(feed);
  ASSERT_GT(expected.size(), 40u);
  const std::multiset<std::string> got = Contents(alerts);
  const std::set<std::string> distinct(got.begin(), got.end());
  const std::multiset<std::string> want = Contents(expected);
  // Nothing lost, nothing different; a repeat is the very same alert.
  EXPECT_EQ(distinct, std::set<std::string>(want.begin(), want.end()));
  std::fprintf(stderr,
               "scale-out (%s): %llu + %llu live messages for %zu, %zu alerts "
               "for %zu, %llu held back\n",
               assignor.c_str(), static_cast<unsigned long long>(live_a),
               static_cast<unsigned long long>(live_b), feed.size(),
               alerts.size(), expected.size(),
               static_cast<unsigned long long>(a.held + b.held));
}

TEST_P(StreamRunnerAnyBrokerTest, SecondInstanceJoiningMidStreamLosesNothing) {
  ScaleOut("scale", "range,roundrobin");
}

// The same with incremental (cooperative) rebalancing: the first instance
// gives up only the partitions that move, and keeps processing the others.
TEST_P(StreamRunnerAnyBrokerTest, CooperativeRebalanceLosesNothing) {
  ScaleOut("scale-coop", "cooperative-sticky");
}

// ---------------------------------------------------------------------------
// Real broker only: Kafka's own faults, and what the mock cannot do
// (offsetsForTimes, time retention).

class StreamRunnerRealBrokerTest : public StreamRunnerTest {
 protected:
  BrokerKind kind() const override { return BrokerKind::kReal; }
};

// Tests that kill and restart the broker: no other real-broker test runs
// meanwhile (RUN_SERIAL, by the suite's name).
using StreamRunnerRealBrokerRestartTest = StreamRunnerRealBrokerTest;

// `symbols` instruments, one price an hour from `first`: `quiet` hours within
// 0.5 % of their level, then `falling` hours in which each falls by 25 %
// (an alert opens at 10 % and escalates at 15 % and 20 %).
std::vector<FeedEvent> FallingFeed(int symbols, int quiet, int falling,
                                   ebb::TimeNs first) {
  std::vector<FeedEvent> feed;
  for (int h = 0; h < quiet + falling; ++h) {
    for (int s = 0; s < symbols; ++s) {
      const double level = 40.0 + 7.0 * s;
      const double wiggle = 1 + 0.005 * std::sin(0.7 * h + s);
      const double fall =
          h < quiet ? 1.0 : 1.0 - 0.25 * (h - quiet + 1) / falling;
      feed.push_back({"SYM" + std::to_string(s),
                      first + h * (ebb::kNanosPerDay / 24),
                      level * wiggle * fall});
    }
  }
  return feed;
}

// A feed whose quiet history ends half an hour before now and whose fall is
// live, stamped over the next `falling` hours (ebb accepts events up to a day
// ahead of its clock: max_future). The half-hour offsets keep now - window
// away from every event while the test runs.
std::vector<FeedEvent> FeedAroundNow(int symbols, int quiet_days, int falling) {
  const ebb::TimeNs hour = ebb::kNanosPerDay / 24;
  const ebb::TimeNs first =
      absl::GetCurrentTimeNanos() - hour / 2 - (quiet_days * 24 - 1) * hour;
  return FallingFeed(symbols, quiet_days * 24, falling, first);
}

// Topic settings for feeds stamped with event times: old ones are kept, and
// live ones up to a day ahead (Kafka 4 refuses more than an hour by default).
const Properties kAnyTimestamp = {
    {"retention.ms", "-1"}, {"message.timestamp.after.max.ms", "86400000"}};

TEST_F(StreamRunnerRealBrokerRestartTest,
       BrokerKilledAndRestartedMidStreamLosesNothing) {
  const char* dir = std::getenv("EBB_KAFKA_DIR");
  if (dir == nullptr) {
    GTEST_SKIP() << "EBB_KAFKA_DIR (the scripts/kafka.sh directory of "
                    "EBB_KAFKA_BROKERS) is not set: cannot restart the broker";
  }
  // scripts/kafka.sh COMMAND on the broker's directory; its exit status.
  auto kafka_sh = [dir](const std::string& command) {
    return std::system(
        absl::StrCat(EBB_KAFKA_SCRIPT, " ", command, " --dir '", dir, "'")
            .c_str());
  };
  const std::vector<FeedEvent> feed = MakeFeed(16, 900);
  const size_t n = feed.size();
  StreamOptions options = Options("killed");
  options.exit_when_idle = absl::ZeroDuration();
  auto runner = MakeRunner(options);
  std::atomic<bool> stop{false};
  absl::Status status;
  std::thread run([&] { status = runner->Run(&stop); });
  while (runner->assigned_partitions() == 0) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  auto producer = ebb_test::MakeProducer(broker_->bootstrap());
  ASSERT_NE(producer, nullptr);
  Publish(*producer, topics().prices, feed, 0, n / 3);
  // Killed while ebb is still processing and committing that third; the
  // next third is queued by the publisher while the broker is down.
  ASSERT_EQ(kafka_sh("kill"), 0);
  for (size_t i = n / 3; i < 2 * n / 3; ++i) {
    ASSERT_TRUE(producer
                    ->Produce(topics().prices, -1, feed[i].symbol,
                              ebb_test::Encode(feed[i]), {},
                              feed[i].time / 1000000)
                    .ok());
  }
  absl::SleepFor(absl::Seconds(2));
  ASSERT_EQ(kafka_sh("start --keep"), 0);
  ASSERT_TRUE(producer->Flush(absl::Seconds(120)).ok());
  Publish(*producer, topics().prices, feed, 2 * n / 3, n);
  WaitUntilCommitted("killed", n);
  stop = true;
  run.join();
  ASSERT_TRUE(status.ok()) << status;  // ebb carried on

  const StreamStats stats = runner->stats();
  EXPECT_GE(stats.consumed - stats.history, n);
  const std::vector<ebb::v1::Alert> alerts = ParseAlerts(ReadAlerts());
  const std::vector<ebb::v1::Alert> expected = ReplayAlerts(feed);
  ASSERT_GT(expected.size(), 20u);
  // Nothing lost, nothing different; a repeat (the outage may cost the group
  // a rebalance) is the very same alert.
  const std::multiset<std::string> got = Contents(alerts);
  const std::multiset<std::string> want = Contents(expected);
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()),
            std::set<std::string>(want.begin(), want.end()));
  std::fprintf(stderr, "broker killed: %zu alerts for %zu, %llu assignments\n",
               alerts.size(), expected.size(),
               static_cast<unsigned long long>(stats.assignments));
}

// Right after a topic is created its partitions' leaders are not settled, and
// a watermark query can be refused (NOT_LEADER_FOR_PARTITION): the answer
// must wait for them. The warm start asks at every assignment, and an error
// there starts the partition with empty windows (seen in the test above,
// whose runner is assigned the topic as soon as it exists).
TEST_F(StreamRunnerRealBrokerTest, WatermarksOfANewTopicWaitForItsLeaders) {
  const std::string topic = broker_->Name("new");
  ASSERT_TRUE(
      ebb_test::CreateTopics(broker_->bootstrap(), {{topic, 8, {}}}).ok());
  auto consumer = Consumer::Create({{"bootstrap.servers", broker_->bootstrap()},
                                    {"group.id", broker_->Name("marks")}},
                                   nullptr);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  for (int p = 0; p < 8; ++p) {
    int64_t low = -1, high = -1;
    const absl::Status status =
        (*consumer)->Watermarks(topic, p, &low, &high, absl::Seconds(10));
    EXPECT_TRUE(status.ok()) << status;
    EXPECT_EQ(low, 0);
    EXPECT_EQ(high, 0);
  }
}

// warm_start "window": the history starts at offsetsForTimes(now - window -
// margin), not at the oldest message, and the windows it rebuilds give the
// same live alerts as a replay of the whole history.
TEST_F(StreamRunnerRealBrokerTest, WarmStartByTimeEqualsReplay) {
  const std::string prices = broker_->Name("prices-by-time");
  ASSERT_TRUE(
      ebb_test::CreateTopics(broker_->bootstrap(), {{prices, 4, kAnyTimestamp}})
          .ok());
  const std::vector<FeedEvent> feed = FeedAroundNow(8, 50, 24);
  const size_t split = 8 * 50 * 24;  // the quiet 50 days: history
  Publish(broker_->bootstrap(), prices, feed, 0, split);

  StreamOptions options = Options("by-time");
  options.prices_topic = prices;
  options.start_earliest = false;
  options.exit_when_idle = absl::ZeroDuration();
  options.warm_start_by_time = true;
  const ebb::TimeNs since = absl::GetCurrentTimeNanos() - 30 * kNanosPerDay -
                            absl::ToInt64Nanoseconds(options.warm_start_margin);
  size_t recent = 0;  // the history the windows need
  for (size_t i = 0; i < split; ++i) recent += feed[i].time >= since;
  auto runner = MakeRunner(options);
  std::atomic<bool> stop{false};
  absl::Status status;
  std::thread run([&] { status = runner->Run(&stop); });
  while (runner->assigned_partitions() == 0) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  Publish(broker_->bootstrap(), prices, feed, split);
  WaitUntilCommitted("by-time", feed.size(), prices);
  stop = true;
  run.join();
  ASSERT_TRUE(status.ok()) << status;

  const StreamStats stats = runner->stats();
  EXPECT_EQ(stats.history, recent);  // 37 of the 50 days, not all
  EXPECT_LT(stats.history, split);
  const std::vector<ebb::v1::Alert> expected = ReplayAlerts(feed, split);
  ASSERT_EQ(expected.size(), 8u * 3);  // opened, escalated twice
  for (const ebb::v1::Alert& a : expected) EXPECT_TRUE(a.full_window());
  EXPECT_EQ(Contents(ParseAlerts(ReadAlerts())), Contents(expected));
}

// `symbols` instruments on a market's calendar: trading days of `bars`
// prices `bar_interval` apart (one bar: a daily close), none on the 5th and
// 6th day of each week nor on `holidays`. Days are counted from the first
// live day, 0, whose first bar comes `lead` after now: the first live event,
// less than one interval after the restart. History (days before 0) stays
// within 0.5 % of each symbol's level; day 0 falls by 12 %, 16 % and 21 % on
// its first three bars (an alert opens at 10 % and escalates at 15 % and
// 20 %), then stays there. Returns the feed and the number of history events.
std::pair<std::vector<FeedEvent>, size_t> SessionFeed(
    int symbols, int history_days, int bars, ebb::TimeNs bar_interval,
    ebb::TimeNs lead, const std::set<int>& holidays) {
  const ebb::TimeNs day0 = absl::GetCurrentTimeNanos() + lead;
  const double fall[] = {0.88, 0.84, 0.79};
  std::vector<FeedEvent> feed;
  size_t history = 0;
  int i = 0;
  for (int day = -history_days; day <= 0; ++day) {
    const int weekday = ((day % 7) + 7) % 7;
    if (weekday >= 5 || holidays.count(day) > 0) continue;
    for (int b = 0; b < bars; ++b, ++i) {
      for (int s = 0; s < symbols; ++s) {
        const double level = 40.0 + 7.0 * s;
        const double price = day < 0
                                 ? level * (1 + 0.005 * std::sin(0.7 * i + s))
                                 : level * fall[std::min(b, 2)];
        feed.push_back({"SYM" + std::to_string(s),
                        day0 + day * kNanosPerDay + b * bar_interval, price});
        history += day < 0;
      }
    }
  }
  return {feed, history};
}

// warm_start "window" on a calendar with gaps: `feed` (history, then live
// from index `split`) is published in two parts around the start of an
// instance; its alerts must equal a replay's, `change` and `full_window`
// included, and the history it reads must be what the margin asks for.
class StreamRunnerRealBrokerCalendarTest : public StreamRunnerRealBrokerTest {
 protected:
  std::vector<ebb::v1::Alert> Run(const std::string& name,
                                  const std::vector<FeedEvent>& feed,
                                  size_t split) {
    const std::string prices = broker_->Name("prices-" + name);
    EXPECT_TRUE(ebb_test::CreateTopics(broker_->bootstrap(),
                                       {{prices, 4, kAnyTimestamp}})
                    .ok());
    Publish(broker_->bootstrap(), prices, feed, 0, split);
    StreamOptions options = Options(name);
    options.prices_topic = prices;
    options.start_earliest = false;
    options.exit_when_idle = absl::ZeroDuration();
    options.warm_start_by_time = true;
    const ebb::TimeNs since =
        absl::GetCurrentTimeNanos() - 30 * kNanosPerDay -
        absl::ToInt64Nanoseconds(options.warm_start_margin);
    size_t needed = 0;
    for (size_t i = 0; i < split; ++i) needed += feed[i].time >= since;
    auto runner = MakeRunner(options);
    std::atomic<bool> stop{false};
    absl::Status status;
    std::thread run([&] { status = runner->Run(&stop); });
    while (runner->assigned_partitions() == 0) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    Publish(broker_->bootstrap(), prices, feed, split);
    WaitUntilCommitted(name, feed.size(), prices);
    stop = true;
    run.join();
    EXPECT_TRUE(status.ok()) << status;
    EXPECT_EQ(runner->stats().history, needed);
    EXPECT_LT(runner->stats().history, split);
    return ParseAlerts(ReadAlerts());
  }

  // Alerts by id, as text without their provenance: a difference reads as
  // the fields that differ.
  static std::map<std::string, std::string> ById(
      const std::vector<ebb::v1::Alert>& alerts) {
    std::map<std::string, std::string> out;
    for (ebb::v1::Alert a : alerts) {
      a.clear_provenance();
      out[a.id()] = a.ShortDebugString();
    }
    return out;
  }
};

// Hourly bars of a 7-hour session on weekdays; the restart is on a "Monday"
// 20 minutes before its first bar. Thirty days before that bar is a
// "Saturday" after a holiday "Friday": the anchor of its `change` is the
// "Thursday"'s last bar, 32 days minus 6 hours back, before now - window.
TEST_F(StreamRunnerRealBrokerCalendarTest,
       FirstLiveHourlyBarHasTheReplaysChange) {
  const ebb::TimeNs hour = kNanosPerDay / 24;
  const auto [feed, split] =
      SessionFeed(8, 60, 7, hour, 20 * kNanosPerMinute, {-31});
  const std::vector<ebb::v1::Alert> expected = ReplayAlerts(feed, split);
  ASSERT_EQ(expected.size(), 8u * 3);  // opened, escalated twice
  for (const ebb::v1::Alert& a : expected) {
    EXPECT_TRUE(a.full_window()) << a.ShortDebugString();
    EXPECT_TRUE(a.has_change()) << a.ShortDebugString();
  }
  const std::vector<ebb::v1::Alert> alerts = Run("hourly", feed, split);
  EXPECT_EQ(ById(alerts), ById(expected));
  EXPECT_EQ(Contents(alerts), Contents(expected));
}

// Daily closes on weekdays, with the same holiday: the restart comes 20
// minutes before "Monday"'s close, whose `change` is against the close of
// "Thursday" 32 days earlier.
TEST_F(StreamRunnerRealBrokerCalendarTest,
       FirstLiveDailyCloseHasTheReplaysChange) {
  const auto [feed, split] =
      SessionFeed(8, 90, 1, kNanosPerDay, 20 * kNanosPerMinute, {-31});
  const std::vector<ebb::v1::Alert> expected = ReplayAlerts(feed, split);
  ASSERT_EQ(expected.size(), 8u);  // opened by the first live close
  for (const ebb::v1::Alert& a : expected) {
    EXPECT_TRUE(a.full_window()) << a.ShortDebugString();
    EXPECT_TRUE(a.has_change()) << a.ShortDebugString();
  }
  const std::vector<ebb::v1::Alert> alerts = Run("daily", feed, split);
  EXPECT_EQ(ById(alerts), ById(expected));
  EXPECT_EQ(Contents(alerts), Contents(expected));
}

// What the margin cannot cover (docs/kafka.md, "Warm start"): symbols halted
// for 12 trading days around 30 days before their first live close have
// their newest close at or before that instant 41 days back, past the 7-day
// margin. Their first live alert then lacks `change` and says `full_window`
// false where a replay has both; the rest of it (value, peak, id) is equal.
TEST_F(StreamRunnerRealBrokerCalendarTest,
       SilentLongerThanTheMarginLacksChange) {
  std::set<int> halted;
  for (int day = -40; day <= -29; ++day) halted.insert(day);
  const auto [feed, split] =
      SessionFeed(8, 90, 1, kNanosPerDay, 20 * kNanosPerMinute, halted);
  std::vector<ebb::v1::Alert> expected = ReplayAlerts(feed, split);
  ASSERT_EQ(expected.size(), 8u);
  const std::vector<ebb::v1::Alert> alerts = Run("halted", feed, split);
  ASSERT_EQ(alerts.size(), 8u);
  for (const ebb::v1::Alert& a : alerts) {
    EXPECT_FALSE(a.has_change()) << a.ShortDebugString();
    EXPECT_FALSE(a.full_window()) << a.ShortDebugString();
  }
  for (ebb::v1::Alert& a : expected) {
    EXPECT_TRUE(a.has_change()) << a.ShortDebugString();
    EXPECT_TRUE(a.full_window()) << a.ShortDebugString();
    a.clear_change();
    a.clear_full_window();
  }
  EXPECT_EQ(ById(alerts), ById(expected));
}

// warm_start "window" for a group that resumes behind now: a group
// processes feed[0, split) and commits, then comes back, with warm_start
// "window", to the rest of `feed`, published meanwhile. Returns the stats of
// that second run and its alerts.
class StreamRunnerRealBrokerResumeTest : public StreamRunnerRealBrokerTest {
 protected:
  std::pair<StreamStats, std::vector<ebb::v1::Alert>> ResumeBehind(
      const std::string& name, const std::vector<FeedEvent>& feed,
      size_t split) {
    const std::string prices = broker_->Name("prices-" + name);
    const std::string alerts = broker_->Name("alerts-" + name);
    EXPECT_TRUE(ebb_test::CreateTopics(
                    broker_->bootstrap(),
                    {{prices, 4, kAnyTimestamp}, {alerts, 1, kAnyTimestamp}})
                    .ok());
    Publish(broker_->bootstrap(), prices, feed, 0, split);
    StreamOptions options = Options(name);
    options.prices_topic = prices;
    RunToIdle(options);
    EXPECT_EQ(CommittedTotal(name, prices), static_cast<int64_t>(split));
    Publish(broker_->bootstrap(), prices, feed, split);
    options.alerts_topic = alerts;
    options.start_earliest = false;
    options.warm_start_by_time = true;
    const StreamStats stats = RunToIdle(options);
    EXPECT_EQ(stats.consumed - stats.history, feed.size() - split);
    return {stats, ParseAlerts(ReadTopic(broker_->bootstrap(), alerts))};
  }
};

// A day behind, within the margin: the history starts at now - window -
// margin, and the alerts of the live day, with its fall, equal a replay's.
TEST_F(StreamRunnerRealBrokerResumeTest, ADayBehindReadsTheWindowAndMargin) {
  const ebb::TimeNs hour = kNanosPerDay / 24;
  const std::vector<FeedEvent> feed =
      FallingFeed(8, 49 * 24, 24,
                  absl::GetCurrentTimeNanos() - 50 * kNanosPerDay + hour / 2);
  const size_t split = 8 * 49 * 24;
  const std::vector<ebb::v1::Alert> expected = ReplayAlerts(feed, split);
  ASSERT_EQ(expected.size(), 8u * 3);  // opened, escalated twice
  const ebb::TimeNs since =
      absl::GetCurrentTimeNanos() - 30 * kNanosPerDay -
      absl::ToInt64Nanoseconds(StreamOptions().warm_start_margin);
  size_t needed = 0;
  for (size_t i = 0; i < split; ++i) needed += feed[i].time >= since;
  const auto [stats, alerts] = ResumeBehind("day-behind", feed, split);
  EXPECT_EQ(stats.history, needed);  // 36 of the 49 days
  EXPECT_EQ(Contents(alerts), Contents(expected));
}

// Twenty days behind, more than the margin: the first live events' windows
// reach back 50 days, past now - window - margin, so the history starts at
// the oldest message. Each symbol's episode, opened by a 15 % spike 44-46
// days ago, resolves when the spike leaves the window, as in a replay.
TEST_F(StreamRunnerRealBrokerResumeTest, FarBehindReadsAllHistory) {
  const ebb::TimeNs hour = kNanosPerDay / 24;
  const ebb::TimeNs first =
      absl::GetCurrentTimeNanos() - 60 * kNanosPerDay + hour / 2;
  std::vector<FeedEvent> feed;
  for (int h = 0; h < 50 * 24; ++h) {
    for (int s = 0; s < 8; ++s) {
      const double spike = h >= 14 * 24 && h < 16 * 24 ? 1.15 : 1.0;
      feed.push_back(
          {"SYM" + std::to_string(s), first + h * hour,
           (40.0 + 7.0 * s) * spike * (1 + 0.005 * std::sin(0.7 * h + s))});
    }
  }
  const size_t split = 8 * 40 * 24;  // the group's offsets: 20 days ago
  const std::vector<ebb::v1::Alert> expected = ReplayAlerts(feed, split);
  ASSERT_EQ(expected.size(), 8u);
  for (const ebb::v1::Alert& a : expected) {
    EXPECT_EQ(a.transition(), ebb::v1::RESOLVED) << a.ShortDebugString();
  }
  const auto [stats, alerts] = ResumeBehind("far-behind", feed, split);
  EXPECT_EQ(stats.history, split);
  EXPECT_EQ(Contents(alerts), Contents(expected));
}

// A price topic that keeps less than the window: the windows rebuilt from it
// start at the oldest retained message, and every alert says so (full_window
// false) where a replay of the whole history says true; a rule with
// require_full_window does not fire (docs/kafka.md, "Retention shorter than
// the window").
TEST_F(StreamRunnerRealBrokerTest,
       RetentionShorterThanTheWindowIsNoFullWindow) {
  const std::string prices = broker_->Name("prices-10d");
  const std::string strict_alerts = broker_->Name("alerts-strict");
  // 10 days of retention, segments rolled per day of event time; the broker
  // checks retention every second (scripts/test.sh starts it so).
  ASSERT_TRUE(ebb_test::CreateTopics(
                  broker_->bootstrap(),
                  {{prices,
                    4,
                    {{"retention.ms", std::to_string(10 * 86400000LL)},
                     {"segment.ms", "86400000"},
                     {"message.timestamp.after.max.ms", "86400000"}}},
                   {strict_alerts, 1, kAnyTimestamp}})
                  .ok());
  const std::vector<FeedEvent> feed = FeedAroundNow(8, 35, 24);
  const size_t split = 8 * 35 * 24;
  // The broker rolls a segment only when a batch is appended: small batches,
  // so that the history spans many days' segments. Idempotent: a retried
  // batch (the topic is new) must not land after later ones.
  auto producer = Producer::Create({{"bootstrap.servers", broker_->bootstrap()},
                                    {"enable.idempotence", "true"},
                                    {"batch.num.messages", "10"}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  Publish(**producer, prices, feed, 0, split);
  // Retention deletes the segments older than 10 days, one partition after
  // another: wait until every partition has lost its old segments and the
  // log start offsets stay put for two checks, so that the warm start reads
  // exactly what is read here.
  auto watcher = Consumer::Create({{"bootstrap.servers", broker_->bootstrap()},
                                   {"group.id", broker_->Name("watch")}},
                                  nullptr);
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  std::vector<int64_t> starts(4, -1), before;
  int64_t kept_count = 0;
  int stable = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(90);
  while (stable < 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Seconds(1));
    before = starts;
    kept_count = 0;
    bool all_moved = true;  // every partition with messages lost old ones
    for (int p = 0; p < 4; ++p) {
      int64_t high = 0;
      ASSERT_TRUE(
          (*watcher)
              ->Watermarks(prices, p, &starts[p], &high, absl::Seconds(10))
              .ok());
      kept_count += high - starts[p];
      all_moved = all_moved && (starts[p] > 0 || high == 0);
    }
    stable = all_moved && starts == before ? stable + 1 : 0;
  }
  ASSERT_EQ(stable, 2)
      << "retention did not settle within 90 s (log start offsets " << starts[0]
      << ", " << starts[1] << ", " << starts[2] << ", " << starts[3]
      << "): the broker must check it often "
         "(log.retention.check.interval.ms=1000, as scripts/test.sh sets)";
  const std::vector<Record> retained = ReadTopic(broker_->bootstrap(), prices);
  ASSERT_EQ(static_cast<int64_t>(retained.size()), kept_count);
  ASSERT_LE(retained.size(), 8u * 12 * 24);
  ASSERT_GE(retained.size(), 8u * 9 * 24);
  // The retained history, each symbol's events in their partition's order
  // (the order ebb applies them in).
  std::vector<FeedEvent> kept;
  for (const Record& r : retained) {
    ebb::v1::PriceEvent event;
    ASSERT_TRUE(event.ParseFromString(r.value));
    auto time = ebb::FromTimestamp(event.event_time());
    ASSERT_TRUE(time.ok()) << time.status();
    kept.push_back({event.symbol(), *time, event.price()});
  }

  StreamOptions options = Options("short");
  options.prices_topic = prices;
  options.start_earliest = false;
  options.exit_when_idle = absl::ZeroDuration();
  StreamOptions strict_options = options;
  strict_options.group = broker_->Name("strict");
  strict_options.alerts_topic = strict_alerts;
  ebb::v1::EbbConfig strict_config = DefaultConfig();
  strict_config.mutable_rules(0)->set_require_full_window(true);
  auto runner = MakeRunner(options);
  auto strict = MakeRunner(strict_options, strict_config);
  std::atomic<bool> stop{false};
  absl::Status status, strict_status;
  std::thread run([&] { status = runner->Run(&stop); });
  std::thread run_strict([&] { strict_status = strict->Run(&stop); });
  while (runner->assigned_partitions() == 0 ||
         strict->assigned_partitions() == 0) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  Publish(broker_->bootstrap(), prices, feed, split);
  // Offsets count from the first message ever published, retained or not.
  WaitUntilCommitted("short", feed.size(), prices);
  WaitUntilCommitted("strict", feed.size(), prices);
  stop = true;
  run.join();
  run_strict.join();
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_TRUE(strict_status.ok()) << strict_status;

  EXPECT_EQ(runner->stats().history, kept.size());  // from the oldest kept
  const std::vector<ebb::v1::Alert> alerts = ParseAlerts(ReadAlerts());
  ASSERT_EQ(alerts.size(), 8u * 3);
  for (const ebb::v1::Alert& a : alerts) {
    EXPECT_FALSE(a.full_window()) << a.ShortDebugString();
  }
  // Exactly a replay of what was retained...
  std::vector<FeedEvent> short_history = kept;
  short_history.insert(short_history.end(), feed.begin() + split, feed.end());
  EXPECT_EQ(Contents(alerts),
            Contents(ReplayAlerts(short_history, kept.size())));
  // ...where the whole history would have made the windows full.
  for (const ebb::v1::Alert& a : ReplayAlerts(feed, split)) {
    EXPECT_TRUE(a.full_window());
  }
  EXPECT_EQ(strict->stats().alerts_produced, 0u);
  EXPECT_TRUE(ReadTopic(broker_->bootstrap(), strict_alerts).empty());
}

// Producer::settled_through() is the prefix of message numbers with delivery
// reports, not their count: a report that arrives out of order (another
// partition's leader acknowledged first) must not move it past a message
// still waiting.
TEST(ProducerTest, SettledThroughIsThePrefixOfDeliveryReports) {
  auto broker = EmbeddedBroker::Start(2, {{"two", 2}});
  ASSERT_TRUE(broker.ok()) << broker.status();
  rd_kafka_mock_cluster_t* mock = (*broker)->cluster();
  rd_kafka_mock_partition_set_leader(mock, "two", 0, 1);
  rd_kafka_mock_partition_set_leader(mock, "two", 1, 2);
  auto producer = ebb_test::MakeProducer((*broker)->bootstrap());
  ASSERT_NE(producer, nullptr);
  ASSERT_TRUE(producer->FetchMetadata("two", absl::Seconds(10)).ok());
  rd_kafka_mock_broker_set_down(mock, 2);
  // Messages 1 and 3 go to partition 0 (up), message 2 to partition 1 (down).
  ASSERT_TRUE(producer->Produce("two", 0, "k", "first", {}).ok());
  ASSERT_TRUE(producer->Produce("two", 1, "k", "second", {}).ok());
  ASSERT_TRUE(producer->Produce("two", 0, "k", "third", {}).ok());
  EXPECT_EQ(producer->queued(), 3u);
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (producer->delivered() < 2 && absl::Now() < deadline) {
    producer->Poll();
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(producer->delivered(), 2u);  // 1 and 3
  EXPECT_EQ(producer->settled_through(), 1u);
  EXPECT_TRUE(producer->status().ok());
  rd_kafka_mock_broker_set_up(mock, 2);
  ASSERT_TRUE(producer->Flush(absl::Seconds(30)).ok());
  EXPECT_EQ(producer->delivered(), 3u);
  EXPECT_EQ(producer->settled_through(), 3u);
}

TEST(StreamOptionsTest, ConfigDefaultsAndErrors) {
  ebb::v1::KafkaConfig config;
  auto options = StreamOptionsFromConfig(config);
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->prices_topic, "ebb.prices");
  EXPECT_EQ(options->news_topic, "ebb.news");
  EXPECT_TRUE(options->warm_start);
  EXPECT_FALSE(options->start_earliest);
  config.set_news_topic("-");
  config.set_start("earliest");
  config.set_commit_interval("50ms");
  (*config.mutable_properties())["security.protocol"] = "SASL_SSL";
  options = StreamOptionsFromConfig(config);
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->news_topic, "");
  EXPECT_TRUE(options->start_earliest);
  EXPECT_EQ(options->commit_interval, absl::Milliseconds(50));
  ASSERT_EQ(options->properties.size(), 1u);
  config.set_start("sometime");
  EXPECT_NE(
      StreamOptionsFromConfig(config).status().message().find("kafka.start"),
      absl::string_view::npos);
  config.set_start("");
  config.set_warm_start("maybe");
  EXPECT_FALSE(StreamOptionsFromConfig(config).ok());
  config.set_warm_start("");
  EXPECT_EQ(StreamOptionsFromConfig(config)->shutdown_timeout,
            absl::Seconds(10));
  config.set_shutdown_timeout("3s");
  EXPECT_EQ(StreamOptionsFromConfig(config)->shutdown_timeout,
            absl::Seconds(3));
  config.set_shutdown_timeout("0s");
  EXPECT_EQ(StreamOptionsFromConfig(config).status().message(),
            "kafka.shutdown_timeout: must be > 0");
  config.set_shutdown_timeout("");
  EXPECT_EQ(StreamOptionsFromConfig(config)->warm_start_margin,
            absl::Hours(7 * 24));
  config.set_warm_start_margin("36h");
  EXPECT_EQ(StreamOptionsFromConfig(config)->warm_start_margin,
            absl::Hours(36));
  config.set_warm_start_margin("0s");
  EXPECT_EQ(StreamOptionsFromConfig(config)->warm_start_margin,
            absl::ZeroDuration());
  config.set_warm_start_margin("a week");
  EXPECT_EQ(StreamOptionsFromConfig(config).status().message(),
            "kafka.warm_start_margin: invalid duration \"a week\": expected a "
            "number (use e.g. \"30d\", \"1m\", \"90s\")");
}

TEST(KafkaPropertiesTest, SecretsComeFromTheEnvironmentAndAreNeverPrinted) {
  setenv("EBB_TEST_SASL_PASSWORD", "hunter2", 1);
  auto value =
      ResolvePropertyValue("sasl.password", "${EBB_TEST_SASL_PASSWORD}");
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, "hunter2");
  EXPECT_FALSE(
      ResolvePropertyValue("sasl.password", "${EBB_TEST_UNSET_VAR}").ok());
  EXPECT_EQ(*ResolvePropertyValue("client.id", "plain"), "plain");

  const Properties properties = {{"sasl.password", "hunter2"},
                                 {"ssl.key.password", "s3cret"},
                                 {"sasl.username", "desk"}};
  const std::string described = DescribeProperties(properties);
  EXPECT_EQ(described.find("hunter2"), std::string::npos);
  EXPECT_EQ(described.find("s3cret"), std::string::npos);
  EXPECT_NE(described.find("sasl.username=desk"), std::string::npos);
  EXPECT_TRUE(IsSecretProperty("sasl.oauthbearer.client.secret"));
  EXPECT_TRUE(IsSecretProperty("sasl.oauthbearer.config"));
  EXPECT_FALSE(IsSecretProperty("bootstrap.servers"));

  // librdkafka's own error text quotes the value; a secret's never shows.
  auto bad = MakeConf({{"enable.idempotence", "maybe"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("enable.idempotence"),
            absl::string_view::npos);
  auto bad_secret = MakeConf({{"sasl.password.typo", "hunter2"}});
  ASSERT_FALSE(bad_secret.ok());
  EXPECT_NE(bad_secret.status().message().find("sasl.password.typo"),
            absl::string_view::npos);
  EXPECT_EQ(bad_secret.status().message().find("hunter2"), std::string::npos);
}

// A logger that keeps the runner's messages (written on the runner's thread,
// read once Run() has returned).
class KeepingLogger : public Logger {
 public:
  void Log(absl::string_view message) override {
    messages.emplace_back(message);
  }
  std::vector<std::string> messages;
};

TEST_F(StreamRunnerTest, StatsCanBeReadFromAnotherThreadWhileItRuns) {
  const std::vector<FeedEvent> feed = MakeFeed(8, 500);
  // The feed in two halves: the second is published once a snapshot shows
  // the first consumed, so a snapshot from the middle of the run is seen
  // however the threads are scheduled.
  const size_t half = feed.size() / 2;
  Publish(broker_->bootstrap(), topics().prices, feed, 0, half);
  KeepingLogger log;
  StreamOptions o = Options("stats-reader");
  o.max_batch = 10;  // many passes, so the reader sees the run in between
  o.exit_when_idle = absl::ZeroDuration();  // stopped below
  o.logger = &log;
  auto runner = MakeRunner(o);
  ASSERT_NE(runner, nullptr);
  std::atomic<bool> stop{false}, done{false};
  absl::Status status;
  std::thread run([&] {
    status = runner->Run(&stop);
    done.store(true);
  });
  uint64_t last = 0;
  bool saw_partial = false;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!done.load()) {
    const StreamStats s = runner->stats();
    // Each snapshot is whole: every consumed message reached a pipeline.
    EXPECT_EQ(s.pipeline.received, s.consumed);
    EXPECT_GE(s.consumed, last);
    EXPECT_LE(s.consumed, feed.size());
    last = s.consumed;
    if (!saw_partial && s.consumed == half) {
      saw_partial = true;
      Publish(broker_->bootstrap(), topics().prices, feed, half);
    }
    if (s.consumed == feed.size() || absl::Now() > deadline) stop = true;
  }
  run.join();
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(saw_partial);
  const StreamStats final = runner->stats();
  EXPECT_EQ(final.consumed, feed.size());
  EXPECT_EQ(final.pipeline.applied, feed.size());
  EXPECT_GT(final.alerts_produced, 0u);
  uint64_t published = 0;
  for (uint64_t n : final.alerts_published) published += n;
  EXPECT_EQ(published, final.alerts_produced);
  // The injected logger got the runner's messages (nothing on stderr).
  EXPECT_TRUE(std::any_of(
      log.messages.begin(), log.messages.end(),
      [](const std::string& m) { return absl::StrContains(m, "assigned ("); }))
      << log.messages.size();
}

}  // namespace
}  // namespace ebb::kafka
