// ebb broker: an embedded Kafka cluster (librdkafka's mock cluster, the real
// protocol on loopback TCP) for local use, demos and tests.

#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/signals.h"
#include "connectors/kafka/embedded_broker.h"

namespace ebb {
namespace {

constexpr char kUsage[] =
    R"(usage: ebb broker [--brokers N] [--topic NAME:PARTITIONS ...]

Runs an embedded Kafka cluster of N brokers (default 1) on loopback TCP until SIGINT or
SIGTERM. Prints its bootstrap servers as the first line on stdout. Creates the topics given
(default: ebb.prices:4 ebb.news:1 ebb.alerts:1 ebb.dlq:1); others are created on first use.
It keeps at most 100,000 messages or 5 MB per partition (the oldest are dropped): use
several partitions for large feeds. For development and tests, not production.
)";

const std::vector<FlagSpec> kFlags = {
    {"brokers", true, false}, {"topic", true, true}, {"help", false, false}};

}  // namespace

int RunBroker(int argc, char** argv) {
  auto args = Args::Parse(argc, argv, 1, kFlags);
  if (!args.ok() || args->Has("help") || !args->positional().empty()) {
    if (!args.ok())
      std::fprintf(stderr, "ebb broker: %s\n\n",
                   std::string(args.status().message()).c_str());
    std::fputs(kUsage, stderr);
    return args.ok() && args->Has("help") ? 0 : 1;
  }
  int brokers = 1;
  if (args->Has("brokers") &&
      (sscanf(args->Get("brokers").c_str(), "%d", &brokers) != 1)) {
    std::fprintf(stderr, "ebb broker: --brokers: not a number\n");
    return 1;
  }
  std::vector<kafka::TopicSpec> topics;
  for (const std::string& t : args->GetAll("topic")) {
    auto spec = kafka::ParseTopicSpec(t);
    if (!spec.ok()) {
      std::fprintf(stderr, "ebb broker: %s\n",
                   std::string(spec.status().message()).c_str());
      return 1;
    }
    topics.push_back(*spec);
  }
  if (topics.empty()) topics = kafka::DefaultTopics();
  InstallStopHandlers();
  auto broker = kafka::EmbeddedBroker::Start(brokers, topics);
  if (!broker.ok()) {
    std::fprintf(stderr, "ebb broker: %s\n",
                 std::string(broker.status().message()).c_str());
    return 1;
  }
  std::printf("%s\n", (*broker)->bootstrap().c_str());
  std::fflush(stdout);
  std::fprintf(stderr,
               "ebb broker: %d broker%s at %s, %zu topic%s; SIGTERM stops\n",
               brokers, brokers == 1 ? "" : "s", (*broker)->bootstrap().c_str(),
               topics.size(), topics.size() == 1 ? "" : "s");
  while (!StopRequested().load()) usleep(50 * 1000);
  std::fprintf(stderr, "ebb broker: stopped\n");
  return 0;
}

}  // namespace ebb
