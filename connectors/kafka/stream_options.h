#pragma once

// What a StreamRunner is told: brokers, topics, client properties, the
// start, warm start, commit and stop policies.

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "connectors/kafka/kafka_client.h"
#include "connectors/kafka/logger.h"
#include "ebb/v1/config.pb.h"

namespace ebb::kafka {

struct StreamOptions {
  std::string brokers = "localhost:9092";
  std::string group = "ebb";
  std::string prices_topic = "ebb.prices";
  std::string news_topic = "ebb.news";  // empty: no news
  std::string alerts_topic = "ebb.alerts";
  std::string dlq_topic = "ebb.dlq";
  Properties properties;  // every client
  Properties consumer_properties;
  Properties producer_properties;
  bool start_earliest = false;
  bool warm_start = true;
  // Start the warm-start history at offsetsForTimes(now - window - lateness
  // - warm_start_margin) instead of the oldest retained message.
  bool warm_start_by_time = false;
  // With warm_start_by_time: how much further back than the window the
  // history starts, so that it holds each symbol's newest event at or before
  // t - window (the anchor of `change` and `full_window`) for a live event at
  // t, when the symbol's events are at most this far apart there. >= 0.
  absl::Duration warm_start_margin = absl::Hours(7 * 24);
  bool emit_history_alerts = false;
  // Exactly-once (docs/kafka.md, "Exactly once"): outputs and input offsets
  // commit in one transaction per commit_interval (TransactionalCommitter),
  // the consumer reads read_committed. false: at-least-once
  // (AtLeastOnceCommitter).
  bool exactly_once = false;
  // With exactly_once: the producer's transactional.id; empty:
  // DefaultTransactionalId(*this). Two live instances must never share one
  // (the newer fences the older).
  std::string transactional_id;
  // 200 ms; StreamOptionsFromConfig makes it 100 ms with exactly_once unless
  // configured.
  absl::Duration commit_interval = absl::Milliseconds(200);
  int max_batch = 10000;
  // Stop (cleanly) after this long without a message, once partitions are
  // assigned. Zero: run until stopped. For demos, tests and backfills. When
  // no partition was ever assigned by then (brokers unreachable,
  // authentication refused, no such topic), Run() fails with the reason.
  absl::Duration exit_when_idle = absl::ZeroDuration();
  // How long a stop may take: flushing the outputs, committing what the
  // broker acknowledged, leaving the group. What is not acknowledged and
  // committed by then is reported, and Run() fails (a restart processes it
  // again).
  absl::Duration shutdown_timeout = absl::Seconds(10);
  // Record per-message latency (consumed -> outputs handed to the producer).
  bool record_latency = false;
  // With record_latency: samples to make room for (and write once) when Run()
  // starts. Growing the sample vectors later is a pause of the loop itself
  // (copying and first-touching tens of megabytes; docs/performance.md, "The
  // streaming loop"), and the backlog it leaves behind then shows up in every
  // later message's latency.
  size_t latency_capacity = 0;
  // Log assignments, revocations and postponed commits.
  bool verbose = true;
  // Where messages go; null: StderrLogger::Get(). Must outlive the runner.
  Logger* logger = nullptr;
  // Called after each batch while partitions warm up, with the warm-start
  // history processed so far and the total planned (both cumulative).
  std::function<void(uint64_t done, uint64_t total)> on_warm_progress;
};

// "ebb-GROUP-ID": ID is the group.instance.id of the consumer's (or every
// client's) properties when set, else "HOST-PRICES_TOPIC" (this host's name).
// Stable across restarts of one instance per host; several instances of a
// group on one host must set transactional_id or group.instance.id.
std::string DefaultTransactionalId(const StreamOptions& options);

// The options of a KafkaConfig, with defaults for what it leaves empty.
absl::StatusOr<StreamOptions> StreamOptionsFromConfig(
    const ebb::v1::KafkaConfig& config);

}  // namespace ebb::kafka
