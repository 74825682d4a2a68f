// ebb run: the main job. A Kafka consumer-group member that turns price events
// into drawdown alerts, until stopped. See docs/kafka.md.

#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "apps/args.h"
#include "apps/commands.h"
#include "apps/common.h"
#include "apps/signals.h"
#include "base/status_macros.h"
#include "base/time_util.h"
#include "connectors/kafka/embedded_broker.h"
#include "connectors/kafka/stream_runner.h"
#include "engine/config.h"
#include "engine/validate.h"

namespace ebb {
namespace {

constexpr char kUsage[] =
    R"(usage: ebb run [--config FILE] [--brokers B | --embedded-broker] [--group G]
               [--from-beginning] [--no-warm-start] [--exit-when-idle DURATION]
               [--shutdown-timeout DURATION] [--window 30d] [--resolution 1m]
               [--lateness 0s] [--max-symbols N] [--exactly-once] [--transactional-id ID]
               [--property KEY=VALUE ...] [--quiet]

Consumes price events from ebb.prices (and news from ebb.news), computes rolling drawdowns
per symbol, and publishes alerts to ebb.alerts and rejected messages to ebb.dlq, until
SIGINT or SIGTERM (then: finish the batch, flush, commit, leave the group).
Flags override the config file; with neither, built-in defaults (docs/config.md).

  --embedded-broker     run an in-process broker (its address is printed on stderr)
  --from-beginning      a new group starts at the oldest retained message, not the newest
  --no-warm-start       do not rebuild windows from topic history on assignment
  --exit-when-idle D    stop cleanly after D (e.g. 5s) without a message; fail (status 1)
                        if no partition was assigned by then
  --shutdown-timeout D  how long a stop may take to flush and commit (default 10s)
  --max-symbols N       at most N symbols with state per assigned partition; events of
                        further new symbols are dead letters (symbol_limit). 0: no limit
  --exactly-once        processing_guarantee "exactly_once": alerts, dead letters and offsets
                        commit in one Kafka transaction per commit interval (docs/kafka.md)
  --transactional-id ID with --exactly-once: this instance's transactional.id (default
                        ebb-GROUP-INSTANCE; several instances on one host must set it)

Exit status: 0 stopped with everything processed committed; 1 an error (configuration,
brokers unreachable, a delivery failed); 3 stopped, but outputs were not acknowledged or
offsets not committed within the shutdown timeout (a restart processes them again).
)";

const std::vector<FlagSpec> kFlags = {
    {"config", true, false},          {"brokers", true, false},
    {"group", true, false},           {"embedded-broker", false, false},
    {"from-beginning", false, false}, {"no-warm-start", false, false},
    {"exit-when-idle", true, false},  {"shutdown-timeout", true, false},
    {"window", true, false},          {"resolution", true, false},
    {"lateness", true, false},        {"max-symbols", true, false},
    {"property", true, true},         {"quiet", false, false},
    {"exactly-once", false, false},   {"transactional-id", true, false},
    {"help", false, false},
};

// Exit statuses (docs/kafka.md).
constexpr int kError = 1;
constexpr int kShutdownIncomplete = 3;

int Fail(const absl::Status& status, int exit_status = kError) {
  std::fprintf(stderr, "ebb run: %s\n", std::string(status.message()).c_str());
  return exit_status;
}

// " (3 not acknowledged)" when some were handed to the producer but never
// acknowledged; empty otherwise.
std::string Unacknowledged(uint64_t produced, uint64_t published) {
  if (produced <= published) return "";
  return absl::StrCat(" (", Thousands(produced - published),
                      " not acknowledged)");
}

// Published means acknowledged by the broker: the counts, and the breakdown
// by transition, leave out alerts that were handed to the producer but never
// acknowledged, and alerts of warm-start history (never produced).
void PrintSummary(const kafka::StreamStats& s, double seconds) {
  const PipelineStats& p = s.pipeline;
  std::fprintf(
      stderr,
      "ebb run: %s in %.2f s (%s warm-start history, %s stale, %s left to "
      "the next owner), %s, %s, %.2f s CPU in the consuming thread\n",
      Counted(s.consumed, "message").c_str(), seconds,
      Thousands(s.history).c_str(), Thousands(s.stale).c_str(),
      Thousands(s.held).c_str(), Counted(s.batches, "batch", "batches").c_str(),
      Counted(s.commits, "commit").c_str(), s.busy_seconds);
  if (s.rewinds > 0) {
    PrintSummaryLine(
        "rewound",
        absl::StrCat(Counted(s.rewinds, "time"),
                     " to the committed offsets after an aborted transaction"));
  }
  const std::string freed =
      p.freed == 0 ? ""
                   : absl::StrCat(" (", Thousands(p.freed),
                                  " freed after their symbol went quiet)");
  PrintSummaryLine("applied",
                   absl::StrCat(Counted(p.applied, "price event"), ", ",
                                Counted(p.symbols, "symbol"), freed, "; ",
                                Thousands(p.news), " news"));
  PrintSummaryLine(
      "rejected",
      absl::StrCat(
          Rejected(p), "; ", Counted(s.dead_letters_published, "dead letter"),
          " published",
          Unacknowledged(s.dead_letters_produced, s.dead_letters_published)));
  const uint64_t opened = s.alerts_published[ebb::v1::OPENED];
  const uint64_t escalated = s.alerts_published[ebb::v1::ESCALATED];
  const uint64_t resolved = s.alerts_published[ebb::v1::RESOLVED];
  PrintSummaryLine(
      "alerts",
      absl::StrCat(
          Thousands(opened + escalated + resolved), " published ",
          ByTransition(opened, escalated, resolved),
          Unacknowledged(s.alerts_produced, opened + escalated + resolved),
          ", ", Thousands(s.alerts_suppressed),
          " from history not re-emitted"));
}

absl::StatusOr<ebb::v1::EbbConfig> BuildConfig(const Args& args) {
  ASSIGN_OR_RETURN(ebb::v1::EbbConfig config, ConfigFromFlags(args));
  ebb::v1::KafkaConfig* kafka = config.mutable_kafka();
  if (args.Has("brokers")) kafka->set_brokers(args.Get("brokers"));
  if (args.Has("group")) kafka->set_group(args.Get("group"));
  if (args.Has("from-beginning")) kafka->set_start("earliest");
  if (args.Has("no-warm-start")) kafka->set_warm_start("off");
  if (args.Has("exactly-once")) kafka->set_processing_guarantee("exactly_once");
  if (args.Has("transactional-id")) {
    kafka->set_transactional_id(args.Get("transactional-id"));
  }
  ASSIGN_OR_RETURN(auto properties, PropertyFlags(args));
  for (const auto& [key, value] : properties)
    (*kafka->mutable_properties())[key] = value;
  return config;
}

}  // namespace

int RunStream(int argc, char** argv) {
  auto args = Args::Parse(argc, argv, 1, kFlags);
  if (!args.ok() || args->Has("help") || !args->positional().empty()) {
    if (!args.ok())
      std::fprintf(stderr, "ebb run: %s\n\n",
                   std::string(args.status().message()).c_str());
    std::fputs(kUsage, stderr);
    return args.ok() && args->Has("help") ? 0 : 1;
  }
  auto config = BuildConfig(*args);
  if (!config.ok()) return Fail(config.status());
  auto engine = CompileConfig(*config);
  if (!engine.ok()) return Fail(engine.status());
  auto options = kafka::StreamOptionsFromConfig(config->kafka());
  if (!options.ok()) return Fail(options.status());
  if (args->Has("exit-when-idle")) {
    auto idle = ParseDuration(args->Get("exit-when-idle"), "--exit-when-idle");
    if (!idle.ok()) return Fail(idle.status());
    options->exit_when_idle = absl::Nanoseconds(*idle);
  }
  if (args->Has("shutdown-timeout")) {
    auto timeout =
        ParseDuration(args->Get("shutdown-timeout"), "--shutdown-timeout");
    if (!timeout.ok()) return Fail(timeout.status());
    if (*timeout <= 0) {
      return Fail(
          absl::InvalidArgumentError("--shutdown-timeout: must be > 0"));
    }
    options->shutdown_timeout = absl::Nanoseconds(*timeout);
  }

  options->verbose = !args->Has("quiet");
  // On a terminal, the warm start (a backfill from the topic) shows progress.
  const bool tty = isatty(STDERR_FILENO) == 1 && options->verbose;
  absl::Time last_drawn = absl::InfinitePast();
  bool drawn = false;
  if (tty) {
    options->on_warm_progress = [&](uint64_t done, uint64_t total) {
      const absl::Time now = absl::Now();
      if (done < total && now - last_drawn < absl::Milliseconds(200)) return;
      last_drawn = now;
      if (done >= total) {
        if (drawn) std::fputs("\r\033[K", stderr);
        drawn = false;
        return;
      }
      std::fprintf(
          stderr,
          "\r\033[Kebb run: warm start %5.1f%%  %s of %s history messages",
          100.0 * static_cast<double>(done) / static_cast<double>(total),
          Thousands(done).c_str(), Thousands(total).c_str());
      drawn = true;
    };
  }
  InstallStopHandlers();
  std::unique_ptr<kafka::EmbeddedBroker> broker;
  if (args->Has("embedded-broker")) {
    auto started = kafka::EmbeddedBroker::Start(1, kafka::DefaultTopics());
    if (!started.ok()) return Fail(started.status());
    broker = *std::move(started);
    options->brokers = broker->bootstrap();
    std::fprintf(stderr, "ebb run: embedded broker at %s\n",
                 broker->bootstrap().c_str());
  }
  if (!args->Has("quiet")) {
    std::fprintf(
        stderr, "ebb run: %s, group %s: %s%s%s -> %s, %s (config %s)\n",
        options->brokers.c_str(), options->group.c_str(),
        options->prices_topic.c_str(), options->news_topic.empty() ? "" : " + ",
        options->news_topic.c_str(), options->alerts_topic.c_str(),
        options->dlq_topic.c_str(), engine->config_hash.c_str());
    if (!options->properties.empty()) {
      std::fprintf(stderr, "ebb run: properties %s\n",
                   kafka::DescribeProperties(options->properties).c_str());
    }
  }
  auto runner = kafka::StreamRunner::Create(
      *std::move(options), *std::move(engine), SystemClock::Get());
  if (!runner.ok()) return Fail(runner.status());
  const absl::Time start = absl::Now();
  const absl::Status status = (*runner)->Run(&StopRequested());
  const kafka::StreamStats stats = (*runner)->stats();
  if (!args->Has("quiet")) {
    PrintSummary(stats, absl::ToDoubleSeconds(absl::Now() - start));
  }
  if (!status.ok()) {
    return Fail(status,
                stats.shutdown_incomplete ? kShutdownIncomplete : kError);
  }
  return 0;
}

}  // namespace ebb
