// Unit tests (no broker) of the Kafka output's dead-letter formatting, and of
// the origin a partition task hands with each output: a producer with an
// unreachable bootstrap address only queues, and is purged at the end.

#include "connectors/kafka/kafka_output.h"

#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "base/time_util.h"
#include "connectors/kafka/partition_task.h"
#include "ebb/v1/state.pb.h"
#include "engine/config.h"
#include "gtest/gtest.h"

namespace ebb::kafka {
namespace {

std::string HeaderValue(const DeadLetterMessage& message,
                        absl::string_view name) {
  for (const Header& h : message.headers) {
    if (h.name == name) return std::string(h.value);
  }
  return "<missing>";
}

RecordOrigin LiveRecord(absl::string_view key, absl::string_view value) {
  RecordOrigin record;
  record.topic = "ebb.prices";
  record.partition = 3;
  record.offset = 1234;
  record.key = key;
  record.value = value;
  return record;
}

TEST(FormatDeadLetterTest, CarriesTheRecordsKeyValueAndOrigin) {
  const std::string value = "\x0a\x03SYM";  // not what the pipeline saw
  DeadLetterView view{ebb::v1::TRUNCATED, "cut short", "\x0a", "SYM", {}};
  DeadLetterMessage message;
  FormatDeadLetter(LiveRecord("SYM", value), view, &message);
  EXPECT_EQ(message.key, "SYM");
  EXPECT_EQ(message.value, value);  // the record's own bytes
  EXPECT_EQ(HeaderValue(message, "ebb-reason"), "truncated");
  EXPECT_EQ(HeaderValue(message, "ebb-detail"), "cut short");
  EXPECT_EQ(HeaderValue(message, "ebb-source-topic"), "ebb.prices");
  EXPECT_EQ(HeaderValue(message, "ebb-source-partition"), "3");
  EXPECT_EQ(HeaderValue(message, "ebb-source-offset"), "1234");
}

TEST(FormatDeadLetterTest, OversizeValueIsThePipelinesCut) {
  const std::string big(kMaxValueBytes + 1, 'x');
  const std::string cut = big.substr(0, kDeadLetterCutBytes);
  DeadLetterView view{ebb::v1::OVERSIZE, "too big", cut, "", {}};
  DeadLetterMessage message;
  FormatDeadLetter(LiveRecord("BIG", big), view, &message);
  EXPECT_EQ(message.value.size(), kDeadLetterCutBytes);
  EXPECT_EQ(HeaderValue(message, "ebb-reason"), "oversize");

  // At the limit the value is still the record's own.
  const std::string limit(kMaxValueBytes, 'y');
  FormatDeadLetter(LiveRecord("BIG", limit), view, &message);
  EXPECT_EQ(message.value.size(), kMaxValueBytes);
}

TEST(FormatDeadLetterTest, TombstoneHasTheEmptyOriginal) {
  RecordOrigin record = LiveRecord("SYM", "");
  record.value.reset();
  DeadLetterView view{ebb::v1::EMPTY_VALUE, "null", "", "", {}};
  DeadLetterMessage message;
  FormatDeadLetter(record, view, &message);
  EXPECT_TRUE(message.value.empty());
  EXPECT_EQ(HeaderValue(message, "ebb-reason"), "empty_value");
  EXPECT_EQ(HeaderValue(message, "ebb-source-offset"), "1234");
}

TEST(FormatDeadLetterTest, WithoutARecordTheSourceHeadersAreEmpty) {
  DeadLetterView view{ebb::v1::LATE, "late", "orig", "SYM", {}};
  DeadLetterMessage message;
  FormatDeadLetter(RecordOrigin(), view, &message);
  EXPECT_EQ(message.key, "");
  EXPECT_EQ(message.value, "orig");
  EXPECT_EQ(HeaderValue(message, "ebb-source-topic"), "");
  EXPECT_EQ(HeaderValue(message, "ebb-source-partition"), "");
  EXPECT_EQ(HeaderValue(message, "ebb-source-offset"), "");
}

class PartitionTaskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto producer = Producer::Create({{"bootstrap.servers", "127.0.0.1:1"}});
    ASSERT_TRUE(producer.ok()) << producer.status();
    producer_ = *std::move(producer);
    auto engine = CompileConfig(DefaultConfig());
    ASSERT_TRUE(engine.ok()) << engine.status();
    auto task =
        PartitionTask::Create(kPrices, &topic_, 2, *engine, SystemClock::Get());
    ASSERT_TRUE(task.ok()) << task.status();
    task_ = *std::move(task);
  }
  void TearDown() override {
    if (producer_ != nullptr) producer_->Purge();
  }

  // A message of the task's partition at `offset`.
  rd_kafka_message_t Message(int64_t offset, const std::string& key,
                             const std::string* value) {
    rd_kafka_message_t m{};
    m.partition = 2;
    m.offset = offset;
    m.key = const_cast<char*>(key.data());
    m.key_len = key.size();
    if (value != nullptr) {
      m.payload = const_cast<char*>(value->data());
      m.len = value->size();
    }
    return m;
  }

  std::string topic_ = "ebb.prices";
  std::unique_ptr<Producer> producer_;
  std::unique_ptr<PartitionTask> task_;
};

TEST_F(PartitionTaskTest, HistoryDeadLettersAreNotProducedLiveOnesAre) {
  KafkaOutput output({"ebb.alerts", "ebb.dlq", false}, producer_.get());
  task_->warm_until = 10;
  const std::string key = "SYM";
  // Tombstones: one of history, one live.
  ASSERT_TRUE(task_->Process(Message(5, key, nullptr), output).ok());
  EXPECT_EQ(output.dead_letters_produced(), 0u);
  EXPECT_EQ(producer_->queued(), 0u);
  EXPECT_EQ(task_->next_offset, 6);
  EXPECT_EQ(task_->CommitTarget(), 10);  // the resume offset, pinned
  ASSERT_TRUE(task_->Process(Message(12, key, nullptr), output).ok());
  EXPECT_EQ(output.dead_letters_produced(), 1u);
  EXPECT_EQ(producer_->queued(), 1u);
  EXPECT_EQ(task_->CommitTarget(), 13);
  EXPECT_EQ(task_->pipeline().stats().rejected[ebb::v1::EMPTY_VALUE], 2u);
}

TEST_F(PartitionTaskTest, OversizeValueIsRejectedAsSuch) {
  KafkaOutput output({"ebb.alerts", "ebb.dlq", false}, producer_.get());
  const std::string big(kMaxValueBytes + 1, 'x');
  ASSERT_TRUE(task_->Process(Message(0, "BIG", &big), output).ok());
  EXPECT_EQ(task_->pipeline().stats().rejected[ebb::v1::OVERSIZE], 1u);
  EXPECT_EQ(output.dead_letters_produced(), 1u);
}

// A message of `kind` for ProcessRunEqualsProcessOneByOne: mostly canonical
// prices of a few symbols crashing and recovering, and every kind the batch
// path must leave to Process(): a price serialized with its fields out of
// order (libprotobuf's path), a key that is not the symbol, no event time, a
// time out of range, a bad price, garbage, a tombstone, an empty or an
// oversize value.
std::string RandomValue(std::mt19937_64& rng, int64_t i, std::string* key,
                        bool* tombstone) {
  static const char* const kSymbols[] = {"BTC", "ETH", "IREN", "CORZ", "NDX"};
  const std::string symbol = kSymbols[rng() % 5];
  *key = symbol;
  *tombstone = false;
  ebb::v1::PriceEvent event;
  event.set_symbol(symbol);
  // Minutes apart per message, so windows fill and alerts open and close.
  ToTimestamp(1'760'000'000 * kNanosPerSecond + i * kNanosPerMinute +
                  static_cast<int64_t>(rng() % 1000),
              event.mutable_event_time());
  const double phase = static_cast<double>(i % 400) / 400.0;
  event.set_price(100.0 * (1.0 - 0.4 * phase) + static_cast<double>(rng() % 7));
  if (rng() % 3 == 0) event.set_event_id(absl::StrCat("e", i));
  const uint64_t dice = rng() % 40;
  switch (dice) {
    case 0: {  // fields out of order: valid, but not canonical
      ebb::v1::PriceEvent only_price;
      only_price.set_price(event.price());
      event.clear_price();
      return only_price.SerializeAsString() + event.SerializeAsString();
    }
    case 1:
      *key = "OTHER";
      return event.SerializeAsString();
    case 2:
      event.clear_event_time();
      return event.SerializeAsString();
    case 3:
      event.mutable_event_time()->set_seconds(int64_t{1} << 62);
      return event.SerializeAsString();
    case 4:
      event.set_price(-1);
      return event.SerializeAsString();
    case 5:
      return "\xff\xff\xff garbage";
    case 6:
      *tombstone = true;
      return "";
    case 7:
      return "";
    case 8:
      return std::string(kMaxValueBytes + 1, 'x');
    default:
      return event.SerializeAsString();
  }
}

// The batch path gives what one message at a time gives: the same state (the
// engine's snapshot), counters and outputs, and done() once per message, in
// order.
TEST_F(PartitionTaskTest, ProcessRunEqualsProcessOneByOne) {
  auto engine = CompileConfig(DefaultConfig());
  ASSERT_TRUE(engine.ok()) << engine.status();
  std::mt19937_64 rng(17);
  for (int trial = 0; trial < 200; ++trial) {
    auto one =
        PartitionTask::Create(kPrices, &topic_, 2, *engine, SystemClock::Get());
    auto run =
        PartitionTask::Create(kPrices, &topic_, 2, *engine, SystemClock::Get());
    ASSERT_TRUE(one.ok() && run.ok());
    const int64_t first = static_cast<int64_t>(rng() % 3);
    (*one)->warm_until = (*run)->warm_until = first + rng() % 300;
    KafkaOutput one_out({"ebb.alerts", "ebb.dlq", false}, producer_.get());
    KafkaOutput run_out({"ebb.alerts", "ebb.dlq", false}, producer_.get());
    const size_t n = 1 + rng() % 1200;
    std::vector<std::string> keys(n), values(n);
    std::vector<rd_kafka_message_t> messages(n);
    std::vector<rd_kafka_message_t*> pointers(n);
    int64_t offset = first;
    for (size_t i = 0; i < n; ++i) {
      bool tombstone = false;
      values[i] =
          RandomValue(rng, static_cast<int64_t>(i), &keys[i], &tombstone);
      offset += 1 + static_cast<int64_t>(rng() % 2);  // gaps: compaction
      messages[i] = Message(offset, keys[i], tombstone ? nullptr : &values[i]);
      pointers[i] = &messages[i];
    }
    for (size_t i = 0; i < n; ++i) {
      ASSERT_TRUE((*one)->Process(messages[i], one_out).ok());
    }
    std::vector<size_t> done;
    size_t begin = 0;
    while (begin < n) {
      // Runs of random length, as the runner cuts them.
      const size_t size = std::min<size_t>(n - begin, 1 + rng() % 700);
      ASSERT_TRUE((*run)
                      ->ProcessRun(absl::MakeConstSpan(&pointers[begin], size),
                                   run_out,
                                   [&](size_t k) { done.push_back(begin + k); })
                      .ok());
      begin += size;
    }
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    ASSERT_EQ(done, order) << "trial " << trial;
    EXPECT_EQ((*run)->next_offset, (*one)->next_offset);
    EXPECT_EQ((*run)->CommitTarget(), (*one)->CommitTarget());
    const PipelineStats& a = (*one)->pipeline().stats();
    const PipelineStats& b = (*run)->pipeline().stats();
    EXPECT_EQ(b.received, a.received);
    EXPECT_EQ(b.applied, a.applied);
    EXPECT_EQ(b.rejected, a.rejected) << "trial " << trial;
    EXPECT_EQ(b.alerts, a.alerts) << "trial " << trial;
    EXPECT_EQ(run_out.alerts_produced(), one_out.alerts_produced());
    EXPECT_EQ(run_out.alerts_suppressed(), one_out.alerts_suppressed());
    EXPECT_EQ(run_out.dead_letters_produced(), one_out.dead_letters_produced());
    ebb::v1::EngineSnapshot sa, sb;
    (*one)->pipeline().Snapshot(&sa);
    (*run)->pipeline().Snapshot(&sb);
    ASSERT_EQ(sb.SerializeAsString(), sa.SerializeAsString())
        << "trial " << trial;
    if (trial == 0) {
      // The mix exercises both paths and every outcome.
      EXPECT_GT(a.applied, 0u);
      EXPECT_GT(a.total_alerts(), 0u);
      EXPECT_GT(a.rejected[ebb::v1::KEY_MISMATCH], 0u);
    }
    producer_->Purge();
  }
}

TEST(KafkaOutputTest, HistoryAlertsAreSuppressedUnlessAsked) {
  auto producer = Producer::Create({{"bootstrap.servers", "127.0.0.1:1"}});
  ASSERT_TRUE(producer.ok());
  RecordOrigin history = LiveRecord("SYM", "v");
  history.history = true;
  KafkaOutput quiet({"ebb.alerts", "ebb.dlq", false}, producer->get());
  ASSERT_TRUE(quiet.Alert(history, "SYM", 1, "bytes").ok());
  ASSERT_TRUE(quiet.Alert(LiveRecord("SYM", "v"), "SYM", 1, "bytes").ok());
  EXPECT_EQ(quiet.alerts_suppressed(), 1u);
  EXPECT_EQ(quiet.alerts_produced(), 1u);
  KafkaOutput loud({"ebb.alerts", "ebb.dlq", true}, producer->get());
  ASSERT_TRUE(loud.Alert(history, "SYM", 1, "bytes").ok());
  EXPECT_EQ(loud.alerts_produced(), 1u);
  EXPECT_EQ((*producer)->queued(), 2u);
  (*producer)->Purge();
}

}  // namespace
}  // namespace ebb::kafka
