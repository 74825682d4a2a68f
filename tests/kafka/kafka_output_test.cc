// Unit tests (no broker) of the Kafka output's dead-letter formatting, and of
// the origin a partition task hands with each output: a producer with an
// unreachable bootstrap address only queues, and is purged at the end.

#include "connectors/kafka/kafka_output.h"

#include <string>

#include "base/clock.h"
#include "connectors/kafka/partition_task.h"
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
