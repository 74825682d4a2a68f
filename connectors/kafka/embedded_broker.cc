#include "connectors/kafka/embedded_broker.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ebb::kafka {

absl::StatusOr<TopicSpec> ParseTopicSpec(absl::string_view text) {
  TopicSpec spec;
  const size_t colon = text.rfind(':');
  spec.name = std::string(text.substr(0, colon));
  if (colon != absl::string_view::npos &&
      (!absl::SimpleAtoi(text.substr(colon + 1), &spec.partitions) ||
       spec.partitions < 1 || spec.partitions > 1000)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "topic \"", text, "\": partitions must be a number in [1, 1000]"));
  }
  if (spec.name.empty() || spec.name.size() > 249) {
    return absl::InvalidArgumentError(
        absl::StrCat("topic \"", text, "\": the name must be 1-249 bytes"));
  }
  return spec;
}

std::vector<TopicSpec> DefaultTopics() {
  return {
      {"ebb.prices", 4}, {"ebb.news", 1}, {"ebb.alerts", 1}, {"ebb.dlq", 1}};
}

absl::StatusOr<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::Start(
    int brokers, const std::vector<TopicSpec>& topics) {
  if (brokers < 1 || brokers > 16) {
    return absl::InvalidArgumentError("brokers must be in [1, 16]");
  }
  absl::StatusOr<ConfPtr> conf = MakeConf({{"log_level", "3"}});
  if (!conf.ok()) return conf.status();
  char errstr[512];
  rd_kafka_t* rk =
      rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), errstr, sizeof(errstr));
  if (rk == nullptr) {
    return absl::InternalError(absl::StrCat("embedded broker: ", errstr));
  }
  (void)conf->release();
  std::unique_ptr<EmbeddedBroker> broker(new EmbeddedBroker());
  broker->owner_.reset(rk);
  broker->cluster_ = rd_kafka_mock_cluster_new(rk, brokers);
  if (broker->cluster_ == nullptr) {
    return absl::InternalError("embedded broker: could not start the cluster");
  }
  broker->bootstrap_ = rd_kafka_mock_cluster_bootstraps(broker->cluster_);
  for (const TopicSpec& topic : topics) {
    absl::Status status = broker->CreateTopic(topic);
    if (!status.ok()) return status;
  }
  return broker;
}

EmbeddedBroker::~EmbeddedBroker() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
}

absl::Status EmbeddedBroker::CreateTopic(const TopicSpec& topic) {
  const rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
      cluster_, topic.name.c_str(), topic.partitions, 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaError(err, absl::StrCat("create topic ", topic.name));
  }
  return absl::OkStatus();
}

}  // namespace ebb::kafka
