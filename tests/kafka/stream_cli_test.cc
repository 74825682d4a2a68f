// The streaming commands as users run them: `ebb produce`, `ebb run`,
// `ebb tail` against an embedded broker (this process hosts the mock cluster;
// the commands are separate processes talking to it over TCP) and against a
// real Apache Kafka broker (label kafka-real), including stopping `ebb run`
// mid-stream with SIGTERM and SIGKILL, and (real broker only) deleting its
// price topic under it.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "apps/cli_test_util.h"
#include "connectors/kafka/embedded_broker.h"
#include "ebb/v1/dead_letter.pb.h"
#include "google/protobuf/util/delimited_message_util.h"
#include "gtest/gtest.h"
#include "kafka/kafka_test_util.h"

namespace ebb::kafka {
namespace {

using ebb_test::FeedEvent;

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/ebb_stream_" + std::to_string(getpid()) +
         "_" + name;
}

// Starts `ebb <args>` with stdout and stderr to files; returns its pid.
pid_t Spawn(const std::vector<std::string>& args, const std::string& out,
            const std::string& err) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, 1);
    dup2(e, 2);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(EBB_BINARY_PATH));
    for (const std::string& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(EBB_BINARY_PATH, argv.data());
    _exit(127);
  }
  return pid;
}

int Wait(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

// Wait() for at most `timeout`; then SIGKILL and -1 ("did not end").
int WaitAtMost(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (absl::Now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

bool WaitForText(const std::string& path, const std::string& text,
                 absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (ebb_test::ReadFile(path).find(text) != std::string::npos) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

std::string WriteCsv(const std::vector<FeedEvent>& feed,
                     const std::string& name) {
  std::string csv = "timestamp,symbol,price\n";
  for (const FeedEvent& e : feed) {
    csv += FormatTime(e.time) + "," + e.symbol + "," +
           absl::StrFormat("%.10g", e.price) + "\n";
  }
  const std::string path = TempPath(name);
  ebb_test::WriteFile(path, csv);
  return path;
}

// The fields of a `kafka { ... }` config block that name `topics`.
std::string TopicFields(const ebb_test::Topics& topics) {
  return absl::StrFormat(
      "prices_topic: \"%s\" news_topic: \"%s\" alerts_topic: \"%s\" "
      "dlq_topic: \"%s\"",
      topics.prices, topics.news, topics.alerts, topics.dlq);
}

// On both brokers: the embedded one and the real Apache Kafka broker of
// EBB_KAFKA_BROKERS (ctest label kafka-real; skipped without the variable).
class StreamCliTest : public ::testing::TestWithParam<ebb_test::BrokerKind> {
 protected:
  void SetUp() override {
    auto broker = ebb_test::TestBroker::Start(GetParam());
    if (absl::IsFailedPrecondition(broker.status())) {
      GTEST_SKIP() << broker.status().message();
    }
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
  }
  const ebb_test::Topics& topics() const { return broker_->topics(); }
  std::unique_ptr<ebb_test::TestBroker> broker_;
};

INSTANTIATE_TEST_SUITE_P(Brokers, StreamCliTest,
                         ::testing::Values(ebb_test::BrokerKind::kEmbedded,
                                           ebb_test::BrokerKind::kReal),
                         ebb_test::BrokerKindName);

// On the embedded broker only, with its default topic names: tests of what
// the commands print and skip, which the broker does not change.
class StreamCliMockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto broker = ebb_test::TestBroker::Start(ebb_test::BrokerKind::kEmbedded);
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
  }
  std::unique_ptr<ebb_test::TestBroker> broker_;
};

// The same file through `ebb replay` and through `ebb produce` + `ebb run`
// (read back with `ebb tail`): the same alerts, ids included.
TEST_P(StreamCliTest, ProduceRunTailEqualsReplay) {
  const std::string csv = WriteCsv(ebb_test::MakeFeed(20, 900), "parity.csv");
  const std::string b = broker_->bootstrap();
  const std::string config = TempPath("parity.textproto");
  ebb_test::WriteFile(config, "kafka { " + TopicFields(topics()) + " }\n");
  auto replay = ebb_test::RunEbb("replay --no-progress --prices " + csv);
  ASSERT_EQ(replay.exit_code, 0) << replay.err;
  auto produce = ebb_test::RunEbb("produce --no-progress --brokers " + b +
                                  " --topic " + topics().prices + " " + csv);
  ASSERT_EQ(produce.exit_code, 0) << produce.err;
  EXPECT_NE(produce.err.find("18,000 messages to " + topics().prices),
            std::string::npos)
      << produce.err;
  // And one message that is not a PriceEvent, for the dead-letter topic.
  auto producer = ebb_test::MakeProducer(b);
  ASSERT_TRUE(
      producer->Produce(topics().prices, -1, "SYM1", "\x0a\x7f", {}).ok());
  ASSERT_TRUE(producer->Flush(absl::Seconds(10)).ok());

  auto run = ebb_test::RunEbb("run --brokers " + b + " --config " + config +
                              " --group " + broker_->Name("cli") +
                              " --from-beginning --exit-when-idle 3s");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("18,001 messages"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("rejected  1 (truncated 1); 1 dead letter published"),
            std::string::npos)
      << run.err;
  auto tail =
      ebb_test::RunEbb("tail --brokers " + b + " --topic " + topics().alerts +
                       " --from-beginning --idle-exit 1");
  ASSERT_EQ(tail.exit_code, 0) << tail.err;

  auto expected = ebb_test::ReadJsonLines<ebb::v1::Alert>(replay.out, true);
  auto streamed = ebb_test::ReadJsonLines<ebb::v1::Alert>(tail.out, true);
  ASSERT_GT(expected.size(), 30u);
  EXPECT_EQ(ebb_test::Contents(streamed), ebb_test::Contents(expected));
  for (const auto& alert : streamed) {
    EXPECT_EQ(alert.provenance().source(), topics().prices);
  }
  // Byte for byte the lines replay prints (fields at their defaults
  // included), but for where each alert came from.
  auto without_provenance = [](std::string line) {
    const size_t start = line.find(",\"provenance\":{");
    if (start != std::string::npos) {
      line.erase(start, line.find('}', start) + 1 - start);
    }
    return line;
  };
  std::map<std::string, std::string> replay_lines;  // by alert id
  {
    std::istringstream in(replay.out);
    std::string line;
    for (size_t i = 0; std::getline(in, line); ++i) {
      replay_lines[expected[i].id()] = without_provenance(line);
    }
  }
  {
    std::istringstream in(tail.out);
    std::string line;
    for (size_t i = 0; std::getline(in, line); ++i) {
      EXPECT_EQ(without_provenance(line), replay_lines[streamed[i].id()]);
      EXPECT_NE(line.find("\"fullWindow\":"), std::string::npos) << line;
    }
  }

  // The dead letter, read back as JSON.
  auto dlq = ebb_test::RunEbb("tail --brokers " + b + " --topic " +
                              topics().dlq + " --from-beginning --idle-exit 1");
  ASSERT_EQ(dlq.exit_code, 0) << dlq.err;
  auto letters = ebb_test::ReadJsonLines<ebb::v1::DeadLetter>(dlq.out, true);
  ASSERT_EQ(letters.size(), 1u) << dlq.out;
  EXPECT_EQ(letters[0].reason(), ebb::v1::TRUNCATED);
  EXPECT_EQ(letters[0].original(), "\x0a\x7f");
  EXPECT_EQ(letters[0].symbol(), "SYM1");
  EXPECT_EQ(letters[0].source(), topics().prices);
  EXPECT_TRUE(letters[0].has_partition());
  EXPECT_FALSE(letters[0].detail().empty());
}

// `ebb run --embedded-broker`: the broker lives in the ebb process; its
// address is on stderr and other clients can use it.
TEST(StreamCliEmbeddedTest, RunWithItsOwnBroker) {
  const std::string csv = WriteCsv(ebb_test::MakeFeed(6, 900), "embedded.csv");
  const std::string err = TempPath("embedded.err");
  const pid_t run = Spawn({"run", "--embedded-broker", "--from-beginning",
                           "--exit-when-idle", "3s"},
                          TempPath("embedded.out"), err);
  ASSERT_TRUE(WaitForText(err, "assigned", absl::Seconds(30)))
      << ebb_test::ReadFile(err);
  const std::string log = ebb_test::ReadFile(err);
  const std::string marker = "embedded broker at ";
  const size_t at = log.find(marker);
  ASSERT_NE(at, std::string::npos) << log;
  const std::string brokers =
      log.substr(at + marker.size(), log.find('\n', at) - at - marker.size());
  auto produce = ebb_test::RunEbb("produce --no-progress --brokers " + brokers +
                                  " " + csv);
  EXPECT_EQ(produce.exit_code, 0) << produce.err;
  EXPECT_EQ(Wait(run), 0) << ebb_test::ReadFile(err);
  EXPECT_NE(ebb_test::ReadFile(err).find("5,400 messages"), std::string::npos)
      << ebb_test::ReadFile(err);
}

// With no broker to talk to, --exit-when-idle still ends the run: status 1,
// with the reason.
TEST(StreamCliIdleTest, NoBrokerEndsWithTheReason) {
  const std::string err = TempPath("nobroker.err");
  const pid_t run =
      Spawn({"run", "--brokers", "127.0.0.1:1", "--exit-when-idle", "2s"},
            TempPath("nobroker.out"), err);
  EXPECT_EQ(WaitAtMost(run, absl::Seconds(60)), 1) << ebb_test::ReadFile(err);
  EXPECT_NE(ebb_test::ReadFile(err).find(
                "ebb run: no partition assigned in 2s: brokers 127.0.0.1:1 "
                "unreachable ("),
            std::string::npos)
      << ebb_test::ReadFile(err);
}

// SIGTERM while the broker cannot acknowledge the alerts: the stop ends
// after --shutdown-timeout with status 3, saying what was left.
TEST(StreamCliShutdownTest, SigtermWithTheBrokerGoneEndsWithStatus3) {
  auto started = EmbeddedBroker::Start(2, DefaultTopics());
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<EmbeddedBroker> broker = *std::move(started);
  rd_kafka_mock_cluster_t* mock = broker->cluster();
  for (int p = 0; p < 4; ++p) {
    rd_kafka_mock_partition_set_leader(mock, "ebb.prices", p, 1);
  }
  rd_kafka_mock_partition_set_leader(mock, "ebb.dlq", 0, 1);
  rd_kafka_mock_partition_set_leader(mock, "ebb.alerts", 0, 2);
  rd_kafka_mock_coordinator_set(mock, "group", "ebb", 1);
  const std::string b = broker->bootstrap();
  const std::string err = TempPath("gone.err");
  const pid_t run =
      Spawn({"run", "--brokers", b, "--from-beginning", "--shutdown-timeout",
             "2s", "--property", "session.timeout.ms=6000"},
            TempPath("gone.out"), err);
  ASSERT_TRUE(WaitForText(err, "assigned", absl::Seconds(30)))
      << ebb_test::ReadFile(err);
  rd_kafka_mock_broker_set_down(mock, 2);
  ebb_test::Publish(b, "ebb.prices", ebb_test::MakeFeed(12, 1000));
  absl::SleepFor(absl::Seconds(3));        // time to process it (milliseconds)
  rd_kafka_mock_broker_set_down(mock, 1);  // now the whole cluster is gone
  kill(run, SIGTERM);
  // Ends (a generous bound, not a timing test: without the bound the stop
  // waits for minutes).
  EXPECT_EQ(WaitAtMost(run, absl::Seconds(30)), 3) << ebb_test::ReadFile(err);
  const std::string log = ebb_test::ReadFile(err);
  EXPECT_NE(log.find("ebb run: shutdown: "), std::string::npos) << log;
  EXPECT_NE(log.find(" not acknowledged within 2s; not committed (a restart "
                     "processes them again): ebb.prices["),
            std::string::npos)
      << log;
}

// The summary counts the alerts the broker acknowledged (none of those of
// warm-start history), and says "1 symbol".
TEST_F(StreamCliMockTest, SummaryCountsPublishedAlertsOnly) {
  const std::vector<FeedEvent> feed = ebb_test::MakeFeed(1, 1500);
  const std::string csv = WriteCsv(feed, "summary.csv");
  const std::string b = broker_->bootstrap();
  auto produce =
      ebb_test::RunEbb("produce --no-progress --brokers " + b + " " + csv);
  ASSERT_EQ(produce.exit_code, 0) << produce.err;
  std::map<int, int> transitions;
  const auto expected = ebb_test::ReplayAlerts(feed);
  for (const auto& alert : expected) ++transitions[alert.transition()];
  ASSERT_GT(expected.size(), 2u);

  auto live = ebb_test::RunEbb("run --brokers " + b +
                               " --group live --from-beginning "
                               "--exit-when-idle 2s");
  ASSERT_EQ(live.exit_code, 0) << live.err;
  EXPECT_NE(live.err.find("applied   1,500 price events, 1 symbol; 0 news"),
            std::string::npos)
      << live.err;
  EXPECT_NE(
      live.err.find(absl::StrFormat(
          "alerts    %d published (opened %d, escalated %d, resolved "
          "%d), 0 from history not re-emitted",
          expected.size(), transitions[ebb::v1::OPENED],
          transitions[ebb::v1::ESCALATED], transitions[ebb::v1::RESOLVED])),
      std::string::npos)
      << live.err;
  // A new group starting at the newest message: the whole topic is warm-start
  // history, and none of its alerts is published.
  auto warm = ebb_test::RunEbb("run --brokers " + b +
                               " --group warm --exit-when-idle 2s");
  ASSERT_EQ(warm.exit_code, 0) << warm.err;
  EXPECT_NE(warm.err.find(absl::StrFormat(
                "alerts    0 published (opened 0, escalated 0, resolved 0), "
                "%d from history not re-emitted",
                expected.size())),
            std::string::npos)
      << warm.err;
}

// `ebb produce` publishes no price that replay would reject: each skipped
// record is named by file and line (binary: byte offset) with replay's
// reason, the valid ones are published, and the exit status is 2.
TEST_F(StreamCliMockTest, ProduceSkipsWhatReplayRejectsAndSaysWhere) {
  const std::string csv = TempPath("skips.csv");
  ebb_test::WriteFile(csv,
                      "timestamp,symbol,price\n"
                      "2025-01-01T00:00:00Z,AAA,10\n"
                      "2025-01-01T01:00:00Z,AAA,0\n"
                      "2025-01-01T02:00:00Z,AAA,abc\n"
                      "2025-01-01T03:00:00Z,AAA,-5\n"
                      "2025-01-01T04:00:00Z,AAA,11\n");
  std::ostringstream binary;
  ebb::v1::PriceEvent good, bad;
  good.set_symbol("BBB");
  ToTimestamp(1735689600LL * kNanosPerSecond, good.mutable_event_time());
  good.set_price(20);
  bad = good;
  bad.set_price(-1);
  ASSERT_TRUE(
      google::protobuf::util::SerializeDelimitedToOstream(good, &binary));
  const int64_t bad_at = static_cast<int64_t>(binary.tellp());
  ASSERT_TRUE(
      google::protobuf::util::SerializeDelimitedToOstream(bad, &binary));
  const std::string binpb = TempPath("skips.binpb");
  ebb_test::WriteFile(binpb, binary.str());

  const std::string b = broker_->bootstrap();
  auto produce = ebb_test::RunEbb("produce --no-progress --brokers " + b + " " +
                                  csv + " " + binpb);
  EXPECT_EQ(produce.exit_code, 2) << produce.err;
  for (const std::string& line : {
           "skipped record: " + csv +
               ":3: invalid_price: price 0: must be finite and > 0\n",
           "skipped record: " + csv +
               ":4: invalid_price: price \"abc\" is not a number\n",
           "skipped record: " + csv +
               ":5: invalid_price: price -5: must be finite and > 0\n",
           absl::StrCat("skipped record: ", binpb, ":", bad_at,
                        ": invalid_price: price -1: must be finite and > 0\n"),
           std::string("3 messages to ebb.prices"),
           std::string("4 records skipped (not published)"),
       }) {
    EXPECT_NE(produce.err.find(line), std::string::npos) << line << "\n"
                                                         << produce.err;
  }
  const auto records = ebb_test::ReadTopic(b, "ebb.prices");
  ASSERT_EQ(records.size(), 3u);
  for (const auto& r : records) {
    ebb::v1::PriceEvent event;
    ASSERT_TRUE(event.ParseFromString(r.value));
    EXPECT_GT(event.price(), 0) << event.ShortDebugString();
  }

  // News is checked by the rules Pipeline::OnNews applies: a sentiment out of
  // [-1, 1] and a missing time are skipped, the valid item is published.
  const std::string news = TempPath("skips_news.jsonl");
  ebb_test::WriteFile(news,
                      "{\"id\":\"n1\",\"eventTime\":\"2025-01-01T00:00:00Z\","
                      "\"headline\":\"ok\",\"symbols\":[\"AAA\"]}\n"
                      "{\"id\":\"n2\",\"eventTime\":\"2025-01-01T00:00:00Z\","
                      "\"headline\":\"too glad\",\"sentiment\":3}\n"
                      "{\"id\":\"n3\",\"headline\":\"when?\"}\n");
  produce = ebb_test::RunEbb("produce --no-progress --news --brokers " + b +
                             " " + news);
  EXPECT_EQ(produce.exit_code, 2) << produce.err;
  EXPECT_NE(produce.err.find("skipped record: " + news +
                             ":2: malformed: sentiment 3: must be in [-1, 1]"),
            std::string::npos)
      << produce.err;
  EXPECT_NE(produce.err.find("skipped record: " + news + ":3: invalid_time"),
            std::string::npos)
      << produce.err;
  const auto published = ebb_test::ReadTopic(b, "ebb.news");
  ASSERT_EQ(published.size(), 1u);
  ebb::v1::NewsEvent item;
  ASSERT_TRUE(item.ParseFromString(published[0].value));
  EXPECT_EQ(item.id(), "n1");
}

// A dead broker: `ebb produce` fails within message.timeout.ms, saying why.
TEST(StreamCliProduceTest, DeadBrokerFailsWithinTheMessageTimeout) {
  const std::string csv = WriteCsv(ebb_test::MakeFeed(3, 10), "dead.csv");
  const std::string err = TempPath("dead.err");
  const pid_t produce =
      Spawn({"produce", "--no-progress", "--brokers", "127.0.0.1:1", csv,
             "--property", "message.timeout.ms=2000"},
            TempPath("dead.out"), err);
  // Ends (a generous bound: without message.timeout.ms it waits minutes).
  EXPECT_EQ(WaitAtMost(produce, absl::Seconds(60)), 1)
      << ebb_test::ReadFile(err);
  const std::string log = ebb_test::ReadFile(err);
  EXPECT_NE(log.find("ebb produce: delivery to ebb.prices failed: Local: "
                     "Message timed out; brokers 127.0.0.1:1 unreachable ("),
            std::string::npos)
      << log;
  EXPECT_NE(
      log.find("; 0 of 30 messages acknowledged (message.timeout.ms 2000)\n"),
      std::string::npos)
      << log;
}

// Without the property, the CLI's own default (30 s, not librdkafka's 300 s)
// bounds the wait.
TEST(StreamCliProduceTest, DeadBrokerFailsWithinTheDefaultTimeout) {
  const std::string csv = WriteCsv(ebb_test::MakeFeed(1, 2), "dead30.csv");
  const std::string err = TempPath("dead30.err");
  const pid_t produce =
      Spawn({"produce", "--no-progress", "--brokers", "127.0.0.1:1", csv},
            TempPath("dead30.out"), err);
  EXPECT_EQ(WaitAtMost(produce, absl::Seconds(90)), 1)
      << ebb_test::ReadFile(err);
  EXPECT_NE(ebb_test::ReadFile(err).find(
                "; 0 of 2 messages acknowledged (message.timeout.ms 30000)\n"),
            std::string::npos)
      << ebb_test::ReadFile(err);
}

// Bad configuration is a clear error naming the field, before connecting;
// a malformed --property is not echoed (it may hold a secret).
TEST(StreamCliConfigTest, BadKafkaConfigIsAClearError) {
  const std::string config = TempPath("bad.textproto");
  ebb_test::WriteFile(config, "kafka { start: \"yesterday\" }\n");
  auto bad_start = ebb_test::RunEbb("run --config " + config);
  EXPECT_EQ(bad_start.exit_code, 1);
  EXPECT_NE(bad_start.err.find("kafka.start"), std::string::npos)
      << bad_start.err;
  ebb_test::WriteFile(config, "kafka { commit_interval: \"soon\" }\n");
  auto bad_interval = ebb_test::RunEbb("run --config " + config);
  EXPECT_EQ(bad_interval.exit_code, 1);
  EXPECT_NE(bad_interval.err.find("kafka.commit_interval"), std::string::npos)
      << bad_interval.err;
  ebb_test::WriteFile(config, "kafka { no_such_field: 1 }\n");
  auto unknown = ebb_test::RunEbb("run --config " + config);
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no_such_field"), std::string::npos)
      << unknown.err;
  auto property = ebb_test::RunEbb(
      "run --brokers 127.0.0.1:1 --property sasl.password:hunter2");
  EXPECT_EQ(property.exit_code, 1);
  EXPECT_EQ(property.err.find("hunter2"), std::string::npos) << property.err;
  auto secret = ebb_test::RunEbb(
      "run --brokers 127.0.0.1:1 --property sasl.password=hunter2 "
      "--property enable.idempotence=maybe");
  EXPECT_EQ(secret.exit_code, 1);
  EXPECT_NE(secret.err.find("enable.idempotence"), std::string::npos)
      << secret.err;
  EXPECT_EQ(secret.err.find("hunter2"), std::string::npos) << secret.err;
}

// Waits until `alerts` (one partition) holds at least `n` messages.
bool WaitForAlerts(const std::string& brokers, const std::string& alerts,
                   int64_t n, absl::Duration timeout) {
  auto consumer = Consumer::Create(
      {{"bootstrap.servers", brokers}, {"group.id", "ebb-test-watch"}},
      nullptr);
  if (!consumer.ok()) return false;
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int64_t low = 0, high = 0;
    if ((*consumer)
            ->Watermarks(alerts, 0, &low, &high, absl::Seconds(5))
            .ok() &&
        high >= n) {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

void StopMidStreamAndRestart(ebb_test::TestBroker& broker, int signal_number) {
  const std::vector<FeedEvent> feed = ebb_test::MakeFeed(24, 1000);
  const std::string b = broker.bootstrap();
  const ebb_test::Topics& topics = broker.topics();
  const std::string group =
      broker.Name("restart" + std::to_string(signal_number));
  const std::string err1 = TempPath(group + "_1.err");
  // A killed member keeps its partitions until its session times out: keep
  // that short so the restart is assigned quickly.
  const std::string session = "session.timeout.ms=6000";
  // Commits once a second, so a SIGKILL usually lands after some alerts whose
  // offsets are not committed yet (the duplicates checked below).
  const std::string config = TempPath(group + ".textproto");
  ebb_test::WriteFile(config, "kafka { commit_interval: \"1s\" " +
                                  TopicFields(topics) + " }\n");
  const pid_t first =
      Spawn({"run", "--brokers", b, "--group", group, "--from-beginning",
             "--property", session, "--config", config},
            TempPath(group + "_1.out"), err1);
  ASSERT_TRUE(WaitForText(err1, "assigned", absl::Seconds(30)))
      << ebb_test::ReadFile(err1);
  // Publish at ~8,000 events/s; the crash (and most alerts) is in the middle.
  std::thread publisher([&] {
    auto producer = ebb_test::MakeProducer(b);
    for (size_t i = 0; i < feed.size(); i += 800) {
      ebb_test::Publish(*producer, topics.prices, feed, i, i + 800);
      absl::SleepFor(absl::Milliseconds(100));
    }
  });
  // Stop it once the crash has begun to produce alerts: mid-stream, with
  // alerts both before and after the stop.
  ASSERT_TRUE(WaitForAlerts(b, topics.alerts, 3, absl::Seconds(60)));
  kill(first, signal_number);
  const int exit_code = Wait(first);
  std::map<int32_t, int64_t> committed;
  EXPECT_TRUE(ebb_test::CommittedOffsets(b, group, &committed,
                                         absl::Seconds(10), topics.prices));
  publisher.join();
  if (signal_number == SIGTERM) {
    EXPECT_EQ(exit_code, 0) << ebb_test::ReadFile(err1);
  } else {
    EXPECT_EQ(exit_code, 128 + SIGKILL);
  }
  const auto before =
      ebb_test::ParseAlerts(ebb_test::ReadTopic(b, topics.alerts));

  const std::string err2 = TempPath(group + "_2.err");
  const pid_t second = Spawn(
      {"run", "--brokers", b, "--group", group, "--from-beginning",
       "--exit-when-idle", "3s", "--property", session, "--config", config},
      TempPath(group + "_2.out"), err2);
  ASSERT_EQ(Wait(second), 0) << ebb_test::ReadFile(err2);
  const std::string summary = ebb_test::ReadFile(err2);
  EXPECT_NE(summary.find("warming up"), std::string::npos) << summary;

  const auto alerts =
      ebb_test::ParseAlerts(ebb_test::ReadTopic(b, topics.alerts));
  const auto expected = ebb_test::ReplayAlerts(feed);
  ASSERT_GT(expected.size(), 40u);
  // Stopped mid-stream: some alerts came before the stop, some after.
  EXPECT_GT(before.size(), 0u);
  EXPECT_LT(before.size(), expected.size());

  std::map<std::string, std::vector<const ebb::v1::Alert*>> by_id;
  for (const auto& a : alerts) by_id[a.id()].push_back(&a);
  std::set<std::string> expected_ids;
  for (const auto& a : expected) expected_ids.insert(a.id());
  std::set<std::string> seen_ids;
  for (const auto& [id, copies] : by_id) seen_ids.insert(id);
  EXPECT_EQ(seen_ids, expected_ids);  // none lost, none invented
  EXPECT_EQ(ebb_test::Contents(expected).size(), expected_ids.size());

  size_t duplicates = 0;
  for (const auto& [id, copies] : by_id) {
    for (size_t i = 1; i < copies.size(); ++i) {
      ++duplicates;
      // A duplicate is the same alert, from an offset that was not committed.
      EXPECT_EQ(ebb_test::Content(*copies[i]), ebb_test::Content(*copies[0]));
      EXPECT_EQ(copies[i]->provenance().offset(),
                copies[0]->provenance().offset());
      const int32_t p = copies[0]->provenance().partition();
      EXPECT_GE(copies[0]->provenance().offset(), committed.at(p))
          << "alert " << id << " was re-emitted from a committed offset";
    }
  }
  if (signal_number == SIGTERM) {
    EXPECT_EQ(duplicates, 0u);
  }
  std::fprintf(
      stderr,
      "signal %d: %zu alerts before the stop, %zu in all, %zu duplicates\n",
      signal_number, before.size(), alerts.size(), duplicates);
}

// Kafka's own fault, on the real broker only: the price topic deleted under a
// running `ebb run`. It stops with a clear error and exit status 1, and what
// it committed before had all its alerts acknowledged.
TEST(StreamCliRealBrokerTest, PriceTopicDeletedUnderRunIsAClearError) {
  auto made = ebb_test::TestBroker::Start(ebb_test::BrokerKind::kReal);
  if (absl::IsFailedPrecondition(made.status())) {
    GTEST_SKIP() << made.status().message();
  }
  ASSERT_TRUE(made.ok()) << made.status();
  ebb_test::TestBroker& broker = **made;
  const ebb_test::Topics& topics = broker.topics();
  const std::string b = broker.bootstrap();
  const std::vector<FeedEvent> feed = ebb_test::MakeFeed(8, 600);
  ebb_test::Publish(b, topics.prices, feed);
  const std::string config = TempPath("deleted.textproto");
  ebb_test::WriteFile(config, "kafka { " + TopicFields(topics) + " }\n");
  const std::string group = broker.Name("deleted");
  const std::string err = TempPath("deleted.err");
  // librdkafka notices a deleted topic at its next metadata refresh (by
  // default every 5 minutes): sooner here.
  const pid_t run = Spawn({"run", "--brokers", b, "--config", config, "--group",
                           group, "--from-beginning", "--property",
                           "topic.metadata.refresh.interval.ms=2000"},
                          TempPath("deleted.out"), err);
  std::map<int32_t, int64_t> committed;
  int64_t total = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (total < static_cast<int64_t>(feed.size()) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(200));
    total = 0;
    if (ebb_test::CommittedOffsets(b, group, &committed, absl::Seconds(5),
                                   topics.prices)) {
      for (const auto& [p, offset] : committed) {
        total += std::max<int64_t>(0, offset);
      }
    }
  }
  ASSERT_EQ(total, static_cast<int64_t>(feed.size()))
      << ebb_test::ReadFile(err);
  ASSERT_TRUE(ebb_test::DeleteTopic(b, topics.prices).ok());

  EXPECT_TRUE(WaitForText(
      err, "the price topic " + topics.prices + " does not exist any more",
      absl::Seconds(60)))
      << ebb_test::ReadFile(err);
  // The stop is bounded (shutdown_timeout, 10 s by default) even though
  // librdkafka 2.0.2 never finishes destroying this consumer.
  EXPECT_EQ(WaitAtMost(run, absl::Seconds(30)), 1) << ebb_test::ReadFile(err);
  // Everything committed had its alerts acknowledged: all of them are there,
  // once each.
  const auto expected = ebb_test::ReplayAlerts(feed);
  ASSERT_GT(expected.size(), 10u);
  EXPECT_EQ(ebb_test::Contents(
                ebb_test::ParseAlerts(ebb_test::ReadTopic(b, topics.alerts))),
            ebb_test::Contents(expected));
}

// `ebb run` with `guarantee` killed with SIGKILL `kills` times while the
// feed is published, each time restarted (the restart's transactional.id is
// its predecessor's: it fences it at once), then run to the end of the feed.
// Returns the alert topic as read_committed subscribers read it, and the
// replay's alerts in *expected.
std::vector<ebb::v1::Alert> KillRepeatedly(
    ebb_test::TestBroker& broker, const std::string& guarantee, int kills,
    std::vector<ebb::v1::Alert>* expected) {
  const std::vector<FeedEvent> feed = ebb_test::MakeFeed(24, 1000);
  *expected = ebb_test::ReplayAlerts(feed);
  const std::string b = broker.bootstrap();
  const ebb_test::Topics& topics = broker.topics();
  const std::string group = broker.Name("kill-" + guarantee);
  const std::string session = "session.timeout.ms=6000";
  const std::string config = TempPath(group + ".textproto");
  ebb_test::WriteFile(config, "kafka { processing_guarantee: \"" + guarantee +
                                  "\" commit_interval: \"500ms\" " +
                                  TopicFields(topics) + " }\n");
  auto run_args = [&](bool last) {
    std::vector<std::string> args = {
        "run",      "--brokers", b,
        "--group",  group,       "--from-beginning",
        "--config", config,      "--property",
        session};
    if (last) {
      args.push_back("--exit-when-idle");
      args.push_back("3s");
    }
    return args;
  };
  // About 25 s of feed, so that every kill lands mid-stream.
  std::atomic<bool> published{false};
  std::thread publisher([&] {
    auto producer = ebb_test::MakeProducer(b);
    for (size_t i = 0; i < feed.size(); i += 240) {
      ebb_test::Publish(*producer, topics.prices, feed, i, i + 240);
      absl::SleepFor(absl::Milliseconds(250));
    }
    published = true;
  });
  for (int k = 0; k < kills; ++k) {
    const std::string err = TempPath(group + "_" + std::to_string(k) + ".err");
    const pid_t pid =
        Spawn(run_args(false),
              TempPath(group + "_" + std::to_string(k) + ".out"), err);
    // A restart is assigned once the killed member's session has expired.
    EXPECT_TRUE(WaitForText(err, "partitions assigned", absl::Seconds(40)))
        << ebb_test::ReadFile(err);
    absl::SleepFor(absl::Milliseconds(1500));
    kill(pid, SIGKILL);
    EXPECT_EQ(Wait(pid), 128 + SIGKILL);
  }
  publisher.join();
  const std::string err = TempPath(group + "_last.err");
  const pid_t last = Spawn(run_args(true), TempPath(group + "_last.out"), err);
  EXPECT_EQ(Wait(last), 0) << ebb_test::ReadFile(err);
  return ebb_test::ParseAlerts(ebb_test::ReadCommitted(b, topics.alerts));
}

// Exactly-once across crashes, on the real broker (read_committed): after
// SIGKILLs mid-stream and restarts, a subscriber sees every alert of the
// replay exactly once. (Under at-least-once the same run repeats alerts of
// uncommitted offsets.)
TEST(StreamCliRealBrokerTest,
     ExactlyOnceSigkillsAndRestartsEmitEveryAlertOnce) {
  auto made = ebb_test::TestBroker::Start(ebb_test::BrokerKind::kReal);
  if (absl::IsFailedPrecondition(made.status())) {
    GTEST_SKIP() << made.status().message();
  }
  ASSERT_TRUE(made.ok()) << made.status();
  std::vector<ebb::v1::Alert> expected;
  const auto alerts = KillRepeatedly(**made, "exactly_once", 3, &expected);
  ASSERT_GT(expected.size(), 40u);
  std::map<std::string, int> copies;
  for (const auto& a : alerts) ++copies[a.id()];
  size_t repeated = 0;
  for (const auto& a : expected) {
    EXPECT_EQ(copies[a.id()], 1) << "alert " << a.id();
    if (copies[a.id()] > 1) ++repeated;
  }
  EXPECT_EQ(alerts.size(), expected.size());
  EXPECT_TRUE(ebb_test::Contents(alerts) == ebb_test::Contents(expected));
  std::fprintf(stderr,
               "%zu alerts read_committed, %zu expected, %zu repeated\n",
               alerts.size(), expected.size(), repeated);
}

// TopicFields without news: the 4 price partitions are all there is to
// assign, 2 per instance of two.
std::string PriceTopicFields(const ebb_test::Topics& topics) {
  return absl::StrFormat(
      "prices_topic: \"%s\" news_topic: \"-\" alerts_topic: \"%s\" "
      "dlq_topic: \"%s\"",
      topics.prices, topics.alerts, topics.dlq);
}

// What the log of an `ebb run` says about its assignments: the partitions of
// every "N partitions assigned" line summed, those of "N partitions revoked",
// and how often the group membership was lost.
struct Assignments {
  int assigned = 0;
  int revoked = 0;
  int lost = 0;
  // What it owns now (unless it lost its assignment).
  int owned() const { return assigned - revoked; }
};

Assignments ReadAssignments(const std::string& log_path) {
  Assignments out;
  for (absl::string_view line :
       absl::StrSplit(ebb_test::ReadFile(log_path), '\n')) {
    if (!absl::ConsumePrefix(&line, "ebb run: ")) continue;
    if (absl::StartsWith(line, "the group membership was lost")) ++out.lost;
    const size_t space = line.find(' ');
    int count = 0;
    if (space == absl::string_view::npos ||
        !absl::SimpleAtoi(line.substr(0, space), &count)) {
      continue;
    }
    line.remove_prefix(space + 1);
    if (absl::StartsWith(line, "partition assigned") ||
        absl::StartsWith(line, "partitions assigned")) {
      out.assigned += count;
    } else if (absl::StartsWith(line, "partition revoked") ||
               absl::StartsWith(line, "partitions revoked")) {
      out.revoked += count;
    }
  }
  return out;
}

// Waits until `done()` or `timeout`; returns done().
bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  return done();
}

// True once `group` has committed offsets summing to `total` on the price
// topic (every message of the feed processed and committed).
bool WaitForCommitted(const std::string& brokers, const std::string& group,
                      const std::string& topic, int64_t total,
                      absl::Duration timeout) {
  return WaitUntil(
      [&] {
        std::map<int32_t, int64_t> committed;
        if (!ebb_test::CommittedOffsets(brokers, group, &committed,
                                        absl::Seconds(5), topic)) {
          return false;
        }
        int64_t sum = 0;
        for (const auto& [p, offset] : committed) {
          sum += std::max<int64_t>(0, offset);
        }
        return sum == total;
      },
      timeout);
}

// Publishes `feed` in slices of 240 (10 hours of 24 symbols) every 400 ms,
// about 40 s for 24,000 events; `published` counts what was sent.
std::thread PublishOverTime(const std::string& brokers,
                            const std::string& topic,
                            const std::vector<FeedEvent>& feed,
                            std::atomic<size_t>* published) {
  return std::thread([&brokers, &topic, &feed, published] {
    auto producer = ebb_test::MakeProducer(brokers);
    for (size_t i = 0; i < feed.size(); i += 240) {
      const size_t end = std::min(feed.size(), i + 240);
      ebb_test::Publish(*producer, topic, feed, i, end);
      *published = end;
      absl::SleepFor(absl::Milliseconds(400));
    }
  });
}

// Two `ebb run` instances in one group (session.timeout.ms 6000); while the
// feed is published, the first is stopped with SIGSTOP in the middle of the
// crash (where alerts come), until the second owns all 4 partitions, then
// continued with SIGCONT: a zombie that still holds an open transaction (or,
// at-least-once, uncommitted offsets) and a fetched backlog of partitions it
// no longer owns. Both are stopped once every offset is committed. Returns
// the alert topic as read_committed readers see it.
struct ZombieRun {
  std::vector<ebb::v1::Alert> alerts;
  std::vector<ebb::v1::Alert> expected;
  Assignments zombie, survivor;
  std::string zombie_log, survivor_log;
};

ZombieRun PauseOnePastItsSession(ebb_test::TestBroker& broker,
                                 const std::string& guarantee) {
  ZombieRun run;
  const std::vector<FeedEvent> feed = ebb_test::MakeFeed(24, 1000);
  run.expected = ebb_test::ReplayAlerts(feed);
  const std::string b = broker.bootstrap();
  const ebb_test::Topics& topics = broker.topics();
  const std::string group = broker.Name("zombie-" + guarantee);
  const std::string config = TempPath(group + ".textproto");
  ebb_test::WriteFile(config, "kafka { processing_guarantee: \"" + guarantee +
                                  "\" commit_interval: \"500ms\" " +
                                  PriceTopicFields(topics) + " }\n");
  auto spawn = [&](const std::string& name) {
    std::vector<std::string> args = {"run",
                                     "--brokers",
                                     b,
                                     "--group",
                                     group,
                                     "--config",
                                     config,
                                     "--from-beginning",
                                     "--property",
                                     "session.timeout.ms=6000"};
    if (guarantee == "exactly_once") {
      args.push_back("--transactional-id");
      args.push_back(group + "-" + name);
    }
    return Spawn(args, TempPath(group + "_" + name + ".out"),
                 TempPath(group + "_" + name + ".err"));
  };
  const std::string zombie_err = TempPath(group + "_zombie.err");
  const std::string survivor_err = TempPath(group + "_survivor.err");
  const pid_t zombie = spawn("zombie");
  EXPECT_TRUE(WaitForText(zombie_err, "partitions assigned", absl::Seconds(40)))
      << ebb_test::ReadFile(zombie_err);
  const pid_t survivor = spawn("survivor");
  // The second member takes 2 of the 4 partitions.
  EXPECT_TRUE(
      WaitUntil([&] { return ReadAssignments(survivor_err).owned() == 2; },
                absl::Seconds(40)))
      << ebb_test::ReadFile(survivor_err);

  std::atomic<size_t> published{0};
  std::thread publisher = PublishOverTime(b, topics.prices, feed, &published);
  // The crash begins at hour 500 (event 12,000); its alerts at about 520.
  WaitUntil([&] { return published >= 24 * 530; }, absl::Seconds(60));
  kill(zombie, SIGSTOP);
  const absl::Time stopped = absl::Now();
  const bool moved =
      WaitUntil([&] { return ReadAssignments(survivor_err).owned() == 4; },
                absl::Seconds(40));
  EXPECT_TRUE(moved) << ebb_test::ReadFile(survivor_err);
  std::fprintf(stderr,
               "%s: paused %.1f s until its partitions moved; %zu of %zu "
               "events published\n",
               guarantee.c_str(), absl::ToDoubleSeconds(absl::Now() - stopped),
               static_cast<size_t>(published), feed.size());
  kill(zombie, SIGCONT);
  publisher.join();

  EXPECT_TRUE(WaitForCommitted(b, group, topics.prices,
                               static_cast<int64_t>(feed.size()),
                               absl::Seconds(90)))
      << ebb_test::ReadFile(zombie_err) << ebb_test::ReadFile(survivor_err);
  kill(zombie, SIGTERM);
  kill(survivor, SIGTERM);
  EXPECT_EQ(WaitAtMost(zombie, absl::Seconds(30)), 0)
      << ebb_test::ReadFile(zombie_err);
  EXPECT_EQ(WaitAtMost(survivor, absl::Seconds(30)), 0)
      << ebb_test::ReadFile(survivor_err);
  run.zombie = ReadAssignments(zombie_err);
  run.survivor = ReadAssignments(survivor_err);
  run.zombie_log = ebb_test::ReadFile(zombie_err);
  run.survivor_log = ebb_test::ReadFile(survivor_err);
  run.alerts = ebb_test::ParseAlerts(ebb_test::ReadCommitted(b, topics.alerts));
  return run;
}

// Issue 18's zombie: an instance paused past its session timeout, whose
// partitions moved to the other instance, continues. Whatever it produces
// after the pause is in a transaction that can no longer commit (its group
// generation is stale: KIP-447), so read_committed readers see every alert of
// the replay exactly once.
TEST(StreamCliRealBrokerTest, ExactlyOnceZombieCommitsNothingAfterItsPause) {
  auto made = ebb_test::TestBroker::Start(ebb_test::BrokerKind::kReal);
  if (absl::IsFailedPrecondition(made.status())) {
    GTEST_SKIP() << made.status().message();
  }
  ASSERT_TRUE(made.ok()) << made.status();
  const ZombieRun run = PauseOnePastItsSession(**made, "exactly_once");
  ASSERT_GT(run.expected.size(), 40u);
  // The zombie learned that it had lost its partitions; they had moved.
  EXPECT_GE(run.zombie.lost, 1) << run.zombie_log;
  EXPECT_GE(run.survivor.assigned, 4) << run.survivor_log;
  std::map<std::string, int> copies;
  for (const auto& a : run.alerts) ++copies[a.id()];
  for (const auto& a : run.expected) {
    EXPECT_EQ(copies[a.id()], 1) << "alert " << a.id();
  }
  EXPECT_EQ(run.alerts.size(), run.expected.size());
  EXPECT_TRUE(ebb_test::Contents(run.alerts) ==
              ebb_test::Contents(run.expected));
  std::fprintf(stderr, "%zu alerts read_committed, %zu expected\n",
               run.alerts.size(), run.expected.size());
}

// The same zombie under at-least-once: nothing is lost, and what repeats is
// an alert already emitted (same id, same content). The repeats this run
// prints are what the exactly-once test above would count as a failure.
TEST(StreamCliRealBrokerTest, AtLeastOnceZombieLosesNothing) {
  auto made = ebb_test::TestBroker::Start(ebb_test::BrokerKind::kReal);
  if (absl::IsFailedPrecondition(made.status())) {
    GTEST_SKIP() << made.status().message();
  }
  ASSERT_TRUE(made.ok()) << made.status();
  const ZombieRun run = PauseOnePastItsSession(**made, "at_least_once");
  ASSERT_GT(run.expected.size(), 40u);
  std::map<std::string, std::string> expected;
  for (const auto& a : run.expected) expected[a.id()] = ebb_test::Content(a);
  std::map<std::string, int> copies;
  for (const auto& a : run.alerts) {
    ++copies[a.id()];
    ASSERT_TRUE(expected.count(a.id())) << "invented alert " << a.id();
    EXPECT_EQ(ebb_test::Content(a), expected[a.id()]) << a.id();
  }
  size_t repeated = 0;
  for (const auto& [id, content] : expected) {
    EXPECT_GE(copies[id], 1) << "lost alert " << id;
    if (copies[id] > 1) repeated += copies[id] - 1;
  }
  std::fprintf(stderr, "%zu alerts, %zu expected, %zu repeats\n",
               run.alerts.size(), run.expected.size(), repeated);
}

// Static membership (group.instance.id): an instance killed with SIGKILL and
// restarted with the same group.instance.id within session.timeout.ms gets
// its own partitions back without a rebalance (the other instance's
// assignment never changes), and its default transactional.id, made from the
// group.instance.id, fences its predecessor's open transaction at once. Every
// alert of the replay is read_committed exactly once.
TEST(StreamCliRealBrokerTest, StaticMemberRestartMovesNoPartition) {
  auto made = ebb_test::TestBroker::Start(ebb_test::BrokerKind::kReal);
  if (absl::IsFailedPrecondition(made.status())) {
    GTEST_SKIP() << made.status().message();
  }
  ASSERT_TRUE(made.ok()) << made.status();
  ebb_test::TestBroker& broker = **made;
  const std::vector<FeedEvent> feed = ebb_test::MakeFeed(24, 1000);
  const auto expected = ebb_test::ReplayAlerts(feed);
  const std::string b = broker.bootstrap();
  const ebb_test::Topics& topics = broker.topics();
  const std::string group = broker.Name("static");
  // Each instance's own config: its group.instance.id, no transactional_id.
  auto write_config = [&](const std::string& name) {
    const std::string path = TempPath(group + "_" + name + ".textproto");
    ebb_test::WriteFile(path,
                        "kafka { processing_guarantee: \"exactly_once\" "
                        "commit_interval: \"500ms\" consumer_properties { key: "
                        "\"group.instance.id\" value: \"" +
                            name + "\" } " + PriceTopicFields(topics) + " }\n");
    return path;
  };
  const std::string config_a = write_config("a"), config_b = write_config("b");
  auto spawn = [&](const std::string& config, const std::string& log) {
    return Spawn({"run", "--brokers", b, "--group", group, "--config", config,
                  "--from-beginning", "--property", "session.timeout.ms=30000"},
                 TempPath(group + "_" + log + ".out"),
                 TempPath(group + "_" + log + ".err"));
  };
  const std::string err_a = TempPath(group + "_a.err");
  const std::string err_restarted = TempPath(group + "_a2.err");
  const std::string err_b = TempPath(group + "_b.err");
  const pid_t a = spawn(config_a, "a");
  ASSERT_TRUE(WaitForText(err_a, "partitions assigned", absl::Seconds(40)))
      << ebb_test::ReadFile(err_a);
  const pid_t other = spawn(config_b, "b");
  ASSERT_TRUE(WaitUntil([&] { return ReadAssignments(err_b).owned() == 2; },
                        absl::Seconds(40)))
      << ebb_test::ReadFile(err_b);
  const Assignments before = ReadAssignments(err_b);

  std::atomic<size_t> published{0};
  std::thread publisher = PublishOverTime(b, topics.prices, feed, &published);
  WaitUntil([&] { return published >= 24 * 530; }, absl::Seconds(60));
  kill(a, SIGKILL);
  EXPECT_EQ(Wait(a), 128 + SIGKILL);
  const absl::Time killed = absl::Now();
  const pid_t restarted = spawn(config_a, "a2");
  EXPECT_TRUE(
      WaitUntil([&] { return ReadAssignments(err_restarted).owned() == 2; },
                absl::Seconds(25)))
      << ebb_test::ReadFile(err_restarted);
  std::fprintf(stderr, "the restart had its 2 partitions back in %.1f s\n",
               absl::ToDoubleSeconds(absl::Now() - killed));
  publisher.join();
  EXPECT_TRUE(WaitForCommitted(b, group, topics.prices,
                               static_cast<int64_t>(feed.size()),
                               absl::Seconds(90)))
      << ebb_test::ReadFile(err_restarted) << ebb_test::ReadFile(err_b);
  const Assignments after = ReadAssignments(err_b);
  kill(restarted, SIGTERM);
  kill(other, SIGTERM);
  EXPECT_EQ(WaitAtMost(restarted, absl::Seconds(30)), 0)
      << ebb_test::ReadFile(err_restarted);
  EXPECT_EQ(WaitAtMost(other, absl::Seconds(30)), 0)
      << ebb_test::ReadFile(err_b);

  // Nothing moved: the other instance was never assigned or revoked anything.
  EXPECT_EQ(after.assigned, before.assigned) << ebb_test::ReadFile(err_b);
  EXPECT_EQ(after.revoked, before.revoked) << ebb_test::ReadFile(err_b);
  EXPECT_EQ(after.lost, 0);
  ASSERT_GT(expected.size(), 40u);
  const auto alerts =
      ebb_test::ParseAlerts(ebb_test::ReadCommitted(b, topics.alerts));
  std::map<std::string, int> copies;
  for (const auto& alert : alerts) ++copies[alert.id()];
  for (const auto& alert : expected) {
    EXPECT_EQ(copies[alert.id()], 1) << "alert " << alert.id();
  }
  EXPECT_EQ(alerts.size(), expected.size());
  EXPECT_TRUE(ebb_test::Contents(alerts) == ebb_test::Contents(expected));
}

TEST_P(StreamCliTest, SigtermMidStreamLosesNothingAndDuplicatesNothing) {
  StopMidStreamAndRestart(*broker_, SIGTERM);
}

TEST_P(StreamCliTest, SigkillMidStreamLosesNothing) {
  StopMidStreamAndRestart(*broker_, SIGKILL);
}

}  // namespace
}  // namespace ebb::kafka
