#include "connectors/kafka/stream_runner.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "ebb/v1/events.pb.h"
#include "pipeline/prefetch.h"
#include "pipeline/time_util.h"
#include "pipeline/validate.h"

namespace ebb::kafka {
namespace {

constexpr int kPrices = 0;
constexpr int kNews = 1;
// A price event is ~60 bytes; anything this large is not one.
constexpr size_t kMaxValueBytes = 64 * 1024;
constexpr absl::Duration kRequestTimeout = absl::Seconds(10);
// How long a revoke waits for acknowledgements before giving up on its
// commit.
constexpr absl::Duration kFinalFlushTimeout = absl::Seconds(60);
// How much longer than exit_when_idle a member whose brokers answer may wait
// for its first partitions (a group join takes seconds).
constexpr absl::Duration kJoinAllowance = absl::Seconds(30);
// Leaving the group gets at least this long, even when the flush used up the
// shutdown timeout (with the broker up it takes milliseconds).
constexpr absl::Duration kMinCloseTime = absl::Milliseconds(500);
// How long checkpoints wait after a commit refused by a cooperative
// rebalance, unless a rebalance callback comes first.
constexpr absl::Duration kCommitPause = absl::Seconds(10);
// How long a synchronous commit waits for asynchronous ones still on their
// way.
constexpr absl::Duration kCommitDrainTimeout = absl::Seconds(5);

// Schema headers on every alert, so subscribers can dispatch without guessing.
constexpr char kTypeHeader[] = "ebb-type";
constexpr char kSchemaHeader[] = "ebb-schema-version";
constexpr char kSchemaVersion[] = "1";

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) +
         static_cast<double>(ts.tv_nsec) * 1e-9;
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

absl::Status OptionError(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("kafka.", field, ": ", what));
}

}  // namespace

struct StreamRunner::Task {
  int kind = kPrices;
  int32_t partition = 0;
  const std::string* topic = nullptr;
  std::unique_ptr<Pipeline> pipeline;
  Origin origin;
  int64_t next_offset = -1;   // the next offset to process (-1: any)
  int64_t warm_until = -1;    // offsets below this are warm-start history
  int64_t committed = -1;     // the last offset committed (acknowledged)
  int64_t checkpointed = -1;  // the last offset put in a checkpoint
  // Created during ConsumeBatch call number `created_during_call`, when that
  // call had already taken `created_at_index` messages: those were fetched
  // for a superseded assignment of the same partition.
  uint64_t created_during_call = 0;
  size_t created_at_index = 0;
};

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

absl::StatusOr<std::unique_ptr<StreamRunner>> StreamRunner::Create(
    StreamOptions options, EngineConfig engine, const Clock* clock) {
  if (options.prices_topic.empty() || options.alerts_topic.empty() ||
      options.dlq_topic.empty()) {
    return absl::InvalidArgumentError(
        "kafka: the prices, alerts and dlq topics must be named");
  }
  std::unique_ptr<StreamRunner> runner(
      new StreamRunner(std::move(options), std::move(engine), clock));
  const StreamOptions& o = runner->options_;

  Properties producer = {{"bootstrap.servers", o.brokers},
                         {"enable.idempotence", "true"},
                         {"acks", "all"},
                         {"linger.ms", "1"},
                         {"partitioner", "murmur2_random"},
                         {"client.id", "ebb-alerts"}};
  producer.insert(producer.end(), o.properties.begin(), o.properties.end());
  producer.insert(producer.end(), o.producer_properties.begin(),
                  o.producer_properties.end());
  absl::StatusOr<std::unique_ptr<Producer>> made_producer =
      Producer::Create(producer);
  if (!made_producer.ok()) return made_producer.status();
  runner->producer_ = *std::move(made_producer);

  Properties consumer = {
      {"bootstrap.servers", o.brokers},
      {"group.id", o.group},
      {"client.id", "ebb"},
      // Assignments set explicit start offsets (PlanWarmStart, including a
      // new group's "latest"); a reset happens only when an offset is gone
      // (retention), and then the oldest retained message is the right
      // place: "latest" would skip what was never read.
      {"auto.offset.reset", "earliest"},
      {"fetch.wait.max.ms", "10"},
      // librdkafka 2.0.2 stops fetching for a whole second once the queue
      // holds queued.min.messages messages or queued.max.messages.kbytes of
      // payload, whichever comes first (librdkafka#2879; 2.2.0 added
      // fetch.queue.backoff.ms). At the defaults (100,000 and 64 MB) a
      // catch-up ran in bursts: 100,000 messages, then ~0.9 s idle (0.16 M
      // events/s in ebb_kafka_bench). These keep more than a second of work
      // queued, for small and for larger messages, at the cost of up to
      // 256 MB of prefetched payload.
      {"queued.min.messages", "1000000"},
      {"queued.max.messages.kbytes", "262144"}};
  consumer.insert(consumer.end(), o.properties.begin(), o.properties.end());
  consumer.insert(consumer.end(), o.consumer_properties.begin(),
                  o.consumer_properties.end());
  absl::StatusOr<std::unique_ptr<Consumer>> made_consumer =
      Consumer::Create(consumer, runner.get());
  if (!made_consumer.ok()) return made_consumer.status();
  runner->consumer_ = *std::move(made_consumer);
  return runner;
}

StreamRunner::StreamRunner(StreamOptions options, EngineConfig engine,
                           const Clock* clock)
    : options_(std::move(options)), engine_(std::move(engine)), clock_(clock) {
  batch_.assign(static_cast<size_t>(options_.max_batch), nullptr);
}

StreamRunner::~StreamRunner() {
  // Messages must go before their handle; the consumer before the tasks and
  // producer it calls back into.
  for (rd_kafka_message_t*& m : batch_) {
    if (m != nullptr) rd_kafka_message_destroy(m);
    m = nullptr;
  }
  if (consumer_ != nullptr) (void)consumer_->Close(options_.shutdown_timeout);
  consumer_.reset();
}

void StreamRunner::SetFatal(absl::Status status) {
  if (fatal_.ok()) fatal_ = std::move(status);
}

StreamStats StreamRunner::stats() const {
  StreamStats out = stats_;
  out.pipeline = retired_;
  for (const auto& [key, task] : tasks_)
    out.pipeline.Add(task->pipeline->stats());
  if (producer_ != nullptr) {
    // Producer tags: a dead letter is 0, an alert its transition.
    for (int t = 1; t < Producer::kTags; ++t) {
      out.alerts_published[t] = producer_->delivered(t);
    }
    out.dead_letters_published = producer_->delivered(0);
  }
  return out;
}

// ---------------------------------------------------------------------------
// The loop

absl::Status StreamRunner::Run(const std::atomic<bool>* stop) {
  if (options_.record_latency) {
    RoomForSamples(options_.latency_capacity, /*geometric=*/false);
  }
  const double cpu_start = ThreadCpuSeconds();
  absl::Status status = Loop(stop);
  stats_.busy_seconds += ThreadCpuSeconds() - cpu_start;
  return status;
}

absl::Status StreamRunner::Loop(const std::atomic<bool>* stop) {
  const absl::Time started = absl::Now();
  std::vector<std::string> topics = {options_.prices_topic};
  if (!options_.news_topic.empty()) topics.push_back(options_.news_topic);
  if (absl::Status s = consumer_->Subscribe(topics); !s.ok()) return s;
  // Without this the first alert waits about a second for the topic's
  // metadata, and the commit after it with it. Best effort: Produce() finds
  // the metadata anyway (and when the brokers do not answer the first, the
  // second is not worth the wait).
  for (const std::string* topic :
       {&options_.alerts_topic, &options_.dlq_topic}) {
    if (!producer_->FetchMetadata(*topic, absl::Seconds(2)).ok()) break;
  }

  absl::Time last_checkpoint = started;
  last_activity_ = started;
  while (!stop->load(std::memory_order_relaxed) && fatal_.ok()) {
    const size_t count = NextBatch();
    const absl::Time now = absl::Now();
    if (count > 0) {
      ++stats_.batches;
      last_activity_ = now;
      ProcessBatch(count);
      if (options_.on_warm_progress && warm_total_ > 0) {
        options_.on_warm_progress(stats_.history, warm_total_);
      }
    }
    // An output that could not be queued (SetFatal) is not covered by any
    // producer count: nothing processed in this pass may be checkpointed.
    if (!fatal_.ok()) break;
    producer_->Poll();
    if (now - last_checkpoint >= options_.commit_interval) {
      TakeCheckpoint();
      last_checkpoint = now;
    }
    CommitSettled();
    if (options_.exit_when_idle > absl::ZeroDuration() &&
        absl::Now() - last_activity_ >= options_.exit_when_idle) {
      if (!tasks_.empty()) break;
      if (partitions_assigned_ == 0) {
        if (absl::Status s = StillJoining(absl::Now() - started); !s.ok()) {
          SetFatal(s);
          break;
        }
        last_activity_ = absl::Now();  // asks again after another idle time
      }
    }
  }
  shutting_down_ = true;
  const absl::Time deadline = absl::Now() + options_.shutdown_timeout;
  // After a fatal error nothing more is committed: what was processed since
  // the last checkpoint that was sent may not have reached the broker. A
  // restart replays it.
  absl::Status status = fatal_.ok() ? FinishAndCommit(deadline) : fatal_;
  // Leaving the group revokes the partitions (with nothing left to commit).
  absl::Status closed =
      consumer_->Close(std::max(deadline - absl::Now(), kMinCloseTime));
  if (!closed.ok() && status.ok()) {
    if (absl::IsDeadlineExceeded(closed)) {
      // Everything is committed; the group notices the departure when the
      // session times out.
      std::fprintf(stderr, "ebb run: %s\n",
                   std::string(closed.message()).c_str());
    } else {
      status = closed;
    }
  }
  if (producer_->outstanding() > 0) {
    // Not acknowledged in time (and reported above): the destructor must not
    // wait for them.
    producer_->Purge();
  }
  return status;
}

absl::Status StreamRunner::StillJoining(absl::Duration waited) {
  // Joining a group takes a few seconds (the broker's initial rebalance
  // delay, 3 s by default), so an idle time alone proves nothing: the brokers
  // must also fail to answer, or the topic be missing, or the wait be long.
  const absl::Status topic =
      consumer_->CheckTopic(options_.prices_topic, absl::Seconds(1));
  if (topic.ok() && waited < options_.exit_when_idle + kJoinAllowance) {
    return absl::OkStatus();
  }
  // Errors reported earlier explain nothing once the brokers answer.
  std::string reason;
  if (absl::IsUnavailable(topic)) {
    reason = consumer_->errors().Explain(options_.brokers);
    if (reason.empty()) reason = producer_->errors().Explain(options_.brokers);
  }
  if (reason.empty() && !topic.ok()) reason = std::string(topic.message());
  if (reason.empty()) {
    reason = stats_.assignments > 0
                 ? absl::StrCat("group ", options_.group,
                                " assigned this member none of the "
                                "partitions of ",
                                options_.prices_topic)
                 : absl::StrCat("group ", options_.group,
                                " has not assigned any partition");
  }
  return absl::UnavailableError(
      absl::StrCat("no partition assigned in ",
                   absl::FormatDuration(absl::Trunc(waited, absl::Seconds(1))),
                   ": ", reason));
}

absl::Status StreamRunner::FinishAndCommit(absl::Time deadline) {
  if (!options_.warm_start) {
    // Nobody would apply the events still waiting in reorder buffers
    // (allowed_lateness > 0): apply them before their offsets are committed.
    current_is_history_ = false;
    for (auto& [key, task] : tasks_) task->pipeline->Flush();
    if (!fatal_.ok()) return fatal_;
  }
  TakeCheckpoint();
  absl::Status flushed =
      producer_->Flush(std::max(deadline - absl::Now(), absl::ZeroDuration()));
  if (!flushed.ok() && !absl::IsDeadlineExceeded(flushed)) {
    return flushed;  // a delivery failed for good: commit nothing more
  }
  CommitAcknowledged(deadline);
  const std::string uncommitted = Uncommitted();
  if (uncommitted.empty()) return absl::OkStatus();
  stats_.shutdown_incomplete = true;
  const StreamStats now = stats();
  uint64_t alerts = 0;
  for (uint64_t published : now.alerts_published) alerts += published;
  const uint64_t unacknowledged_alerts = stats_.alerts_produced - alerts;
  const uint64_t unacknowledged_letters =
      stats_.dead_letters_produced - now.dead_letters_published;
  const std::string timeout = absl::FormatDuration(options_.shutdown_timeout);
  std::string what;
  if (unacknowledged_alerts + unacknowledged_letters > 0) {
    what = absl::StrCat(unacknowledged_alerts, " alert",
                        unacknowledged_alerts == 1 ? "" : "s", " and ",
                        unacknowledged_letters, " dead letter",
                        unacknowledged_letters == 1 ? "" : "s",
                        " not acknowledged within ", timeout);
  } else {
    what = absl::StrCat(
        "the commit was not confirmed within ", timeout,
        last_commit_error_.ok()
            ? ""
            : absl::StrCat(" (", last_commit_error_.message(), ")"));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "shutdown: ", what,
      "; not committed (a restart processes them again): ", uncommitted));
}

void StreamRunner::CommitAcknowledged(absl::Time deadline) {
  auto left_ms = [&] {
    return static_cast<int>(std::clamp<int64_t>(
        absl::ToInt64Milliseconds(deadline - absl::Now()), 0, 10));
  };
  // An older asynchronous commit could land after this one and move an
  // offset back: those finish first.
  while (commits_in_flight_ > 0 && absl::Now() < deadline) {
    ServeCommitResults(left_ms());
  }
  if (commits_in_flight_ > 0) return;
  const uint64_t settled = producer_->settled_through();
  TaskOffsets merged;
  while (!checkpoints_.empty() && checkpoints_.front().seq <= settled) {
    MergeOffsets(checkpoints_.front().offsets, &merged);
    checkpoints_.pop_front();
  }
  PartitionListPtr list(
      rd_kafka_topic_partition_list_new(static_cast<int>(merged.size())));
  for (const auto& [key, offset] : merged) {
    auto it = tasks_.find(key);
    if (it == tasks_.end() || offset == it->second->committed) continue;
    rd_kafka_topic_partition_list_add(list.get(), it->second->topic->c_str(),
                                      key.second)
        ->offset = offset;
  }
  if (list->cnt == 0) return;
  const absl::Status sent = consumer_->CommitAsync(list.get(), rebalances_);
  if (!sent.ok()) {
    OnCommitResult(sent, list.get(), rebalances_);
    return;
  }
  ++commits_in_flight_;
  while (commits_in_flight_ > 0 && absl::Now() < deadline) {
    ServeCommitResults(left_ms());
  }
}

std::string StreamRunner::Uncommitted() const {
  std::vector<std::pair<TaskKey, std::string>> parts;
  for (const auto& [key, task] : tasks_) {
    const int64_t target = CommitTarget(*task);
    if (target < 0 || target == task->committed) continue;
    parts.emplace_back(
        key, task->committed >= 0
                 ? absl::StrCat(*task->topic, "[", task->partition,
                                "] offsets ", task->committed, "-", target - 1)
                 : absl::StrCat(*task->topic, "[", task->partition,
                                "] offsets up to ", target - 1,
                                " (none committed)"));
  }
  std::sort(parts.begin(), parts.end());
  std::string out;
  for (const auto& [key, text] : parts) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", text);
  }
  return out;
}

size_t StreamRunner::NextBatch() {
  // Whatever is queued, without waiting for a full batch; when nothing is,
  // wait (at most 100 ms) for the first message only. Under load batches are
  // large, at low rates a message is processed as soon as it arrives.
  ++consume_calls_;
  size_t count = consumer_->ConsumeBatch(
      0, batch_.data(), static_cast<size_t>(options_.max_batch));
  if (count == 0) {
    ++consume_calls_;
    count = consumer_->ConsumeBatch(100, batch_.data(), 1);
  }
  return count;
}

int StreamRunner::KindOf(const char* topic) const {
  if (options_.prices_topic == topic) return kPrices;
  if (options_.news_topic == topic) return kNews;
  return -1;
}

StreamRunner::Task* StreamRunner::TaskFor(const char* topic,
                                          int32_t partition) {
  auto it = tasks_.find(std::make_pair(KindOf(topic), partition));
  return it == tasks_.end() ? nullptr : it->second.get();
}

void StreamRunner::StartWithoutWarmUp(Task& task,
                                      rd_kafka_topic_partition_t* element,
                                      int64_t committed) {
  element->offset = committed >= 0            ? committed
                    : options_.start_earliest ? RD_KAFKA_OFFSET_BEGINNING
                                              : RD_KAFKA_OFFSET_END;
  task.next_offset = committed >= 0 ? committed : -1;
}

void StreamRunner::RoomForSamples(size_t extra, bool geometric) {
  // The new memory is written once here, so that no page fault of the
  // samples' own memory lands inside a measurement.
  for (std::vector<uint32_t>* samples : {&latencies_, &service_times_}) {
    const size_t size = samples->size();
    if (samples->capacity() - size < extra) {
      samples->resize(geometric
                          ? std::max<size_t>({2 * samples->capacity(),
                                              size + extra, size_t{1} << 20})
                          : size + extra);
      samples->resize(size);
    }
  }
}

void StreamRunner::ProcessBatch(size_t count) {
  if (options_.record_latency) {
    // Room for the batch's samples before the clock starts, growing
    // geometrically (reserving exactly size() + count would copy every sample
    // so far on every batch).
    RoomForSamples(count, /*geometric=*/true);
  }
  const int64_t batch_start = options_.record_latency ? NowNs() : 0;
  // The task of the previous message and its topic handle: librdkafka keeps
  // one handle per topic, so a message with the same handle and partition
  // belongs to the same task, found without comparing topic names.
  Task* last = nullptr;
  const rd_kafka_topic_t* last_rkt = nullptr;
  for (size_t i = 0; i < count; ++i) {
    PrefetchMessages(i, count);
    rd_kafka_message_t* message = batch_[i];
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // Consumer errors (a broker down, a timed-out fetch) are retried by
      // librdkafka; a fatal one stops the loop.
      if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        consumer_->errors().Record(message->err,
                                   rd_kafka_message_errstr(message));
        if (stats_.kafka_errors++ % 100 == 0) {
          std::fprintf(stderr, "ebb run: kafka: %s\n",
                       rd_kafka_message_errstr(message));
        }
        char errstr[512];
        if (rd_kafka_fatal_error(consumer_->handle(), errstr, sizeof(errstr)) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
          SetFatal(
              absl::InternalError(absl::StrCat("kafka consumer: ", errstr)));
        }
        // The price topic is gone after partitions were assigned (deleted
        // under a running instance): librdkafka would revoke its partitions
        // and carry on with the news topic alone, hiding it. Stop without a
        // further commit.
        if ((message->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
             message->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) &&
            message->rkt != nullptr && stats_.assignments > 0 &&
            options_.prices_topic == rd_kafka_topic_name(message->rkt)) {
          SetFatal(absl::NotFoundError(
              absl::StrCat("the price topic ", options_.prices_topic,
                           " does not exist any more (deleted?): ",
                           rd_kafka_message_errstr(message))));
        }
      }
      continue;
    }
    Task* task =
        (last != nullptr && message->rkt == last_rkt &&
         last->partition == message->partition)
            ? last
            : TaskFor(rd_kafka_topic_name(message->rkt), message->partition);
    if (task == nullptr ||
        (task->created_during_call == consume_calls_ &&
         i < task->created_at_index) ||
        message->offset < task->next_offset) {
      ++stats_.stale;  // not ours any more, or fetched before a reassignment
    } else if (hold_until_revoke_) {
      ++stats_.held;  // uncommitted: the partition's next owner processes it
    } else {
      last = task;
      last_rkt = message->rkt;
      const int64_t start = options_.record_latency ? NowNs() : 0;
      if (task->kind == kPrices) HintAhead(*task, *message, i, count);
      Process(*task, *message);
      if (options_.record_latency) {
        const int64_t end = NowNs();
        latencies_.push_back(static_cast<uint32_t>(
            std::min<int64_t>(end - batch_start, UINT32_MAX)));
        service_times_.push_back(
            static_cast<uint32_t>(std::min<int64_t>(end - start, UINT32_MAX)));
      }
    }
  }
  // The messages go back together, after the batch: librdkafka's fetch
  // thread allocated them, so each free takes its malloc arena's lock, which
  // that thread keeps taking to allocate more. Freed one by one between
  // messages, the lock (and the messages' shared reference counts) bounced
  // between the two cores: 0.6 us per message in ebb_kafka_bench throughput,
  // against 0.15 us in one run of frees (docs/kafka.md).
  for (size_t i = 0; i < count; ++i) {
    rd_kafka_message_destroy(batch_[i]);
    batch_[i] = nullptr;
  }
}

void StreamRunner::PrefetchMessages(size_t i, size_t count) const {
  // The fetch thread wrote the messages on another core, so each one's first
  // read misses. HintAhead() reads the message struct and key of message
  // i + 16, Process() the struct, key and value of message i: load the
  // struct well before (i + 32), its key and value in between (i + 24).
  if (i + kMessageAhead < count) {
    const auto* m = reinterpret_cast<const char*>(batch_[i + kMessageAhead]);
    PrefetchLine(m);
    PrefetchLine(m + sizeof(rd_kafka_message_t) - 1);
  }
  if (i + kBytesAhead < count) {
    const rd_kafka_message_t* m = batch_[i + kBytesAhead];
    if (m->key != nullptr) PrefetchLine(m->key);
    if (m->payload != nullptr) PrefetchLine(m->payload);
  }
}

void StreamRunner::HintAhead(const Task& task,
                             const rd_kafka_message_t& current, size_t i,
                             size_t count) const {
  // Keys are symbols (a message whose key is not its symbol is rejected, and
  // a wrong hint costs nothing but the hint).
  task.pipeline->PrefetchAhead(i, count, [&](size_t k) {
    const rd_kafka_message_t* m = batch_[k];
    if (m == nullptr || m->err != RD_KAFKA_RESP_ERR_NO_ERROR ||
        m->rkt != current.rkt || m->partition != current.partition ||
        m->key == nullptr) {
      return absl::string_view();
    }
    return absl::string_view(static_cast<const char*>(m->key), m->key_len);
  });
}

void StreamRunner::Process(Task& task, const rd_kafka_message_t& message) {
  ++stats_.consumed;
  task.next_offset = message.offset + 1;
  current_task_ = &task;
  current_ = &message;
  current_is_history_ = message.offset < task.warm_until;
  if (current_is_history_) ++stats_.history;
  task.origin.offset = message.offset;
  const absl::string_view value(static_cast<const char*>(message.payload),
                                message.payload == nullptr ? 0 : message.len);
  const absl::string_view key(static_cast<const char*>(message.key),
                              message.key == nullptr ? 0 : message.key_len);
  if (value.empty()) {
    // A tombstone (a null value) or an empty one: no event to read.
    task.pipeline->OnUndecodable(ebb::v1::EMPTY_VALUE,
                                 message.payload == nullptr
                                     ? "the message value is null (a tombstone)"
                                     : "the message value is empty",
                                 value, {}, task.origin);
  } else if (value.size() > kMaxValueBytes) {
    task.pipeline->OnUndecodable(
        ebb::v1::OVERSIZE,
        absl::StrCat("message value of ", value.size(),
                     " bytes exceeds the limit of ", kMaxValueBytes),
        value.substr(0, 1024), {}, task.origin);
  } else if (task.kind == kPrices) {
    task.pipeline->OnEncodedPrice(value, task.origin, &key);
  } else {
    task.pipeline->OnEncodedNews(value, task.origin);
  }
  current_task_ = nullptr;
  current_ = nullptr;
}

// ---------------------------------------------------------------------------
// Outputs

void StreamRunner::OnAlert(const ebb::v1::Alert& alert) {
  if (current_is_history_ && !options_.emit_history_alerts) {
    ++stats_.alerts_suppressed;
    return;
  }
  scratch_.clear();
  alert.SerializeToString(&scratch_);
  const Header headers[] = {{kTypeHeader, "ebb.v1.Alert"},
                            {kSchemaHeader, kSchemaVersion}};
  absl::Status status = producer_->Produce(
      options_.alerts_topic, -1, alert.symbol(), scratch_, headers,
      /*timestamp_ms=*/0, static_cast<int>(alert.transition()));
  if (!status.ok()) {
    SetFatal(status);
    return;
  }
  ++stats_.alerts_produced;
}

void StreamRunner::OnDeadLetter(const DeadLetterView& dead_letter) {
  // History was dead-lettered when it was first processed (or precedes this
  // group's start).
  if (current_is_history_) return;
  absl::string_view key;
  std::string topic, partition, offset;
  if (current_ != nullptr) {
    key = absl::string_view(static_cast<const char*>(current_->key),
                            current_->key == nullptr ? 0 : current_->key_len);
    topic = *current_task_->topic;
    partition = absl::StrCat(current_->partition);
    offset = absl::StrCat(current_->offset);
  }
  const Header headers[] = {
      {"ebb-reason", RejectReasonName(dead_letter.reason)},
      {"ebb-detail", dead_letter.detail},
      {"ebb-source-topic", topic},
      {"ebb-source-partition", partition},
      {"ebb-source-offset", offset},
  };
  // The original value, untouched, so it can be fixed and re-published.
  absl::string_view value = dead_letter.original;
  if (current_ != nullptr && current_->payload != nullptr &&
      current_->len <= kMaxValueBytes) {
    value = absl::string_view(static_cast<const char*>(current_->payload),
                              current_->len);
  }
  absl::Status status = producer_->Produce(options_.dlq_topic, -1, key, value,
                                           headers, /*timestamp_ms=*/0,
                                           /*tag=*/0);
  if (!status.ok()) {
    SetFatal(status);
    return;
  }
  ++stats_.dead_letters_produced;
}

// ---------------------------------------------------------------------------
// Commits

int64_t StreamRunner::CommitTarget(const Task& task) {
  // During a warm start the resume offset itself is committed (history has
  // no outputs): a new group's starting point is pinned at once, and a crash
  // or rebalance before the first live message cannot move it.
  return std::max(task.next_offset, task.warm_until);
}

void StreamRunner::TakeCheckpoint() {
  Checkpoint checkpoint;
  checkpoint.seq = producer_->queued();
  for (auto& [key, task] : tasks_) {
    const int64_t target = CommitTarget(*task);
    if (target >= 0 && target != task->checkpointed &&
        target != task->committed) {
      checkpoint.offsets.emplace_back(key, target);
      task->checkpointed = target;
    }
  }
  if (checkpoint.offsets.empty()) return;
  // While acknowledgements are slow (a broker outage) at most two
  // checkpoints wait: the oldest, committed as soon as it settles, and one
  // that collects everything after it.
  if (checkpoints_.size() >= 2 &&
      checkpoints_.back().seq > producer_->settled_through()) {
    Checkpoint& back = checkpoints_.back();
    back.seq = checkpoint.seq;
    MergeOffsets(checkpoint.offsets, &back.offsets);
    return;
  }
  checkpoints_.push_back(std::move(checkpoint));
}

void StreamRunner::MergeOffsets(const TaskOffsets& newer, TaskOffsets* into) {
  for (const auto& [key, offset] : newer) {
    auto same = std::find_if(into->begin(), into->end(),
                             [&](const auto& m) { return m.first == key; });
    if (same == into->end()) {
      into->emplace_back(key, offset);
    } else {
      same->second = offset;  // checkpoints only move forward
    }
  }
}

void StreamRunner::CommitSettled() {
  ServeCommitResults(0);
  if (!fatal_.ok()) return;
  if (absl::Status s = producer_->status(); !s.ok()) {
    // An output is lost for good: nothing after the last commit may be
    // committed now (Loop() returns without committing).
    SetFatal(s);
    return;
  }
  // A rebalance refused a commit: eager, every partition is about to be
  // revoked (and the revoke drops their checkpoints); cooperative, the
  // checkpoints wait for the new assignment.
  if (hold_until_revoke_ || absl::Now() < commits_paused_until_) return;
  const uint64_t settled = producer_->settled_through();
  TaskOffsets merged;  // the newest offset of each task
  while (!checkpoints_.empty() && checkpoints_.front().seq <= settled) {
    MergeOffsets(checkpoints_.front().offsets, &merged);
    checkpoints_.pop_front();
  }
  if (merged.empty()) return;
  PartitionListPtr list(
      rd_kafka_topic_partition_list_new(static_cast<int>(merged.size())));
  for (const auto& [key, offset] : merged) {
    auto it = tasks_.find(key);
    if (it == tasks_.end()) continue;  // revoked since
    rd_kafka_topic_partition_list_add(list.get(), it->second->topic->c_str(),
                                      key.second)
        ->offset = offset;
  }
  if (list->cnt == 0) return;
  const absl::Status sent = consumer_->CommitAsync(list.get(), rebalances_);
  if (sent.ok()) {
    ++commits_in_flight_;
  } else {
    OnCommitResult(sent, list.get(), rebalances_);
  }
}

void StreamRunner::ServeCommitResults(int timeout_ms) {
  consumer_->PollCommitResults(
      timeout_ms,
      [this](const absl::Status& status,
             const rd_kafka_topic_partition_list_t* offsets, uint64_t tag) {
        if (commits_in_flight_ > 0) --commits_in_flight_;
        OnCommitResult(status, offsets, tag);
      });
}

void StreamRunner::OnCommitResult(
    const absl::Status& status, const rd_kafka_topic_partition_list_t* offsets,
    uint64_t rebalances) {
  bool any = false;
  for (int i = 0; offsets != nullptr && i < offsets->cnt; ++i) {
    const rd_kafka_topic_partition_t& e = offsets->elems[i];
    Task* task = TaskFor(e.topic, e.partition);
    if (task == nullptr) continue;
    if (status.ok() && e.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      task->committed = std::max(task->committed, e.offset);
      any = true;
    } else {
      task->checkpointed = -1;  // the next checkpoint retries it
    }
  }
  if (any) ++stats_.commits;
  if (status.ok()) return;
  last_commit_error_ = status;
  // A refusal of a commit sent before the latest rebalance callback is about
  // a rebalance that is over (the bookkeeping above is right either way: a
  // refused offset is offered again).
  if (rebalances != rebalances_) return;
  if (absl::IsAborted(status) && consumer_->eager()) {
    HoldIfRebalancing(status);
    return;
  }
  if (absl::IsAborted(status)) {
    // Cooperative: processing goes on, but another commit before this
    // member has rejoined can come back ILLEGAL_GENERATION, which makes
    // librdkafka declare the whole assignment lost (seen on the mock
    // broker). Commits wait for the new assignment (or 10 s).
    if (commits_paused_until_ < absl::Now() && options_.verbose) {
      std::fprintf(stderr,
                   "ebb run: %s: the group is rebalancing; commits wait for "
                   "the new assignment\n",
                   std::string(status.message()).c_str());
    }
    commits_paused_until_ = absl::Now() + kCommitPause;
    return;
  }
  // Not fatal: the next checkpoint retries; a crash before then re-emits
  // (at-least-once).
  std::fprintf(stderr, "ebb run: %s (will retry)\n",
               std::string(status.message()).c_str());
}

void StreamRunner::HoldIfRebalancing(const absl::Status& refused) {
  if (!hold_until_revoke_ && options_.verbose) {
    std::fprintf(stderr,
                 "ebb run: %s: the group is rebalancing; holding until the "
                 "partitions are revoked\n",
                 std::string(refused.message()).c_str());
  }
  hold_until_revoke_ = true;
}

absl::Status StreamRunner::CommitProcessed(const std::vector<Task*>& only,
                                           absl::Duration timeout) {
  std::vector<Task*> due;
  auto consider = [&](Task* task) {
    const int64_t target = CommitTarget(*task);
    if (target >= 0 && target != task->committed) due.push_back(task);
  };
  if (only.empty()) {
    for (auto& [key, task] : tasks_) consider(task.get());
  } else {
    for (Task* task : only) consider(task);
  }
  if (due.empty()) return absl::OkStatus();
  // Every output caused by the offsets about to be committed must be on the
  // broker first.
  if (absl::Status s = producer_->Flush(timeout); !s.ok()) {
    if (!absl::IsDeadlineExceeded(s)) return s;
    std::fprintf(stderr, "ebb run: %s; commit postponed\n",
                 std::string(s.message()).c_str());
    return absl::OkStatus();
  }
  // An asynchronous commit still on its way (librdkafka may hold it while
  // it looks for the coordinator) could reach the broker after this one and
  // move an offset back: let those finish first, for a few seconds at most.
  const absl::Time drain_until = absl::Now() + kCommitDrainTimeout;
  while (commits_in_flight_ > 0 && absl::Now() < drain_until) {
    ServeCommitResults(10);
  }
  PartitionListPtr list(
      rd_kafka_topic_partition_list_new(static_cast<int>(due.size())));
  for (Task* task : due) {
    rd_kafka_topic_partition_list_add(list.get(), task->topic->c_str(),
                                      task->partition)
        ->offset = CommitTarget(*task);
  }
  absl::Status committed = consumer_->Commit(list.get());
  if (absl::IsAborted(committed) && consumer_->eager()) {
    HoldIfRebalancing(committed);
    return absl::OkStatus();
  }
  if (!committed.ok()) {
    // Not fatal: a later commit retries; a crash before then re-emits
    // (at-least-once).
    std::fprintf(stderr, "ebb run: %s (will retry)\n",
                 std::string(committed.message()).c_str());
    return absl::OkStatus();
  }
  ++stats_.commits;
  for (Task* task : due) {
    task->committed = CommitTarget(*task);
    task->checkpointed = task->committed;
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Rebalances

void StreamRunner::Retire(Task& task) { retired_.Add(task.pipeline->stats()); }

void StreamRunner::OnRevoke(const rd_kafka_topic_partition_list_t* partitions,
                            bool lost) {
  ++rebalances_;
  std::vector<Task*> revoked;
  for (int i = 0; i < partitions->cnt; ++i) {
    Task* task =
        TaskFor(partitions->elems[i].topic, partitions->elems[i].partition);
    if (task != nullptr) revoked.push_back(task);
  }
  if (lost) {
    // Another member may own them already: their state is dropped without a
    // flush or commit, and the new owner resumes from the last commit.
    ++stats_.lost;
    if (options_.verbose) {
      std::fprintf(stderr,
                   "ebb run: the group membership was lost; dropping %zu "
                   "partition%s without committing (the next owner resumes "
                   "from the last commit)\n",
                   revoked.size(), revoked.size() == 1 ? "" : "s");
    }
  } else if (shutting_down_) {
    // The stop has committed what it could (FinishAndCommit).
  } else if (!options_.warm_start && fatal_.ok()) {
    // Without a warm start nobody would apply the events still waiting in
    // reorder buffers (allowed_lateness > 0): apply them now, before their
    // offsets are committed.
    current_is_history_ = false;
    for (Task* task : revoked) task->pipeline->Flush();
  }
  if (!lost && !shutting_down_ && fatal_.ok()) {
    // If this cannot flush in time, the partitions' new owner reprocesses
    // from the last commit (at-least-once).
    if (absl::Status s = CommitProcessed(revoked, kFinalFlushTimeout);
        !s.ok()) {
      SetFatal(s);
    }
  }
  for (Task* task : revoked) {
    const TaskKey key(task->kind, task->partition);
    // A pending checkpoint must not commit for a later owner of the key.
    for (Checkpoint& checkpoint : checkpoints_) {
      auto& offsets = checkpoint.offsets;
      offsets.erase(
          std::remove_if(offsets.begin(), offsets.end(),
                         [&](const auto& entry) { return entry.first == key; }),
          offsets.end());
    }
    Retire(*task);
    tasks_.erase(key);
  }
  if (tasks_.empty()) hold_until_revoke_ = false;
  assigned_partitions_.store(static_cast<int>(tasks_.size()),
                             std::memory_order_release);
  if (!revoked.empty() && options_.verbose) {
    std::fprintf(stderr, "ebb run: %zu partition%s revoked\n", revoked.size(),
                 revoked.size() == 1 ? "" : "s");
  }
}

void StreamRunner::OnAssign(rd_kafka_topic_partition_list_t* partitions) {
  ++rebalances_;
  // The rebalance is over for this member: commits may go again (with the
  // cooperative protocol the revoke comes before the member has rejoined,
  // so only the assignment ends the pause).
  commits_paused_until_ = absl::InfinitePast();
  if (consumer_->eager()) hold_until_revoke_ = false;
  ++stats_.assignments;
  partitions_assigned_ += static_cast<uint64_t>(partitions->cnt);
  last_activity_ = absl::Now();
  // Messages the current ConsumeBatch call has already taken were fetched
  // before this assignment (librdkafka 2.0.2 serves the rebalance in the
  // middle of the call; batch_ is null beyond them).
  size_t taken = 0;
  while (taken < batch_.size() && batch_[taken] != nullptr) ++taken;

  // The group's committed offsets, in one request.
  PartitionListPtr committed(rd_kafka_topic_partition_list_copy(partitions));
  absl::Status have_committed =
      consumer_->Committed(committed.get(), kRequestTimeout);
  if (!have_committed.ok()) {
    std::fprintf(stderr, "ebb run: %s; resuming from the group's offsets\n",
                 std::string(have_committed.message()).c_str());
  }
  int warm = 0;
  for (int i = 0; i < partitions->cnt; ++i) {
    rd_kafka_topic_partition_t* element = &partitions->elems[i];
    const int kind = KindOf(element->topic);
    auto task = std::make_unique<Task>();
    task->kind = kind;
    task->partition = element->partition;
    task->topic =
        kind == kPrices ? &options_.prices_topic : &options_.news_topic;
    task->created_during_call = consume_calls_;
    task->created_at_index = taken;
    absl::StatusOr<std::unique_ptr<Pipeline>> pipeline =
        Pipeline::Create(engine_, clock_, this);
    if (!pipeline.ok()) {
      SetFatal(pipeline.status());
      return;
    }
    task->pipeline = *std::move(pipeline);
    task->origin.source = task->pipeline->RegisterSource(*task->topic);
    task->origin.partition = element->partition;
    const bool known = have_committed.ok() &&
                       committed->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR;
    const int64_t committed_offset =
        known ? committed->elems[i].offset : RD_KAFKA_OFFSET_INVALID;
    task->committed = committed_offset >= 0 ? committed_offset : -1;
    if (!known) {
      // Resume from the group's offsets, whatever they are; no warm start.
      element->offset = RD_KAFKA_OFFSET_INVALID;
      task->next_offset = -1;
    } else if (kind == kPrices) {
      PlanWarmStart(*task, element, committed_offset);
      if (task->warm_until > element->offset) ++warm;
    } else {
      StartWithoutWarmUp(*task, element, committed_offset);
    }
    tasks_[std::make_pair(kind, element->partition)] = std::move(task);
  }
  assigned_partitions_.store(static_cast<int>(tasks_.size()),
                             std::memory_order_release);
  if (options_.verbose) {
    std::fprintf(stderr, "ebb run: %d partition%s assigned (%d warming up)\n",
                 partitions->cnt, partitions->cnt == 1 ? "" : "s", warm);
  }
}

void StreamRunner::PlanWarmStart(Task& task,
                                 rd_kafka_topic_partition_t* element,
                                 int64_t committed) {
  int64_t low = 0, high = 0;
  absl::Status marks = consumer_->Watermarks(*task.topic, task.partition, &low,
                                             &high, kRequestTimeout);
  if (!marks.ok()) {
    // Without the log's bounds there is no warm start: say so, loudly.
    std::fprintf(stderr,
                 "ebb run: %s: %s; starting without warm start (windows of "
                 "this partition begin empty)\n",
                 task.topic->c_str(), std::string(marks.message()).c_str());
    StartWithoutWarmUp(task, element, committed);
    return;
  }
  // Where live processing resumes.
  int64_t resume = committed >= 0            ? committed
                   : options_.start_earliest ? low
                                             : high;
  resume = std::max(resume, low);  // committed offsets may have been pruned
  int64_t from = resume;
  if (options_.warm_start && resume > low) {
    from = low;
  }
  // Skip history older than the windows need, when the broker can tell. A
  // live event at t needs its window (t - window, t] and, for `change` and
  // `full_window`, its symbol's newest event at or before t - window: that
  // anchor lies before the window by up to the symbol's interval between
  // events (a weekend, a holiday, a night), which the margin covers. The
  // partition holds many symbols and offsetsForTimes knows none of them: one
  // margin for all, measured from now. That is right only for live events
  // stamped after now - lateness - margin: when no message up to the resume
  // offset is that recent (the group is behind by more than the margin, or
  // the feed has been idle that long), the history starts at the oldest.
  if (options_.warm_start && options_.warm_start_by_time && resume > low) {
    const absl::Time recent = absl::FromUnixNanos(clock_->NowNs()) -
                              absl::Nanoseconds(engine_.allowed_lateness) -
                              options_.warm_start_margin;
    const absl::Time since = recent - absl::Nanoseconds(engine_.window.length);
    // The first offset stamped at or after `time`, or -1 when there is none
    // or the broker does not say. Before the epoch a timestamp query means
    // something else (-1 latest, -2 earliest): none is asked.
    auto first_stamped = [&](absl::Time time) -> int64_t {
      const int64_t ms = absl::ToUnixMillis(time);
      if (ms <= 0) return -1;
      PartitionListPtr times(rd_kafka_topic_partition_list_new(1));
      rd_kafka_topic_partition_list_add(times.get(), task.topic->c_str(),
                                        task.partition)
          ->offset = ms;
      if (!consumer_->OffsetsForTimes(times.get(), kRequestTimeout).ok() ||
          times->elems[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return -1;
      }
      return times->elems[0].offset;
    };
    const int64_t start = first_stamped(since);
    if (start > low && start <= resume) {
      const int64_t current = first_stamped(recent);
      if (current >= 0 && current <= resume) from = start;
    }
  }
  if (options_.warm_start && resume > low) {
    task.warm_until = resume;
    warm_total_ += static_cast<uint64_t>(resume - from);
  }
  element->offset = from;
  task.next_offset = from;
}

}  // namespace ebb::kafka
