#pragma once

// Helpers for the integration tier: a synthetic feed with a crash, publishing
// it with a real producer, reading a topic back whole, and the alerts a replay
// of the same events yields (the reference the streaming path must equal).

#include <librdkafka/rdkafka.h>

#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "connectors/kafka/kafka_client.h"
#include "ebb/v1/alert.pb.h"
#include "ebb/v1/events.pb.h"
#include "gtest/gtest.h"
#include "pipeline/config.h"
#include "pipeline/pipeline.h"
#include "pipeline/time_util.h"

namespace ebb_test {

struct FeedEvent {
  std::string symbol;
  ebb::TimeNs time;
  double price;
};

// `symbols` instruments, one price per hour for `hours`, in time order; each
// symbol crashes by 15-45 % around the middle and partly recovers, so alerts
// open, escalate and resolve.
inline std::vector<FeedEvent> MakeFeed(int symbols, int hours,
                                       uint32_t seed = 7) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 0.004);
  std::vector<double> price(symbols), depth(symbols);
  for (int s = 0; s < symbols; ++s) {
    price[s] = 50.0 + 10.0 * s;
    depth[s] = 0.15 + 0.30 * s / std::max(1, symbols - 1);
  }
  const ebb::TimeNs start = 1762000000LL * 1000000000LL;  // Nov 2025
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

// The offsets `group` has committed on the 4 partitions of ebb.prices
// (RD_KAFKA_OFFSET_INVALID where none). False when the broker did not say.
inline bool CommittedOffsets(const std::string& brokers,
                             const std::string& group,
                             std::map<int32_t, int64_t>* out,
                             absl::Duration timeout) {
  auto consumer = ebb::kafka::Consumer::Create(
      {{"bootstrap.servers", brokers}, {"group.id", group}}, nullptr);
  if (!consumer.ok()) return false;
  ebb::kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(4));
  for (int p = 0; p < 4; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), "ebb.prices", p);
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
  for (size_t i = 0; i < feed.size(); ++i) {
    output.emit = i >= from;
    (*pipeline)->OnEncodedPrice(Encode(feed[i]), ebb::Origin{});
  }
  return output.alerts;
}

inline std::multiset<std::string> Contents(
    const std::vector<ebb::v1::Alert>& alerts) {
  std::multiset<std::string> out;
  for (const auto& a : alerts) out.insert(Content(a));
  return out;
}

}  // namespace ebb_test
