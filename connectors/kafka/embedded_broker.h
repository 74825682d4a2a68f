#pragma once

// An embedded Kafka cluster: librdkafka's mock cluster, speaking the real
// protocol on loopback TCP, for local use (`ebb broker`,
// `ebb run --embedded-broker`) and tests. It lives as long as this object.
// Limits (docs/kafka.md): at most 100,000 messages or 5 MB per partition are
// kept; one thread serves every request.

#include <librdkafka/rdkafka.h>
// (rdkafka_mock.h must come after rdkafka.h)
#include <librdkafka/rdkafka_mock.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "connectors/kafka/kafka_client.h"

namespace ebb::kafka {

struct TopicSpec {
  std::string name;
  int partitions = 1;
};

// "NAME:PARTITIONS" or "NAME" (1 partition).
absl::StatusOr<TopicSpec> ParseTopicSpec(absl::string_view text);

// The topics `ebb run` uses, as an embedded broker creates them by default.
std::vector<TopicSpec> DefaultTopics();

class EmbeddedBroker {
 public:
  static absl::StatusOr<std::unique_ptr<EmbeddedBroker>> Start(
      int brokers, const std::vector<TopicSpec>& topics);
  ~EmbeddedBroker();
  EmbeddedBroker(const EmbeddedBroker&) = delete;
  EmbeddedBroker& operator=(const EmbeddedBroker&) = delete;

  // "127.0.0.1:PORT,..." for bootstrap.servers.
  const std::string& bootstrap() const { return bootstrap_; }
  absl::Status CreateTopic(const TopicSpec& topic);
  // For fault injection (rd_kafka_mock_broker_set_down, ...).
  rd_kafka_mock_cluster_t* cluster() { return cluster_; }

 private:
  EmbeddedBroker() = default;

  HandlePtr owner_;  // the handle the mock cluster hangs off
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstrap_;
};

}  // namespace ebb::kafka
