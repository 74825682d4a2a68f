// ebb: streaming drawdown alerts for market signals. See README.md.

#include <cstdio>
#include <cstring>

#include "apps/commands.h"
#include "apps/common.h"

namespace {

constexpr char kUsage[] = R"(usage: ebb <command> [flags]

commands:
  run        the streaming job: Kafka price topics in, alert topics out
  broker     an embedded Kafka broker for local use and tests
  produce    publish price or news files to a topic as ebb.v1 protobufs
  tail       print the alerts of a topic as JSON lines
  replay     run price and news files through the engine; alerts as JSON lines
  generate   write a deterministic synthetic price feed (CSV, JSON lines, protobuf)

`ebb <command> --help` describes each command's flags.
)";

}  // namespace

int main(int argc, char** argv) {
  ebb::InstallProtobufLogHandler();
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  if (std::strcmp(argv[1], "replay") == 0)
    return ebb::RunReplay(argc - 1, argv + 1);
  if (std::strcmp(argv[1], "generate") == 0)
    return ebb::RunGenerate(argc - 1, argv + 1);
  if (std::strcmp(argv[1], "run") == 0)
    return ebb::RunStream(argc - 1, argv + 1);
  if (std::strcmp(argv[1], "broker") == 0)
    return ebb::RunBroker(argc - 1, argv + 1);
  if (std::strcmp(argv[1], "produce") == 0)
    return ebb::RunProduce(argc - 1, argv + 1);
  if (std::strcmp(argv[1], "tail") == 0)
    return ebb::RunTail(argc - 1, argv + 1);
  std::fprintf(stderr, "ebb: unknown command \"%s\"\n\n%s", argv[1], kUsage);
  return 1;
}
