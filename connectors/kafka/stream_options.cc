#include "connectors/kafka/stream_options.h"

#include <unistd.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/time_util.h"

namespace ebb::kafka {
namespace {

absl::Status OptionError(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("kafka.", field, ": ", what));
}

}  // namespace

std::string DefaultTransactionalId(const StreamOptions& options) {
  std::string instance;
  for (const Properties* properties :
       {&options.properties, &options.consumer_properties}) {
    for (const auto& [key, value] : *properties) {
      if (key == "group.instance.id") instance = value;  // later ones win
    }
  }
  if (instance.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
    instance = absl::StrCat(host[0] != '\0' ? host : "localhost", "-",
                            options.prices_topic);
  }
  return absl::StrCat("ebb-", options.group, "-", instance);
}

absl::StatusOr<StreamOptions> StreamOptionsFromConfig(
    const ebb::v1::KafkaConfig& config) {
  StreamOptions options;
  if (!config.brokers().empty()) options.brokers = config.brokers();
  if (!config.group().empty()) options.group = config.group();
  if (!config.prices_topic().empty())
    options.prices_topic = config.prices_topic();
  if (!config.news_topic().empty()) {
    options.news_topic = config.news_topic() == "-" ? "" : config.news_topic();
  }
  if (!config.alerts_topic().empty())
    options.alerts_topic = config.alerts_topic();
  if (!config.dlq_topic().empty()) options.dlq_topic = config.dlq_topic();
  auto copy = [](const google::protobuf::Map<std::string, std::string>& from,
                 Properties* to) {
    std::vector<std::pair<std::string, std::string>> sorted(from.begin(),
                                                            from.end());
    std::sort(sorted.begin(), sorted.end());
    to->insert(to->end(), sorted.begin(), sorted.end());
  };
  copy(config.properties(), &options.properties);
  copy(config.consumer_properties(), &options.consumer_properties);
  copy(config.producer_properties(), &options.producer_properties);
  if (config.start() == "earliest") {
    options.start_earliest = true;
  } else if (!config.start().empty() && config.start() != "latest") {
    return OptionError("start", "must be \"latest\" or \"earliest\"");
  }
  if (config.warm_start() == "off") {
    options.warm_start = false;
  } else if (config.warm_start() == "window") {
    options.warm_start_by_time = true;
  } else if (!config.warm_start().empty() && config.warm_start() != "history") {
    return OptionError("warm_start",
                       "must be \"history\", \"window\" or \"off\"");
  }
  if (!config.warm_start_margin().empty()) {
    absl::StatusOr<TimeNs> margin =
        ParseDuration(config.warm_start_margin(), "kafka.warm_start_margin");
    if (!margin.ok()) return margin.status();
    options.warm_start_margin = absl::Nanoseconds(*margin);
  }
  options.emit_history_alerts = config.emit_history_alerts();
  if (config.processing_guarantee() == "exactly_once") {
    options.exactly_once = true;
    options.commit_interval = absl::Milliseconds(100);
  } else if (!config.processing_guarantee().empty() &&
             config.processing_guarantee() != "at_least_once") {
    return OptionError("processing_guarantee",
                       "must be \"at_least_once\" or \"exactly_once\"");
  }
  options.transactional_id = config.transactional_id();
  if (!config.commit_interval().empty()) {
    absl::StatusOr<TimeNs> interval =
        ParseDuration(config.commit_interval(), "kafka.commit_interval");
    if (!interval.ok()) return interval.status();
    if (*interval <= 0) return OptionError("commit_interval", "must be > 0");
    options.commit_interval = absl::Nanoseconds(*interval);
  }
  if (config.max_batch() < 0 || config.max_batch() > 1000000) {
    return OptionError("max_batch", "must be in [1, 1000000]");
  }
  if (config.max_batch() > 0) options.max_batch = config.max_batch();
  if (!config.shutdown_timeout().empty()) {
    absl::StatusOr<TimeNs> timeout =
        ParseDuration(config.shutdown_timeout(), "kafka.shutdown_timeout");
    if (!timeout.ok()) return timeout.status();
    if (*timeout <= 0) return OptionError("shutdown_timeout", "must be > 0");
    options.shutdown_timeout = absl::Nanoseconds(*timeout);
  }
  return options;
}

}  // namespace ebb::kafka
