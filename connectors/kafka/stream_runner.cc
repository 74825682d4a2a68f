#include "connectors/kafka/stream_runner.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <utility>

#include "absl/strings/str_cat.h"
#include "window/prefetch.h"

namespace ebb::kafka {
namespace {

// How much longer than exit_when_idle a member whose brokers answer may wait
// for its first partitions (a group join takes seconds).
constexpr absl::Duration kJoinAllowance = absl::Seconds(30);
// Leaving the group gets at least this long, even when the flush used up the
// shutdown timeout (with the broker up it takes milliseconds).
constexpr absl::Duration kMinCloseTime = absl::Milliseconds(500);
// How long the committer's start (init_transactions, which fences an older
// instance with the same transactional.id) may take.
constexpr absl::Duration kStartTimeout = absl::Seconds(60);

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) +
         static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The latency sampler's clock (steady, not the injected one: it measures).
int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

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
  if (o.exactly_once) {
    // Before the user's properties, which may set transaction.timeout.ms.
    producer.push_back({"transactional.id", o.transactional_id.empty()
                                                ? DefaultTransactionalId(o)
                                                : o.transactional_id});
  }
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
  // Exactly-once reads only committed transactions (warm start included);
  // at-least-once keeps librdkafka's default.
  if (o.exactly_once) consumer.push_back({"isolation.level", "read_committed"});
  consumer.insert(consumer.end(), o.properties.begin(), o.properties.end());
  consumer.insert(consumer.end(), o.consumer_properties.begin(),
                  o.consumer_properties.end());
  absl::StatusOr<std::unique_ptr<Consumer>> made_consumer =
      Consumer::Create(consumer, runner.get());
  if (!made_consumer.ok()) return made_consumer.status();
  runner->consumer_ = *std::move(made_consumer);
  runner->output_ = std::make_unique<KafkaOutput>(
      KafkaOutput::Options{o.alerts_topic, o.dlq_topic, o.emit_history_alerts},
      runner->producer_.get());
  runner->acknowledgements_ =
      std::make_unique<ProducerAcknowledgements>(runner->producer_.get());
  runner->offset_store_ =
      std::make_unique<ConsumerOffsetStore>(runner->consumer_.get());
  if (o.exactly_once) {
    auto committer = std::make_unique<TransactionalCommitter>(
        runner->producer_.get(), runner->consumer_.get(), runner->logger_,
        o.verbose);
    runner->transactional_ = committer.get();
    runner->committer_ = std::move(committer);
  } else {
    runner->committer_ = std::make_unique<AtLeastOnceCommitter>(
        runner->offset_store_.get(), runner->acknowledgements_.get(),
        runner->clock_, runner->logger_, o.verbose);
  }
  runner->planner_ = std::make_unique<WarmStartPlanner>(
      runner->consumer_.get(), o, runner->engine_, runner->clock_);
  return runner;
}

StreamRunner::StreamRunner(StreamOptions options, EngineConfig engine,
                           const Clock* clock)
    : options_(std::move(options)),
      engine_(std::move(engine)),
      clock_(clock),
      logger_(options_.logger != nullptr ? options_.logger
                                         : StderrLogger::Get()) {
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

void StreamRunner::OnOutputError(absl::Status status) {
  if (absl::IsAborted(status) && transactional_ != nullptr) {
    // The open transaction failed: it is aborted and every partition
    // rewound (Poll()), so the outputs that could not be queued are produced
    // again.
    transactional_->MustAbort(status);
    return;
  }
  SetFatal(std::move(status));
}

StreamStats StreamRunner::Collect() const {
  StreamStats out = stats_;
  out.alerts_produced = output_->alerts_produced();
  out.alerts_suppressed = output_->alerts_suppressed();
  out.dead_letters_produced = output_->dead_letters_produced();
  out.commits = committer_->commits();
  out.pipeline = retired_;
  for (const auto& [key, task] : tasks_) {
    out.pipeline.Add(task->pipeline().stats());
  }
  // Producer tags: a dead letter is 0, an alert its transition.
  for (int t = 1; t < Producer::kTags; ++t) {
    out.alerts_published[t] = producer_->delivered(t);
  }
  out.dead_letters_published =
      producer_->delivered(KafkaOutput::kDeadLetterTag);
  return out;
}

void StreamRunner::Publish() {
  StreamStats now = Collect();
  absl::MutexLock lock(&published_mu_);
  published_ = std::move(now);
}

StreamStats StreamRunner::stats() const {
  absl::MutexLock lock(&published_mu_);
  return published_;
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
  Publish();
  return status;
}

absl::Status StreamRunner::Loop(const std::atomic<bool>* stop) {
  const absl::Time started = Now();
  if (absl::Status s = committer_->Start(absl::Now() + kStartTimeout);
      !s.ok()) {
    return s;
  }
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
    const absl::Time now = Now();
    if (count > 0) {
      ++stats_.batches;
      last_activity_ = now;
      ProcessBatch(count);
      if (options_.on_warm_progress && planner_->warm_total() > 0) {
        options_.on_warm_progress(stats_.history, planner_->warm_total());
      }
    }
    // An output that could not be queued (SetFatal) is not covered by any
    // producer count: nothing processed in this pass may be checkpointed.
    if (!fatal_.ok()) break;
    producer_->Poll();
    if (now - last_checkpoint >= options_.commit_interval) {
      committer_->Checkpoint();
      last_checkpoint = now;
    }
    if (absl::Status s = committer_->Poll(); absl::IsAborted(s)) {
      // The transaction was aborted: what it held is gone, so every
      // partition starts again from its committed offset and state.
      ++stats_.rewinds;
      if (absl::Status r = Rewind(); !r.ok()) SetFatal(std::move(r));
    } else if (!s.ok()) {
      // An output is lost for good (or the transactional producer is
      // fenced): nothing after the last commit may be committed now.
      SetFatal(std::move(s));
    }
    if (options_.exit_when_idle > absl::ZeroDuration() &&
        Now() - last_activity_ >= options_.exit_when_idle) {
      if (!tasks_.empty()) break;
      if (partitions_assigned_ == 0) {
        if (absl::Status s = StillJoining(Now() - started); !s.ok()) {
          SetFatal(s);
          break;
        }
        last_activity_ = Now();  // asks again after another idle time
      }
    }
    Publish();
  }
  shutting_down_ = true;
  const absl::Time deadline = Now() + options_.shutdown_timeout;
  // After a fatal error nothing more is committed: what was processed since
  // the last checkpoint that was sent may not have reached the broker. A
  // restart replays it.
  absl::Status status = fatal_.ok() ? FinishAndCommit(deadline) : fatal_;
  // Leaving the group revokes the partitions (with nothing left to commit).
  absl::Status closed =
      consumer_->Close(std::max(deadline - Now(), kMinCloseTime));
  if (!closed.ok() && status.ok()) {
    if (absl::IsDeadlineExceeded(closed)) {
      // Everything is committed; the group notices the departure when the
      // session times out.
      logger_->Log(closed.message());
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
    for (auto& [key, task] : tasks_) {
      if (absl::Status s = task->Flush(*output_); !s.ok()) SetFatal(s);
    }
    if (!fatal_.ok()) return fatal_;
  }
  // An error: a delivery failed for good; nothing more is committed.
  if (absl::Status s = committer_->Finish(deadline); !s.ok()) return s;
  const std::string uncommitted = committer_->Uncommitted();
  if (uncommitted.empty()) return absl::OkStatus();
  stats_.shutdown_incomplete = true;
  const StreamStats now = Collect();
  uint64_t alerts = 0;
  for (uint64_t published : now.alerts_published) alerts += published;
  const uint64_t unacknowledged_alerts = now.alerts_produced - alerts;
  const uint64_t unacknowledged_letters =
      now.dead_letters_produced - now.dead_letters_published;
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
        committer_->last_error().ok()
            ? ""
            : absl::StrCat(" (", committer_->last_error().message(), ")"));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "shutdown: ", what,
      "; not committed (a restart processes them again): ", uncommitted));
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

PartitionTask* StreamRunner::TaskFor(const char* topic, int32_t partition) {
  auto it = tasks_.find(std::make_pair(KindOf(topic), partition));
  return it == tasks_.end() ? nullptr : it->second.get();
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
  int64_t last_done = batch_start;
  // The task of the previous message and its topic handle: librdkafka keeps
  // one handle per topic, so a message with the same handle and partition
  // belongs to the same task, found without comparing topic names.
  PartitionTask* last = nullptr;
  // Commit results, which set it, are served between batches only.
  const bool holding = committer_->holding();
  const rd_kafka_topic_t* last_rkt = nullptr;
  // The run of consecutive messages of one task not handed over yet: runs go
  // to their task together (PartitionTask::ProcessRun), in batch order.
  PartitionTask* run_task = nullptr;
  size_t run_begin = 0;
  size_t run_size = 0;
  auto hand_over_run = [&] {
    if (run_size == 0) return;
    absl::Status status = run_task->ProcessRun(
        absl::MakeConstSpan(&run_[run_begin], run_size), *output_, [&](size_t) {
          if (!options_.record_latency) return;
          const int64_t end = NowNs();
          latencies_.push_back(static_cast<uint32_t>(
              std::min<int64_t>(end - batch_start, UINT32_MAX)));
          service_times_.push_back(static_cast<uint32_t>(
              std::min<int64_t>(end - last_done, UINT32_MAX)));
          last_done = end;
        });
    if (!status.ok()) OnOutputError(std::move(status));
    run_begin += run_size;
    run_size = 0;
  };
  run_.clear();
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
          logger_->Log(
              absl::StrCat("kafka: ", rd_kafka_message_errstr(message)));
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
    PartitionTask* task =
        (last != nullptr && message->rkt == last_rkt &&
         last->partition == message->partition)
            ? last
            : TaskFor(rd_kafka_topic_name(message->rkt), message->partition);
    if (task == nullptr ||
        (task->created_during_call == consume_calls_ &&
         i < task->created_at_index) ||
        message->offset < (task == run_task && run_size > 0
                               ? run_.back()->offset + 1
                               : task->next_offset)) {
      ++stats_.stale;  // not ours any more, or fetched before a reassignment
    } else if (holding) {
      ++stats_.held;  // uncommitted: the partition's next owner processes it
    } else {
      last = task;
      last_rkt = message->rkt;
      if (task != run_task) {
        hand_over_run();
        run_task = task;
      }
      run_.push_back(message);
      ++run_size;
      ++stats_.consumed;
      if (task->IsHistory(message->offset)) ++stats_.history;
    }
  }
  hand_over_run();
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
  // read misses. The loop reads the struct of message i; ProcessRun decodes
  // its key and value soon after: load the struct well before (i + 32), its
  // key and value in between (i + 24).
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

}  // namespace ebb::kafka
