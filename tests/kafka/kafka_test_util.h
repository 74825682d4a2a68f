#pragma once

// Helpers for the integration tier: the broker a test runs against (the
// embedded mock cluster or a real Apache Kafka broker), a synthetic feed with a
// crash, publishing it with a real producer, reading a topic back whole, and
// the alerts a replay of the same events yields (the reference the streaming
// path must equal).

#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "base/time_util.h"
#include "connectors/kafka/embedded_broker.h"
#include "connectors/kafka/kafka_client.h"
#include "ebb/v1/alert.pb.h"
#include "ebb/v1/events.pb.h"
#include "engine/config.h"
#include "engine/pipeline.h"
#include "gtest/gtest.h"

namespace ebb_test {

struct FeedEvent {
  std::string symbol;
  ebb::TimeNs time;
  double price;
};

inline constexpr ebb::TimeNs kFeedStart = 1762000000LL * 1000000000LL;  // 2025

// `symbols` instruments, one price per hour for `hours` from `start`, in time
// order; each symbol crashes by 15-45 % around the middle and partly recovers,
// so alerts open, escalate and resolve.
inline std::vector<FeedEvent> MakeFeed(int symbols, int hours,
                                       uint32_t seed = 7,
                                       ebb::TimeNs start = kFeedStart) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 0.004);
  std::vector<double> price(symbols), depth(symbols);
  for (int s = 0; s < symbols; ++s) {
    price[s] = 50.0 + 10.0 * s;
    depth[s] = 0.15 + 0.30 * s / std::max(1, symbols - 1);
  }
  std::vector<FeedEvent> feed;
  for (int h = 0; h < hours; ++h) {
    for (int s = 0; s < symbols; ++s) {
      double drift = 0.0002;
      const int crash_start = hours / 2, crash_len = 72;
      if (h >= crash_start && h < crash_start + crash_len) {
        drift = std::log(1.0 - depth[s]) / crash_len;
      } else if (h >= crash_start + crash_len &&
                 h < crash_start + 3 * crash_len) {
        drift = -std::log(1.0 - depth[s]) / (3 * crash_len);
      }
      price[s] *= std::exp(drift + noise(rng));
      feed.push_back({"SYM" + std::to_string(s),
                      start + h * (ebb::kNanosPerDay / 24), price[s]});
    }
  }
  return feed;
}

inline std::string Encode(const FeedEvent& e) {
  ebb::v1::PriceEvent event;
  event.set_symbol(e.symbol);
  ebb::ToTimestamp(e.time, event.mutable_event_time());
  event.set_price(e.price);
  return event.SerializeAsString();
}

inline std::unique_ptr<ebb::kafka::Producer> MakeProducer(
    const std::string& brokers) {
  auto producer = ebb::kafka::Producer::Create({{"bootstrap.servers", brokers},
                                                {"enable.idempotence", "true"},
                                                {"linger.ms", "1"}});
  EXPECT_TRUE(producer.ok()) << producer.status();
  return producer.ok() ? *std::move(producer) : nullptr;
}

// Publishes feed[begin, end) keyed by symbol, with event-time timestamps, and
// waits for the acknowledgements.
inline void Publish(ebb::kafka::Producer& producer, const std::string& topic,
                    const std::vector<FeedEvent>& feed, size_t begin = 0,
                    size_t end = SIZE_MAX) {
  end = std::min(end, feed.size());
  for (size_t i = begin; i < end; ++i) {
    ASSERT_TRUE(producer
                    .Produce(topic, -1, feed[i].symbol, Encode(feed[i]), {},
                             feed[i].time / 1000000)
                    .ok());
    producer.Poll();
  }
  ASSERT_TRUE(producer.Flush(absl::Seconds(60)).ok());
}

inline void Publish(const std::string& brokers, const std::string& topic,
                    const std::vector<FeedEvent>& feed, size_t begin = 0,
                    size_t end = SIZE_MAX) {
  auto producer = MakeProducer(brokers);
  ASSERT_NE(producer, nullptr);
  Publish(*producer, topic, feed, begin, end);
}

struct Record {
  std::string key, value;
  int32_t partition = 0;
  int64_t offset = 0;
  std::map<std::string, std::string> headers;
};

// Every message of `topic`, read with a group-less consumer up to the high
// watermarks at the time of the call.
inline std::vector<Record> ReadTopic(const std::string& brokers,
                                     const std::string& topic) {
  std::vector<Record> out;
  auto conf = ebb::kafka::MakeConf({{"bootstrap.servers", brokers},
                                    {"group.id", "ebb-test-reader"},
                                    {"enable.auto.commit", "false"},
                                    {"fetch.wait.max.ms", "10"}});
  EXPECT_TRUE(conf.ok());
  char errstr[512];
  ebb::kafka::HandlePtr rk(
      rd_kafka_new(RD_KAFKA_CONSUMER, conf->release(), errstr, sizeof(errstr)));
  EXPECT_NE(rk, nullptr) << errstr;
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr);
  EXPECT_EQ(rd_kafka_metadata(rk.get(), 0, rkt, &metadata, 10000),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  const int partitions = metadata->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(metadata);
  rd_kafka_topic_destroy(rkt);
  ebb::kafka::PartitionListPtr list(
      rd_kafka_topic_partition_list_new(partitions));
  std::map<int32_t, int64_t> high;
  int64_t remaining = 0;
  for (int p = 0; p < partitions; ++p) {
    int64_t lo = 0, hi = 0;
    EXPECT_EQ(rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), p, &lo,
                                               &hi, 10000),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    high[p] = hi;
    remaining += hi - lo;
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk.get(), list.get());
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (remaining > 0 && absl::Now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 100);
    if (m == nullptr) continue;
    ebb::kafka::MessagePtr owned(m);
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    if (m->offset >= high[m->partition]) continue;
    --remaining;
    Record r;
    if (m->key != nullptr)
      r.key.assign(static_cast<const char*>(m->key), m->key_len);
    if (m->payload != nullptr)
      r.value.assign(static_cast<const char*>(m->payload), m->len);
    r.partition = m->partition;
    r.offset = m->offset;
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name;
      const void* value;
      size_t size;
      for (size_t i = 0;
           rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
           RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        r.headers[name] =
            std::string(static_cast<const char*>(value), value ? size : 0);
      }
    }
    out.push_back(std::move(r));
  }
  EXPECT_EQ(remaining, 0) << "timed out reading " << topic;
  rd_kafka_consumer_close(rk.get());
  return out;
}

// Every message of `topic` that a read_committed reader sees (those of
// committed transactions, and non-transactional ones), up to each partition's
// end (its last stable offset) when the reader reaches it. Call when no
// transaction on `topic` is open any more.
inline std::vector<Record> ReadCommitted(const std::string& brokers,
                                         const std::string& topic) {
  std::vector<Record> out;
  auto conf = ebb::kafka::MakeConf({{"bootstrap.servers", brokers},
                                    {"group.id", "ebb-test-committed-reader"},
                                    {"enable.auto.commit", "false"},
                                    {"isolation.level", "read_committed"},
                                    {"enable.partition.eof", "true"},
                                    {"fetch.wait.max.ms", "10"}});
  EXPECT_TRUE(conf.ok());
  char errstr[512];
  ebb::kafka::HandlePtr rk(
      rd_kafka_new(RD_KAFKA_CONSUMER, conf->release(), errstr, sizeof(errstr)));
  EXPECT_NE(rk, nullptr) << errstr;
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr);
  EXPECT_EQ(rd_kafka_metadata(rk.get(), 0, rkt, &metadata, 10000),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  const int partitions = metadata->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(metadata);
  rd_kafka_topic_destroy(rkt);
  ebb::kafka::PartitionListPtr list(
      rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk.get(), list.get());
  std::set<int32_t> at_end;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (static_cast<int>(at_end.size()) < partitions &&
         absl::Now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 100);
    if (m == nullptr) continue;
    ebb::kafka::MessagePtr owned(m);
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_end.insert(m->partition);
      continue;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    Record r;
    if (m->key != nullptr)
      r.key.assign(static_cast<const char*>(m->key), m->key_len);
    if (m->payload != nullptr)
      r.value.assign(static_cast<const char*>(m->payload), m->len);
    r.partition = m->partition;
    r.offset = m->offset;
    out.push_back(std::move(r));
  }
  EXPECT_EQ(static_cast<int>(at_end.size()), partitions)
      << "timed out reading " << topic << " read_committed";
  rd_kafka_consumer_close(rk.get());
  return out;
}

// The offsets `group` has committed on the 4 partitions of `topic`
// (RD_KAFKA_OFFSET_INVALID where none). False when the broker did not say.
inline bool CommittedOffsets(const std::string& brokers,
                             const std::string& group,
                             std::map<int32_t, int64_t>* out,
                             absl::Duration timeout,
                             const std::string& topic = "ebb.prices") {
  auto consumer = ebb::kafka::Consumer::Create(
      {{"bootstrap.servers", brokers}, {"group.id", group}}, nullptr);
  if (!consumer.ok()) return false;
  ebb::kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(4));
  for (int p = 0; p < 4; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p);
  }
  if (!(*consumer)->Committed(list.get(), timeout).ok()) return false;
  for (int p = 0; p < 4; ++p) (*out)[p] = list->elems[p].offset;
  return true;
}

// An alert without its provenance (the part that differs between replay and
// Kafka), serialized deterministically: equal strings mean equal alerts.
inline std::string Content(ebb::v1::Alert alert) {
  alert.clear_provenance();
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  alert.SerializeToCodedStream(&coded);
  return out;
}

inline std::vector<ebb::v1::Alert> ParseAlerts(
    const std::vector<Record>& records) {
  std::vector<ebb::v1::Alert> out;
  for (const Record& r : records) {
    ebb::v1::Alert alert;
    EXPECT_TRUE(alert.ParseFromString(r.value));
    out.push_back(alert);
  }
  return out;
}

// The alerts of a replay of `feed` (events from index `from` on emit; earlier
// ones only build state), in order.
inline std::vector<ebb::v1::Alert> ReplayAlerts(
    const std::vector<FeedEvent>& feed, size_t from = 0) {
  struct Collect : ebb::Output {
    std::vector<ebb::v1::Alert> alerts;
    bool emit = false;
    void OnAlert(const ebb::v1::Alert& a) override {
      if (emit) alerts.push_back(a);
    }
  } output;
  auto engine = ebb::CompileConfig(ebb::DefaultConfig());
  EXPECT_TRUE(engine.ok());
  auto pipeline =
      ebb::Pipeline::Create(*engine, ebb::SystemClock::Get(), &output);
  EXPECT_TRUE(pipeline.ok());
  // The records' bytes, as a topic holds them, for dead letters.
  std::vector<std::string> originals;
  std::vector<ebb::Pipeline::PriceRecord> records;
  originals.reserve(feed.size());
  records.reserve(feed.size());
  for (const FeedEvent& e : feed) {
    originals.push_back(Encode(e));
    records.push_back({e.symbol, e.time, e.price, {}, originals.back(), {}});
  }
  const absl::Span<const ebb::Pipeline::PriceRecord> all(records);
  const size_t history = std::min(from, all.size());
  (*pipeline)->OnPrices(all.first(history));
  output.emit = true;
  (*pipeline)->OnPrices(all.subspan(history));
  return output.alerts;
}

inline std::multiset<std::string> Contents(
    const std::vector<ebb::v1::Alert>& alerts) {
  std::multiset<std::string> out;
  for (const auto& a : alerts) out.insert(Content(a));
  return out;
}

// ---------------------------------------------------------------------------
// The broker of a test

// Topic administration on any broker (librdkafka's Admin API): creates each
// topic with its partitions, one replica and `configs`, or deletes them.
struct NewTopic {
  std::string name;
  int partitions = 1;
  ebb::kafka::Properties configs;
};

namespace internal {
// Runs one Admin API request on a short-lived client and checks the result of
// every topic in it.
template <typename Request>
absl::Status AdminRequest(const std::string& brokers, rd_kafka_admin_op_t op,
                          Request request) {
  auto conf = ebb::kafka::MakeConf({{"bootstrap.servers", brokers}});
  if (!conf.ok()) return conf.status();
  char errstr[512];
  ebb::kafka::HandlePtr rk(
      rd_kafka_new(RD_KAFKA_PRODUCER, conf->release(), errstr, sizeof(errstr)));
  if (rk == nullptr) return absl::InternalError(errstr);
  ebb::kafka::QueuePtr queue(rd_kafka_queue_new(rk.get()));
  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(rk.get(), op);
  rd_kafka_AdminOptions_set_operation_timeout(options, 30000, errstr,
                                              sizeof(errstr));
  request(rk.get(), options, queue.get());
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue.get(), 60000);
  if (event == nullptr) {
    return absl::DeadlineExceededError("no answer to an admin request in 60 s");
  }
  absl::Status status;
  if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    status = absl::InternalError(rd_kafka_event_error_string(event));
  } else {
    const rd_kafka_topic_result_t** results = nullptr;
    size_t count = 0;
    if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS) {
      results = rd_kafka_CreateTopics_result_topics(
          rd_kafka_event_CreateTopics_result(event), &count);
    } else {
      results = rd_kafka_DeleteTopics_result_topics(
          rd_kafka_event_DeleteTopics_result(event), &count);
    }
    for (size_t i = 0; i < count && status.ok(); ++i) {
      if (rd_kafka_topic_result_error(results[i]) !=
          RD_KAFKA_RESP_ERR_NO_ERROR) {
        status = absl::InternalError(
            absl::StrCat(rd_kafka_topic_result_name(results[i]), ": ",
                         rd_kafka_topic_result_error_string(results[i])));
      }
    }
  }
  rd_kafka_event_destroy(event);
  return status;
}
}  // namespace internal

inline absl::Status CreateTopics(const std::string& brokers,
                                 const std::vector<NewTopic>& topics) {
  std::vector<rd_kafka_NewTopic_t*> created;
  absl::Status status;
  for (const NewTopic& t : topics) {
    char errstr[512];
    rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(
        t.name.c_str(), t.partitions, 1, errstr, sizeof(errstr));
    if (topic == nullptr) {
      status = absl::InvalidArgumentError(absl::StrCat(t.name, ": ", errstr));
      break;
    }
    created.push_back(topic);
    for (const auto& [key, value] : t.configs) {
      rd_kafka_NewTopic_set_config(topic, key.c_str(), value.c_str());
    }
  }
  if (status.ok()) {
    status = internal::AdminRequest(
        brokers, RD_KAFKA_ADMIN_OP_CREATETOPICS,
        [&](rd_kafka_t* rk, rd_kafka_AdminOptions_t* options,
            rd_kafka_queue_t* queue) {
          rd_kafka_CreateTopics(rk, created.data(), created.size(), options,
                                queue);
        });
  }
  rd_kafka_NewTopic_destroy_array(created.data(), created.size());
  return status;
}

inline absl::Status DeleteTopic(const std::string& brokers,
                                const std::string& name) {
  rd_kafka_DeleteTopic_t* topic = rd_kafka_DeleteTopic_new(name.c_str());
  absl::Status status = internal::AdminRequest(
      brokers, RD_KAFKA_ADMIN_OP_DELETETOPICS,
      [&](rd_kafka_t* rk, rd_kafka_AdminOptions_t* options,
          rd_kafka_queue_t* queue) {
        rd_kafka_DeleteTopics(rk, &topic, 1, options, queue);
      });
  rd_kafka_DeleteTopic_destroy(topic);
  return status;
}

// Which broker a test runs against: librdkafka's mock cluster in the test's
// own process (fault injection, no retention, no offsetsForTimes), or the real
// Apache Kafka broker at EBB_KAFKA_BROKERS (scripts/test.sh starts one with
// scripts/kafka.sh; without the variable those tests skip).
enum class BrokerKind { kEmbedded, kReal };

// "embedded" / "real": the suffix of parametrized test names. The build
// registers tests whose names end in "/real" with ctest label kafka-real.
inline std::string BrokerKindName(
    const ::testing::TestParamInfo<BrokerKind>& info) {
  return info.param == BrokerKind::kReal ? "real" : "embedded";
}

inline void PrintTo(BrokerKind kind, std::ostream* os) {
  *os << (kind == BrokerKind::kReal ? "real" : "embedded");
}

// The topics ebb reads and writes, by role.
struct Topics {
  std::string prices = "ebb.prices";
  std::string news = "ebb.news";
  std::string alerts = "ebb.alerts";
  std::string dlq = "ebb.dlq";
};

// The broker of one test, with ebb's four topics (prices with 4 partitions).
// Embedded: a new mock cluster, default topic names and the names given for
// groups. Real: the broker persists across tests (and test programs), so
// every topic and group name gets a suffix of this test's own
// (unique_suffix()); topics keep their messages forever (retention.ms -1:
// the feeds are stamped with old event times) unless a test creates its own.
class TestBroker {
 public:
  // The real broker's bootstrap, or empty (then real-broker tests skip).
  static std::string RealBootstrap() {
    const char* brokers = std::getenv("EBB_KAFKA_BROKERS");
    return brokers == nullptr ? "" : brokers;
  }

  // Starts (embedded) or connects to (real) the broker and creates the topics.
  // A real kind without EBB_KAFKA_BROKERS is a FailedPrecondition (skip).
  static absl::StatusOr<std::unique_ptr<TestBroker>> Start(BrokerKind kind) {
    std::unique_ptr<TestBroker> broker(new TestBroker);
    if (kind == BrokerKind::kEmbedded) {
      auto embedded =
          ebb::kafka::EmbeddedBroker::Start(1, ebb::kafka::DefaultTopics());
      if (!embedded.ok()) return embedded.status();
      broker->embedded_ = *std::move(embedded);
      broker->bootstrap_ = broker->embedded_->bootstrap();
      return broker;
    }
    broker->bootstrap_ = RealBootstrap();
    if (broker->bootstrap_.empty()) {
      return absl::FailedPreconditionError(
          "EBB_KAFKA_BROKERS is not set: no real Kafka broker to test on "
          "(scripts/test.sh starts one with scripts/kafka.sh)");
    }
    broker->suffix_ = UniqueSuffix();
    Topics& t = broker->topics_;
    for (std::string* name : {&t.prices, &t.news, &t.alerts, &t.dlq}) {
      *name += broker->suffix_;
    }
    const ebb::kafka::Properties keep = {{"retention.ms", "-1"}};
    absl::Status created =
        CreateTopics(broker->bootstrap_, {{t.prices, 4, keep},
                                          {t.news, 1, keep},
                                          {t.alerts, 1, keep},
                                          {t.dlq, 1, keep}});
    if (!created.ok()) return created;
    return broker;
  }

  const std::string& bootstrap() const { return bootstrap_; }
  const Topics& topics() const { return topics_; }
  bool real() const { return embedded_ == nullptr; }
  // The mock cluster (fault injection); null on the real broker.
  ebb::kafka::EmbeddedBroker* embedded() { return embedded_.get(); }
  rd_kafka_mock_cluster_t* cluster() {
    return embedded_ == nullptr ? nullptr : embedded_->cluster();
  }
  // `name` made unique to this test on the real broker (groups, extra
  // topics); as given on the embedded one.
  std::string Name(const std::string& name) const { return name + suffix_; }

 private:
  TestBroker() = default;

  // ".<Suite>.<test>.<pid>.<n>", with the characters Kafka allows in names.
  static std::string UniqueSuffix() {
    static std::atomic<int> counter{0};
    std::string test = "test";
    if (const ::testing::TestInfo* info =
            ::testing::UnitTest::GetInstance()->current_test_info()) {
      test = absl::StrCat(info->test_suite_name(), ".", info->name());
    }
    for (char& c : test) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.') c = '-';
    }
    return absl::StrCat(".", test, ".", getpid(), ".", counter++);
  }

  std::unique_ptr<ebb::kafka::EmbeddedBroker> embedded_;
  std::string bootstrap_;
  Topics topics_;
  std::string suffix_;
};

}  // namespace ebb_test
