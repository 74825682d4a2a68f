// Kafka figures for ebb: consume throughput next to bare librdkafka, the
// runtime's per-message latency, and the resident memory of full windows, on
// librdkafka's embedded mock broker or (--brokers) on a real Apache Kafka
// broker. A plain program (not Google Benchmark, not a ctest test) that
// prints figures.
//
// Usage:
//   ebb_kafka_bench [throughput] [latency] [--brokers=HOST:PORT]
//                   [--broker-pid=PID] [--latency-rates=10000,100000]
//                   [--latency-seconds=10] [--latency-runs=3]
//                   [--alert-every=N] [--runs=3] [--partitions=8]
//                   [--per-partition=80000] [--symbols=2000]
//                   [--compression=lz4|none|snappy|zstd|gzip]
//                   [--latency-rate=100000] [--latency-events=500000]
//                   [--latency-warm-hours=900] [--latency-tick-us=1000]
//                   [--latency-linger-ms=1] [--latency-fetch-wait-ms=0]
//                   [--max-batch=10000]
//                   [--consumer-property=KEY=VALUE ...]
//                   [--producer-property=KEY=VALUE ...]
//                   [--trace] [--pin-consumer] [--exactly-once]
//   ebb_kafka_bench memory-hourly
//   ebb_kafka_bench memory-minute [--quick]
// (scripts/bench_kafka.sh --real starts a broker and runs the real mode.)
// With no mode, throughput then latency. The memory modes are meant to run in
// a process of their own (scripts/bench_kafka.sh does), so that the RSS
// figures hold nothing but the pipeline. --max-batch and --consumer-property
// apply to both consumers (e.g. queued.min.messages=1000000),
// --producer-property to ebb's alert producer (e.g. linger.ms=0); --trace
// prints every consume call and batch of the runs on stderr. --pin-consumer
// gives the thread that runs StreamRunner::Run() (and the bare consumer's loop,
// so that the throughput ratio stays fair) the last CPU to itself and keeps
// every other thread (the mock broker's, librdkafka's, the publisher) on the
// others, as a latency-sensitive deployment would pin its consuming thread:
// threads inherit their creator's CPUs, so the main thread moves to the
// other CPUs before anything is created, and to the last one only to run.
// --exactly-once runs StreamRunner with processing_guarantee exactly_once
// (a transactional producer, one transaction per 100 ms commit interval, a
// transactional.id per run); the bare consumer is unchanged.
//
// 1. Throughput. An embedded broker (librdkafka's mock cluster, one broker
//    thread) with ebb.prices of 8 partitions. N = 8 x 80,000 = 640,000 price
//    events: 2,000 symbols ("SYM0000"...), symbol i always on partition i % 8
//    (so exactly 80,000 per partition), one event per symbol per hour, time-
//    major, a seeded geometric random walk (0.6 % per hour), key = symbol,
//    message timestamp = event time, values of 57 bytes (symbol, event_time,
//    price, venue, volume, event_id). The mock keeps at most 100,000 messages
//    or 5 MB per partition, counted in stored record-batch bytes: uncompressed,
//    such a record takes ~75-80 bytes, so 80,000 of them (~6.2 MB) do not fit
//    and the oldest ~14 % are pruned (measured: 87,923 of 640,000; whole
//    record batches go, so the count varies a little from run to run). The
//    feed is therefore produced with compression.type=lz4 by default
//    (--compression=none to see the pruning; lower --per-partition to ~60,000
//    for an uncompressed run that fits). The watermarks are checked after
//    producing and N is what the broker retains.
//    Then, --runs times:
//    (a) raw: a bare librdkafka consumer (rd_kafka_new, rd_kafka_assign of
//        every partition at RD_KAFKA_OFFSET_BEGINNING, no group join,
//        rd_kafka_consume_batch_queue of up to 10,000, fetch.wait.max.ms=10,
//        and ebb's queued.min.messages / queued.max.messages.kbytes)
//        that destroys the messages until it has all N;
//    (b) ebb: a StreamRunner (start_earliest, warm_start off, a fresh group,
//        exit_when_idle 1 s, max_batch 10,000, 30-day window with 1-hour
//        buckets), publishing its alerts to ebb.alerts.
//    Timing: both rates are "messages after the first batch / time from the
//    return of the first non-empty batch to the end of processing the last
//    one", so neither the consumer-group join (~3 s on the mock) nor the
//    runner's idle exit is counted, and neither is estimated by subtraction.
//    The runner is not changed for this: this program interposes
//    rd_kafka_consume_batch_queue (defined below; calls from the statically
//    linked ebb_kafka library resolve to it, and it forwards to librdkafka's
//    through dlsym(RTLD_NEXT)) and records when each batch returns and when
//    the next call begins, i.e. when the runner has finished processing,
//    producing and committing the previous batch. The bare consumer takes the
//    same two timestamps itself. Run() as a whole, its join and its tail are
//    printed too, with the time the runner spent in rd_kafka_flush (its
//    producer flush before each commit) and rd_kafka_commit, interposed the
//    same way, and its longest batch turnaround (batch return -> next call).
// 2. Latency. A fresh broker; a StreamRunner with record_latency consumes
//    while a producer thread publishes at a paced 100,000 events/s for 5 s
//    (500,000 events over 8 partitions), after 8 priming events that show the
//    runner is assigned and consuming, and a warm-up: --latency-warm-hours
//    (default 900) of events for every symbol, published as fast as the
//    runner consumes them (in chunks the mock's retention holds) and not
//    measured. The paced phase then sees the steady state a deployment is in
//    after its warm start: windows that evict as they insert and reuse their
//    ring blocks. 720 hours fill a 30-day window of 1-hour buckets, but each
//    ring still takes one more 128-slot block the first time its tail
//    crosses a block boundary while its head is inside a block (hour 768);
//    from about hour 840 on, nothing is allocated or first touched. With
//    less, the windows grow during the paced phase, and all 2,000 symbols
//    take their new block within the same few thousand events (the feed is
//    time-major): bursts of page faults, ~3 per event, for milliseconds.
//    The consumer of the latency run uses fetch.wait.max.ms =
//    --latency-fetch-wait-ms (default 0; ebb's own default is 10). The mock
//    broker answers a fetch that finds no data only after the whole
//    fetch.wait.max.ms, even if data arrives meanwhile (rdkafka_mock_
//    handlers.c: "This isn't strictly correct since we should cut the wait
//    short"); a real broker answers as soon as fetch.min.bytes (1) have
//    arrived. With 10, a consumer that keeps up gets the feed in batches of
//    10 ms (~1,000 messages here), and the batch-inclusive figure measures
//    the wait behind them. The publisher sends what is due every
//    --latency-tick-us (default 1,000) with linger.ms --latency-linger-ms
//    (default 1); finer ticks or linger 0 made the mock, which shares a core
//    with the publisher, slower and its batches no smaller (measured).
//    latencies() is, per processed message, the time from its batch's return
//    from the consume call to its outputs handed to the producer: time inside
//    ebb's process, not end to end, and including the wait behind the messages
//    before it in its batch; service_times() is the same from the start of the
//    message's own processing (no wait behind others). Also printed: from the
//    produce() call to the return of the message's batch to the runner (both
//    on the steady clock; the interposed consume call records the return of
//    every message by partition and offset). That includes the mock broker, the
//    wait inside rd_kafka_consume_batch_queue (which returns only when
//    max_batch messages have arrived or its 100 ms timeout has passed) and any
//    commit/flush the runner did before that consume call.
// 3. Memory. Pipeline directly, a no-op Output, no Kafka: (hourly) 10,000
//    symbols, "1h" buckets, one event per symbol per hour for 30 days (7.2 M
//    events); (minute) 1,000 symbols, "1m" buckets, one event per symbol per
//    minute for 30 days (43.2 M events; --quick: 7 days, 10.08 M). Events are
//    handed to Pipeline::OnPrice (no protobuf decoding), time-major. Prints
//    VmRSS before and after, the delta, Pipeline::WindowMemoryBytes(), and per
//    symbol figures.
// 4. A real broker (--brokers=HOST:PORT; kafka_bench_real.cc). Parts 1 and 2
//    run against Apache Kafka instead of the mock, each measurement on topics
//    of its own, created by this program through the admin API:
//    kb-PID-N-WHAT.prices (--partitions), .alerts and .dlq (1 partition), all
//    with retention.ms=-1 (the throughput feed's message timestamps are its
//    event times, up to two weeks old: time retention would delete them).
//    Nothing of the Kafka client is mocked or changed. --broker-pid=PID
//    (bench_kafka.sh passes it) adds the broker process's CPU from
//    /proc/PID/stat (10 ms ticks).
//    Throughput as in 1 (the same 640,000 events, raw and ebb alternating,
//    --runs times), with CPU seconds per run: the whole process's (getrusage:
//    every thread, librdkafka's included, from consumer creation to close,
//    so join and idle exit too), the consuming thread's, and the broker's
//    (for ebb: join, processing, idle exit/close); events per process
//    CPU-second; and for ebb's batches the wall and consuming-thread CPU time
//    of processing, the time in consume calls between them, and the thread's
//    voluntary/involuntary context switches (preempted = involuntary).
//    Latency: for each rate of --latency-rates (default 10,000 and 100,000
//    events/s), interleaved, --latency-runs times (default 3): a run of 2 at
//    --latency-seconds (default 10) after the warm-up of 2 (900 hours);
//    --latency-rate and --latency-events are the mock's. The
//    feed differs from 2 in one way: every --alert-every-th symbol (default
//    10, so 10 % of the events; the mock's default is 0) does not walk but
//    alternates between its first price and 12 % below it, so each of its
//    events after the first makes exactly one alert (OPENED at the 10 %
//    level, then RESOLVED below 8 %); the other symbols' random walks add
//    their own few (~0.6 % of events). The runner keeps ebb's consumer
//    defaults (fetch.wait.max.ms 10; --latency-fetch-wait-ms overrides).
//    Definitions, per paced event or alert, all on one steady clock (the
//    feed producer, the runner and its producer are threads of this
//    process):
//    - produce -> alert acknowledged: from the feed's Produce() call of the
//      price event (the time is kept per event in this process, indexed by
//      the feed's sequence) to the delivery report of the alert that event
//      caused, as ebb's producer serves it (its callback, run by
//      rd_kafka_poll on the runner's thread after the broker acknowledged
//      the alert with acks=all). rd_kafka_conf_set_dr_msg_cb is interposed
//      to record it; the alert's provenance (partition, offset) names its
//      price event (the topics are fresh: offsets count the feed's events of
//      each partition). Split into produce -> batch returned to the runner
//      and batch returned -> delivery report.
//    - produce -> batch returned, for every paced event (the interposed
//      consume call records each message's batch return by partition and
//      offset);
//    - ebb's own part: latencies() (batch returned -> outputs handed to the
//      producer) and service_times(), as in 2.
//    Each latency run also prints where the batches' time went (paced phase
//    only): the wall and consuming-thread CPU time of batch processing, of
//    the batches over 1 ms in particular, the thread's context switches,
//    and the broker's CPU per second. Then, per rate, each figure's range
//    and median over the runs.

#include "tests/benchmarks/kafka_bench.h"

#include <dlfcn.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/time_util.h"
#include "connectors/kafka/embedded_broker.h"
#include "connectors/kafka/kafka_client.h"
#include "connectors/kafka/stream_runner.h"
#include "ebb/v1/config.pb.h"
#include "ebb/v1/events.pb.h"
#include "engine/config.h"
#include "engine/pipeline.h"

namespace ebb {
namespace bench {

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double Seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }

int64_t ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// 1234567 -> "1,234,567".
std::string Thousands(uint64_t n) {
  std::string digits = absl::StrCat(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// A field of /proc/self/status in kB ("VmRSS", "VmHWM"), or -1.
int64_t ProcStatusKb(absl::string_view field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, field) && line.size() > field.size() &&
        line[field.size()] == ':') {
      int64_t kb = -1;
      std::string digits;
      for (char c : line.substr(field.size() + 1)) {
        if (c >= '0' && c <= '9') digits += c;
      }
      if (absl::SimpleAtoi(digits, &kb)) return kb;
    }
  }
  return -1;
}

BatchTrace g_trace;

}  // namespace bench
}  // namespace ebb

// The interposer: ebb's Consumer::ConsumeBatch (and the bare consumer below)
// call this; it forwards to librdkafka's own.
extern "C" ssize_t rd_kafka_consume_batch_queue(rd_kafka_queue_t* rkqu,
                                                int timeout_ms,
                                                rd_kafka_message_t** rkmessages,
                                                size_t rkmessages_size) {
  using Fn = ssize_t (*)(rd_kafka_queue_t*, int, rd_kafka_message_t**, size_t);
  static const Fn real =
      ebb::bench::NextSymbol<Fn>("rd_kafka_consume_batch_queue");
  ebb::bench::BatchTrace& trace = ebb::bench::g_trace;
  if (!trace.active.load(std::memory_order_relaxed)) {
    return real(rkqu, timeout_ms, rkmessages, rkmessages_size);
  }
  const int64_t entry_ns = ebb::bench::SteadyNs();
  trace.Close(entry_ns);
  const ssize_t n = real(rkqu, timeout_ms, rkmessages, rkmessages_size);
  if (trace.print && trace.first_return_ns.load() > 0) {
    std::fprintf(
        stderr, "kafka_bench: trace: consume call waited %.1f ms for %zd\n",
        static_cast<double>(ebb::bench::SteadyNs() - entry_ns) / 1e6, n);
  }
  if (n > 0) {
    trace.OnBatch(ebb::bench::SteadyNs(), rkmessages, static_cast<size_t>(n));
  }
  return n;
}

// Timed only: where the runner blocks between batches (Producer::Flush before
// each commit, Consumer::Commit).
extern "C" rd_kafka_resp_err_t rd_kafka_flush(rd_kafka_t* rk, int timeout_ms) {
  using Fn = rd_kafka_resp_err_t (*)(rd_kafka_t*, int);
  static const Fn real = ebb::bench::NextSymbol<Fn>("rd_kafka_flush");
  ebb::bench::BatchTrace& trace = ebb::bench::g_trace;
  if (!trace.active.load(std::memory_order_relaxed))
    return real(rk, timeout_ms);
  const int64_t start = ebb::bench::SteadyNs();
  const rd_kafka_resp_err_t err = real(rk, timeout_ms);
  trace.flush.Add(ebb::bench::SteadyNs() - start);
  if (trace.print) {
    std::fprintf(stderr, "kafka_bench: trace: rd_kafka_flush took %.1f ms\n",
                 static_cast<double>(ebb::bench::SteadyNs() - start) / 1e6);
  }
  return err;
}

extern "C" rd_kafka_resp_err_t rd_kafka_commit(
    rd_kafka_t* rk, const rd_kafka_topic_partition_list_t* offsets, int async) {
  using Fn = rd_kafka_resp_err_t (*)(
      rd_kafka_t*, const rd_kafka_topic_partition_list_t*, int);
  static const Fn real = ebb::bench::NextSymbol<Fn>("rd_kafka_commit");
  ebb::bench::BatchTrace& trace = ebb::bench::g_trace;
  if (!trace.active.load(std::memory_order_relaxed)) {
    return real(rk, offsets, async);
  }
  const int64_t start = ebb::bench::SteadyNs();
  const rd_kafka_resp_err_t err = real(rk, offsets, async);
  trace.commit.Add(ebb::bench::SteadyNs() - start);
  return err;
}

namespace ebb {
namespace bench {

// --pin-consumer (see the header): the process's CPUs at start-up, and
// whether to split them.
bool g_pin_consumer = false;
int g_broker_pid = 0;
kafka::Properties g_producer_properties;
bool g_exactly_once = false;
cpu_set_t g_allowed_cpus;

// Moves the calling thread to the last allowed CPU (consumer) or to all the
// other allowed ones. Exits the program when that fails: a run reported as
// pinned must be pinned.
void PinCurrentThread(bool consumer) {
  int last = -1;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &g_allowed_cpus)) last = c;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  if (consumer) {
    CPU_SET(last, &set);
  } else {
    for (int c = 0; c < last; ++c) {
      if (CPU_ISSET(c, &g_allowed_cpus)) CPU_SET(c, &set);
    }
  }
  if (CPU_COUNT(&set) == 0 ||
      pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0) {
    std::fprintf(stderr,
                 "kafka_bench: --pin-consumer: cannot pin a thread (it needs "
                 "2 allowed CPUs or more)\n");
    std::exit(2);
  }
}

absl::StatusOr<EngineConfig> HourlyEngine() {
  ebb::v1::EbbConfig config = DefaultConfig();
  config.mutable_window()->set_resolution("1h");
  return CompileConfig(config);
}

absl::StatusOr<std::unique_ptr<kafka::Producer>> FeedProducer(
    const std::string& bootstrap, const std::string& compression,
    const std::string& linger_ms) {
  return kafka::Producer::Create({{"bootstrap.servers", bootstrap},
                                  {"enable.idempotence", "true"},
                                  {"acks", "all"},
                                  {"linger.ms", linger_ms},
                                  {"compression.type", compression},
                                  {"client.id", "kafka-bench-feed"}});
}

// -----------------------------------------------------------------------------
// (a) The bare consumer.

absl::StatusOr<ConsumeResult> BareConsume(const std::string& bootstrap,
                                          int partitions, uint64_t expected,
                                          const std::string& group,
                                          const kafka::Properties& extra,
                                          size_t max_batch,
                                          const Topics& topics) {
  const int64_t wall_start = SteadyNs();
  kafka::Properties properties = {
      {"bootstrap.servers", bootstrap},
      {"group.id", group},  // assign() needs one; there is no join
      {"client.id", "kafka-bench-raw"},
      {"enable.auto.commit", "false"},
      {"enable.partition.eof", "false"},
      {"fetch.wait.max.ms", "10"},
      // ebb's own queue settings (stream_runner.cc): without them librdkafka
      // 2.0.2 pauses fetching for a second every 100,000 queued messages
      // (librdkafka#2879), and the bare consumer would be measured with a
      // handicap ebb does not have.
      {"queued.min.messages", "1000000"},
      {"queued.max.messages.kbytes", "262144"}};
  properties.insert(properties.end(), extra.begin(), extra.end());
  absl::StatusOr<kafka::ConfPtr> conf = kafka::MakeConf(properties);
  if (!conf.ok()) return conf.status();
  char errstr[512];
  kafka::HandlePtr rk(
      rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), errstr, sizeof(errstr)));
  if (rk == nullptr) return absl::InternalError(errstr);
  (void)conf->release();
  rd_kafka_poll_set_consumer(rk.get());
  kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topics.prices.c_str(), p)
        ->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  if (rd_kafka_resp_err_t err = rd_kafka_assign(rk.get(), list.get());
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return kafka::KafkaError(err, "assign");
  }
  kafka::QueuePtr queue(rd_kafka_queue_get_consumer(rk.get()));
  std::vector<rd_kafka_message_t*> batch(max_batch);
  // Pinned like the runner's consuming thread, so the ratio stays fair.
  if (g_pin_consumer) PinCurrentThread(/*consumer=*/true);
  const bool print = g_trace.print;
  g_trace.Reset();
  g_trace.print = print;
  const double thread_cpu_start = ThreadCpuSeconds();
  g_trace.active = true;
  int64_t last_progress = SteadyNs();
  while (g_trace.messages.load() < expected) {
    const ssize_t n =
        rd_kafka_consume_batch_queue(queue.get(), 100, batch.data(), max_batch);
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_destroy(batch[static_cast<size_t>(i)]);
    }
    if (n > 0) last_progress = SteadyNs();
    if (SteadyNs() - last_progress > 10 * kNanosPerSecond) break;  // stuck
  }
  g_trace.Close(SteadyNs());
  g_trace.active = false;
  const double thread_cpu = ThreadCpuSeconds() - thread_cpu_start;
  if (g_pin_consumer) PinCurrentThread(/*consumer=*/false);
  ConsumeResult result;
  result.thread_cpu = thread_cpu;
  result.messages = g_trace.messages.load();
  result.rate = g_trace.Rate();
  result.seconds = Seconds(g_trace.end_ns - g_trace.first_return_ns.load());
  result.first_batch = g_trace.first_batch;
  result.batches = g_trace.batches;
  queue.reset();
  rd_kafka_consumer_close(rk.get());
  rk.reset();
  result.wall = Seconds(SteadyNs() - wall_start);
  if (result.messages < expected) {
    return absl::DataLossError(
        absl::StrCat("bare consumer: ", result.messages, " of ", expected,
                     " messages, then nothing for 10 s"));
  }
  return result;
}

// -----------------------------------------------------------------------------
// (b) The runner.

absl::StatusOr<RunnerResult> RunRunner(
    const std::string& bootstrap, const std::string& group,
    size_t latency_samples, const kafka::Properties& extra, int max_batch,
    const std::atomic<bool>* stop, const Topics& topics) {
  absl::StatusOr<EngineConfig> engine = HourlyEngine();
  if (!engine.ok()) return engine.status();
  kafka::StreamOptions options;
  options.brokers = bootstrap;
  options.group = group;
  options.prices_topic = topics.prices;
  options.alerts_topic = topics.alerts;
  options.dlq_topic = topics.dlq;
  options.news_topic = "";
  options.start_earliest = true;
  options.warm_start = false;
  options.exit_when_idle = absl::Seconds(1);
  options.max_batch = max_batch;
  const bool record_latency = latency_samples > 0;
  options.record_latency = record_latency;
  options.latency_capacity = latency_samples;
  options.consumer_properties = extra;
  options.producer_properties = g_producer_properties;
  if (g_exactly_once) {
    options.exactly_once = true;
    options.commit_interval = absl::Milliseconds(100);
    options.transactional_id = absl::StrCat("kb-", getpid(), "-", group);
  }
  absl::StatusOr<std::unique_ptr<kafka::StreamRunner>> runner =
      kafka::StreamRunner::Create(options, *std::move(engine),
                                  SystemClock::Get());
  if (!runner.ok()) return runner.status();
  if (g_pin_consumer) PinCurrentThread(/*consumer=*/true);
  const bool print = g_trace.print;
  g_trace.Reset();
  g_trace.print = print;
  rusage before;
  getrusage(RUSAGE_THREAD, &before);
  // The throughput runs (few, large batches) read the broker's CPU and split
  // every batch; the latency runs (tens of thousands of small batches, where
  // a read of /proc per batch would be a cost of its own) split only the
  // paced phase (their publisher sets it).
  g_trace.watch_pid = latency_samples == 0 ? g_broker_pid : 0;
  g_trace.split_cpu = latency_samples == 0;
  const double broker_start = PidCpuSeconds(g_broker_pid);
  g_trace.active = true;
  const int64_t start = SteadyNs();
  const absl::Status status = (*runner)->Run(stop);
  const int64_t end = SteadyNs();
  rusage after;
  getrusage(RUSAGE_THREAD, &after);
  const double broker_end = PidCpuSeconds(g_broker_pid);
  g_trace.Close(end);  // in case Run() returned inside a batch
  g_trace.active = false;
  if (g_pin_consumer) PinCurrentThread(/*consumer=*/false);
  if (!status.ok()) return status;
  RunnerResult result;
  result.stats = (*runner)->stats();
  result.rate = g_trace.Rate();
  const int64_t first = g_trace.first_return_ns.load();
  result.seconds = Seconds(g_trace.end_ns - first);
  result.run = Seconds(end - start);
  result.join = first > 0 ? Seconds(first - start) : 0;
  result.tail = Seconds(end - g_trace.end_ns);
  result.first_batch = g_trace.first_batch;
  result.batches = g_trace.batches;
  result.max_turnaround_ms =
      static_cast<double>(g_trace.max_turnaround_ns) / 1e6;
  result.max_turnaround_batch = g_trace.max_turnaround_batch;
  result.flush = g_trace.flush;
  result.commit = g_trace.commit;
  if (broker_start >= 0 && g_trace.watch_cpu_first >= 0) {
    result.broker_join = g_trace.watch_cpu_first - broker_start;
    result.broker_processing = g_trace.watch_cpu_end - g_trace.watch_cpu_first;
    result.broker_tail = broker_end - g_trace.watch_cpu_end;
  }
  result.all_spans = g_trace.all_spans;
  result.slow_spans = g_trace.slow_spans;
  result.voluntary_switches = after.ru_nvcsw - before.ru_nvcsw;
  result.involuntary_switches = after.ru_nivcsw - before.ru_nivcsw;
  result.latencies = (*runner)->latencies();
  result.service_times = (*runner)->service_times();
  runner->reset();
  return result;
}

namespace {

absl::StatusOr<std::unique_ptr<kafka::EmbeddedBroker>> StartBroker(
    int partitions) {
  return kafka::EmbeddedBroker::Start(
      1, {{kTopic, partitions}, {"ebb.alerts", 1}, {"ebb.dlq", 1}});
}

// The embedded broker with the default topics (started into *mock), or fresh
// topics on the real broker of --brokers.
absl::StatusOr<Target> MakeTarget(
    const Options& o, const std::string& what,
    std::unique_ptr<kafka::EmbeddedBroker>* mock) {
  Target target;
  if (o.brokers.empty()) {
    absl::StatusOr<std::unique_ptr<kafka::EmbeddedBroker>> broker =
        StartBroker(o.partitions);
    if (!broker.ok()) return broker.status();
    *mock = *std::move(broker);
    target.bootstrap = (*mock)->bootstrap();
    return target;
  }
  absl::StatusOr<Topics> topics =
      CreateTopics(o.brokers, FreshPrefix(what), o.partitions);
  if (!topics.ok()) return topics.status();
  target.bootstrap = o.brokers;
  target.topics = *std::move(topics);
  target.real = true;
  return target;
}

// Where the broker is, for the headings.
std::string Where(const Target& t) {
  return t.real ? absl::StrCat("the real broker at ", t.bootstrap, " (",
                               t.topics.prices, ", retention.ms=-1)")
                : "the embedded broker (librdkafka's mock cluster)";
}

// -----------------------------------------------------------------------------
// 1. Throughput

int RunThroughput(const Options& o) {
  const uint64_t planned = static_cast<uint64_t>(o.partitions) *
                           static_cast<uint64_t>(o.per_partition);
  std::printf(
      "== 1. Throughput: ebb.prices with %d partitions, %s price events "
      "(%s per partition), %d symbols, hourly, compression %s\n",
      o.partitions, Thousands(planned).c_str(),
      Thousands(static_cast<uint64_t>(o.per_partition)).c_str(), o.symbols,
      o.compression.c_str());
  const int64_t part_start = SteadyNs();
  std::unique_ptr<kafka::EmbeddedBroker> mock;
  absl::StatusOr<Target> target = MakeTarget(o, "throughput", &mock);
  if (!target.ok()) {
    std::fprintf(stderr, "kafka_bench: %s\n",
                 target.status().ToString().c_str());
    return 1;
  }
  const std::string& bootstrap = target->bootstrap;
  const Topics& topics = target->topics;
  std::printf("on %s\n", Where(*target).c_str());

  // Produce. Event times end about an hour ago (none lies in the future).
  const uint64_t hours = (planned + static_cast<uint64_t>(o.symbols) - 1) /
                         static_cast<uint64_t>(o.symbols);
  const TimeNs start = FloorTo(absl::GetCurrentTimeNanos(), kHour) -
                       static_cast<TimeNs>(hours + 1) * kHour;
  Feed feed(o.symbols, o.partitions, start, kHour, 20250101);
  absl::StatusOr<std::unique_ptr<kafka::Producer>> producer =
      FeedProducer(bootstrap, o.compression, "5");
  if (!producer.ok()) {
    std::fprintf(stderr, "kafka_bench: %s\n",
                 producer.status().ToString().c_str());
    return 1;
  }
  uint64_t value_bytes = 0;
  size_t min_value = SIZE_MAX, max_value = 0;
  const int64_t produce_start = SteadyNs();
  const std::string& topic = topics.prices;
  for (uint64_t k = 0; k < planned; ++k) {
    const Feed::Event e = feed.Next();
    value_bytes += e.value->size();
    min_value = std::min(min_value, e.value->size());
    max_value = std::max(max_value, e.value->size());
    if (absl::Status s = (*producer)->Produce(topic, e.partition, *e.key,
                                              *e.value, {}, e.time_ms);
        !s.ok()) {
      std::fprintf(stderr, "kafka_bench: %s\n", s.ToString().c_str());
      return 1;
    }
    if (k % 10'000 == 0) (*producer)->Poll();
  }
  if (absl::Status s = (*producer)->Flush(absl::Seconds(120)); !s.ok()) {
    std::fprintf(stderr, "kafka_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  const double produce_seconds = Seconds(SteadyNs() - produce_start);
  std::printf(
      "produced %s events in %.2f s (%.0f events/s, idempotent, linger.ms=5); "
      "values %zu-%zu bytes (mean %.1f)\n",
      Thousands(planned).c_str(), produce_seconds,
      static_cast<double>(planned) / produce_seconds, min_value, max_value,
      static_cast<double>(value_bytes) / static_cast<double>(planned));

  // What the broker kept.
  uint64_t retained = 0, pruned = 0;
  std::string marks;
  for (int p = 0; p < o.partitions; ++p) {
    int64_t low = 0, high = 0;
    const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        (*producer)->handle(), topics.prices.c_str(), p, &low, &high, 10'000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "kafka_bench: watermarks: %s\n",
                   rd_kafka_err2str(err));
      return 1;
    }
    retained += static_cast<uint64_t>(high - low);
    pruned += static_cast<uint64_t>(low);
    absl::StrAppend(&marks, p == 0 ? "" : " ", "[", low, ",", high, ")");
  }
  producer->reset();
  std::printf("retained offsets per partition: %s\n", marks.c_str());
  if (pruned > 0) {
    std::printf(
        "WARNING: the broker pruned %s of %s messages (its 5 MB / 100,000 "
        "messages per partition limit); measuring the %s it kept\n",
        Thousands(pruned).c_str(), Thousands(planned).c_str(),
        Thousands(retained).c_str());
  }
  const uint64_t n = retained;

  std::vector<double> raw_rates, ebb_rates, ratios, raw_per_cpu, ebb_per_cpu,
      cpu_ratios;
  for (int run = 1; run <= o.runs; ++run) {
    double cpu = ProcessCpuSeconds();
    double broker_cpu = PidCpuSeconds(o.broker_pid);
    absl::StatusOr<ConsumeResult> raw = BareConsume(
        bootstrap, o.partitions, n, absl::StrCat("kb-raw-", run),
        o.consumer_properties, static_cast<size_t>(o.max_batch), topics);
    const double raw_cpu = ProcessCpuSeconds() - cpu;
    const double raw_broker_cpu = PidCpuSeconds(o.broker_pid) - broker_cpu;
    if (!raw.ok()) {
      std::fprintf(stderr, "kafka_bench: %s\n",
                   raw.status().ToString().c_str());
      return 1;
    }
    std::atomic<bool> stop{false};
    cpu = ProcessCpuSeconds();
    broker_cpu = PidCpuSeconds(o.broker_pid);
    absl::StatusOr<RunnerResult> ebb =
        RunRunner(bootstrap, absl::StrCat("kb-ebb-", run), 0,
                  o.consumer_properties, o.max_batch, &stop, topics);
    const double ebb_cpu = ProcessCpuSeconds() - cpu;
    const double ebb_broker_cpu = PidCpuSeconds(o.broker_pid) - broker_cpu;
    if (!ebb.ok()) {
      std::fprintf(stderr, "kafka_bench: runner: %s\n",
                   ebb.status().ToString().c_str());
      return 1;
    }
    const kafka::StreamStats& s = ebb->stats;
    raw_rates.push_back(raw->rate);
    ebb_rates.push_back(ebb->rate);
    ratios.push_back(raw->rate > 0 ? ebb->rate / raw->rate : 0);
    std::printf(
        "run %d: raw librdkafka %10.0f events/s (%s msgs, %.3f s after a "
        "first batch of %s, %s batches; wall %.2f s)\n",
        run, raw->rate, Thousands(raw->messages).c_str(), raw->seconds,
        Thousands(raw->first_batch).c_str(), Thousands(raw->batches).c_str(),
        raw->wall);
    std::printf(
        "       ebb StreamRunner %10.0f events/s (%s msgs, %.3f s after a "
        "first batch of %s, %s batches; Run() %.2f s = join %.2f + "
        "processing %.2f + idle exit/close %.2f)\n",
        ebb->rate, Thousands(s.consumed).c_str(), ebb->seconds,
        Thousands(ebb->first_batch).c_str(), Thousands(ebb->batches).c_str(),
        ebb->run, ebb->join, ebb->seconds, ebb->tail);
    std::printf(
        "       ratio ebb/raw %.3f; applied %s, rejected %s, alerts %s, "
        "commits %s, stale %s, kafka errors %s, longest batch turnaround "
        "%.1f ms (%s msgs)\n",
        ratios.back(), Thousands(s.pipeline.applied).c_str(),
        Thousands(s.pipeline.total_rejected()).c_str(),
        Thousands(s.alerts_produced).c_str(), Thousands(s.commits).c_str(),
        Thousands(s.stale).c_str(), Thousands(s.kafka_errors).c_str(),
        ebb->max_turnaround_ms, Thousands(ebb->max_turnaround_batch).c_str());
    std::printf(
        "       in Run(): rd_kafka_flush %s; rd_kafka_commit %s; consuming "
        "thread CPU %.3f s (%.2f us per message, join and idle exit "
        "included)\n",
        ebb->flush.Describe().c_str(), ebb->commit.Describe().c_str(),
        s.busy_seconds,
        s.consumed > 0 ? s.busy_seconds * 1e6 / static_cast<double>(s.consumed)
                       : 0.0);
    const double nd = static_cast<double>(n);
    raw_per_cpu.push_back(raw_cpu > 0 ? nd / raw_cpu : 0);
    ebb_per_cpu.push_back(ebb_cpu > 0 ? nd / ebb_cpu : 0);
    cpu_ratios.push_back(
        raw_per_cpu.back() > 0 ? ebb_per_cpu.back() / raw_per_cpu.back() : 0);
    std::printf(
        "       process CPU (every thread, join and exit included): raw %.3f "
        "s (consuming thread %.3f s), ebb %.3f s (consuming thread %.3f s); "
        "events per process CPU-second: raw %.0f, ebb %.0f, ratio %.3f\n",
        raw_cpu, raw->thread_cpu, ebb_cpu, s.busy_seconds, raw_per_cpu.back(),
        ebb_per_cpu.back(), cpu_ratios.back());
    if (o.broker_pid > 0) {
      std::printf(
          "       broker process CPU in the same spans: raw %.3f s, ebb %.3f "
          "s (join %.3f, processing %.3f, idle exit/close %.3f)\n",
          raw_broker_cpu, ebb_broker_cpu, ebb->broker_join,
          ebb->broker_processing, ebb->broker_tail);
    }
    std::printf(
        "       ebb's batches: processing %.3f s wall, %.3f s consuming-thread "
        "CPU; in consume calls between them %.3f s; the thread's context "
        "switches in Run(): %lld voluntary, %lld involuntary\n",
        Seconds(ebb->all_spans.wall_ns), Seconds(ebb->all_spans.cpu_ns),
        ebb->seconds - Seconds(ebb->all_spans.wall_ns),
        static_cast<long long>(ebb->voluntary_switches),
        static_cast<long long>(ebb->involuntary_switches));
    if (s.consumed != n || s.pipeline.applied != n) {
      std::printf("       PROBLEM: the runner processed %s of %s messages\n",
                  Thousands(s.consumed).c_str(), Thousands(n).c_str());
    }
    std::fflush(stdout);
  }
  std::printf(
      "median of %d: raw %.0f events/s, ebb %.0f events/s, ratio ebb/raw %.3f "
      "(median of the per-run ratios)\n",
      o.runs, Median(raw_rates), Median(ebb_rates), Median(ratios));
  auto range = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    char out[64];
    std::snprintf(out, sizeof(out), "%.3f-%.3f", v.front(), v.back());
    return std::string(out);
  };
  std::printf(
      "ratio ebb/raw over the runs: %s; events per process CPU-second: raw "
      "median %.0f, ebb median %.0f, ratio median %.3f (%s)\n",
      range(ratios).c_str(), Median(raw_per_cpu), Median(ebb_per_cpu),
      Median(cpu_ratios), range(cpu_ratios).c_str());
  std::printf("part 1 wall time: %.1f s\n\n", Seconds(SteadyNs() - part_start));
  return 0;
}

// -----------------------------------------------------------------------------
// 2. Latency

// One paced run at `rate` events/s, `total` events after the warm-up.
int RunLatency(const Options& o, int rate, uint64_t total,
               LatencyFigures* figures) {
  const int64_t part_start = SteadyNs();
  std::unique_ptr<kafka::EmbeddedBroker> mock;
  absl::StatusOr<Target> target =
      MakeTarget(o, absl::StrCat("latency-", rate), &mock);
  if (!target.ok()) {
    std::fprintf(stderr, "kafka_bench: %s\n",
                 target.status().ToString().c_str());
    return 1;
  }
  const std::string& bootstrap = target->bootstrap;
  const Topics& topics = target->topics;
  const int alert_every =
      o.alert_every >= 0 ? o.alert_every : (target->real ? 10 : 0);
  std::printf(
      "== 2. Latency: StreamRunner (record_latency) consuming while a producer "
      "publishes %s events at %s events/s over %d partitions, on %s%s\n",
      Thousands(total).c_str(), Thousands(static_cast<uint64_t>(rate)).c_str(),
      o.partitions, Where(*target).c_str(),
      alert_every > 0
          ? absl::StrCat("; every ", alert_every,
                         "th symbol alternates between two prices, one "
                         "alert per event")
                .c_str()
          : "");
  absl::StatusOr<std::unique_ptr<kafka::Producer>> producer =
      FeedProducer(bootstrap, o.compression, o.latency_linger_ms);
  if (!producer.ok()) {
    std::fprintf(stderr, "kafka_bench: %s\n",
                 producer.status().ToString().c_str());
    return 1;
  }
  const uint64_t priming = static_cast<uint64_t>(o.partitions);
  const uint64_t warm = static_cast<uint64_t>(o.latency_warm_hours) *
                        static_cast<uint64_t>(o.symbols);
  const uint64_t events = priming + warm + total;
  const uint64_t hours = events / static_cast<uint64_t>(o.symbols) + 2;
  const TimeNs start = FloorTo(absl::GetCurrentTimeNanos(), kHour) -
                       static_cast<TimeNs>(hours + 1) * kHour;
  // When each event was handed to Produce(), and when its batch returned to
  // the runner (by partition and offset: the topics are fresh, so the feed's
  // events of partition p are offsets 0, 1, ... in order).
  std::vector<int64_t> sent_ns(events, 0);
  std::vector<std::vector<int64_t>> returned_ns(
      static_cast<size_t>(o.partitions),
      std::vector<int64_t>(events / static_cast<uint64_t>(o.partitions) +
                               static_cast<uint64_t>(o.symbols),
                           0));

  std::atomic<bool> stop{false};
  absl::Status produce_status;
  double produce_seconds = 0;
  double warm_seconds = 0;
  double paced_broker_cpu = -1;
  std::thread publisher([&] {
    Feed feed(o.symbols, o.partitions, start, kHour, 7, alert_every);
    const std::string& topic = topics.prices;
    uint64_t seq = 0;
    auto publish = [&] {
      const Feed::Event e = feed.Next();
      sent_ns[seq++] = SteadyNs();
      produce_status.Update(
          (*producer)->Produce(topic, e.partition, *e.key, *e.value, {}, 0));
    };
    // Priming: one event per partition, until the runner has consumed them.
    for (int p = 0; p < o.partitions; ++p) publish();
    // Waits until the runner has consumed `n` messages in all.
    auto wait_consumed = [&](uint64_t n, const char* what) {
      produce_status.Update((*producer)->Flush(absl::Seconds(60)));
      const int64_t wait_start = SteadyNs();
      while (g_trace.messages.load() < n && produce_status.ok()) {
        if (SteadyNs() - wait_start > 60 * kNanosPerSecond) {
          produce_status = absl::DeadlineExceededError(absl::StrCat(
              "the runner did not consume the ", what, " in 60 s"));
          stop = true;
          return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      return produce_status.ok();
    };
    if (!wait_consumed(priming, "priming events")) return;
    // Warm-up, unpaced, in chunks of at most 50,000 messages per partition.
    const uint64_t chunk = 50'000 * static_cast<uint64_t>(o.partitions);
    const int64_t warm_start = SteadyNs();
    for (uint64_t done = 0; done < warm;) {
      const uint64_t n = std::min(chunk, warm - done);
      for (uint64_t k = 0; k < n; ++k) publish();
      done += n;
      if (!wait_consumed(priming + done, "warm-up")) return;
    }
    warm_seconds = Seconds(SteadyNs() - warm_start);
    // Paced: by each tick, as many events as the rate allows.
    const int64_t tick = static_cast<int64_t>(o.latency_tick_us) * 1000;
    const int64_t t0 = SteadyNs();
    paced_broker_cpu = PidCpuSeconds(o.broker_pid);
    g_trace.split_cpu = true;  // the batch spans of the paced phase only
    uint64_t sent = 0;
    while (sent < total && produce_status.ok()) {
      const int64_t elapsed = SteadyNs() - t0;
      const uint64_t due = std::min<uint64_t>(
          total,
          static_cast<uint64_t>(static_cast<double>(elapsed) * 1e-9 * rate));
      for (; sent < due; ++sent) publish();
      (*producer)->Poll();
      std::this_thread::sleep_until(std::chrono::steady_clock::time_point(
          std::chrono::nanoseconds(t0 + (elapsed / tick + 1) * tick)));
    }
    produce_status.Update((*producer)->Flush(absl::Seconds(60)));
    produce_seconds = Seconds(SteadyNs() - t0);
    if (paced_broker_cpu >= 0) {
      paced_broker_cpu = PidCpuSeconds(o.broker_pid) - paced_broker_cpu;
    }
  });
  // The mock needs fetch.wait.max.ms 0 (header comment); on a real broker
  // the runner keeps its own default unless the flag says otherwise.
  kafka::Properties consumer;
  const std::string fetch_wait = !o.latency_fetch_wait_ms.empty()
                                     ? o.latency_fetch_wait_ms
                                     : (target->real ? "" : "0");
  if (!fetch_wait.empty())
    consumer.emplace_back("fetch.wait.max.ms", fetch_wait);
  consumer.insert(consumer.end(), o.consumer_properties.begin(),
                  o.consumer_properties.end());
  const bool trace_acks = alert_every > 0;
  if (trace_acks) {
    StartAlertAcks(topics.alerts,
                   events / static_cast<uint64_t>(alert_every) + 10'000);
  }
  g_trace.returned_ns = &returned_ns;  // RunRunner's Reset() keeps it
  absl::StatusOr<RunnerResult> ebb =
      RunRunner(bootstrap, absl::StrCat("kb-latency-", rate), events + 1000,
                consumer, o.max_batch, &stop, topics);
  stop = true;
  publisher.join();
  std::vector<AlertAck> acks;
  if (trace_acks) acks = StopAlertAcks();
  g_trace.returned_ns = nullptr;
  if (!produce_status.ok()) {
    std::fprintf(stderr, "kafka_bench: producer: %s\n",
                 produce_status.ToString().c_str());
    return 1;
  }
  if (!ebb.ok()) {
    std::fprintf(stderr, "kafka_bench: runner: %s\n",
                 ebb.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "warm-up: %s events (%d hours x %d symbols) published and consumed in "
      "%.1f s, not measured\n",
      Thousands(warm).c_str(), o.latency_warm_hours, o.symbols, warm_seconds);
  std::printf("published %s events (+%s priming) in %.2f s (%.0f events/s)\n",
              Thousands(total).c_str(), Thousands(priming).c_str(),
              produce_seconds, static_cast<double>(total) / produce_seconds);
  figures->rate = rate;
  figures->achieved_rate = static_cast<double>(total) / produce_seconds;
  // The priming and warm-up events were all consumed before the first paced
  // one was published, so they are the first samples.
  const size_t unmeasured = static_cast<size_t>(priming + warm);
  auto drop_unmeasured = [&](auto* samples) {
    samples->erase(samples->begin(),
                   samples->begin() + static_cast<std::ptrdiff_t>(std::min(
                                          samples->size(), unmeasured)));
  };
  drop_unmeasured(&ebb->latencies);
  drop_unmeasured(&ebb->service_times);
  const size_t latency_samples = ebb->latencies.size();
  figures->ebb_part = QuantilesOf(std::move(ebb->latencies), 1e-3);
  std::printf(
      "latencies() (consume return -> outputs handed to the producer), paced "
      "events: %s\n",
      Describe(figures->ebb_part).c_str());
  figures->service = QuantilesOf(std::move(ebb->service_times), 1e-3);
  std::printf(
      "service_times() (start of the message's own processing -> its outputs "
      "handed to the producer): %s\n",
      Describe(figures->service).c_str());
  // produce() -> batch returned, every paced event (offsets as above).
  std::vector<int64_t> to_ebb;
  to_ebb.reserve(total);
  std::vector<size_t> next_offset(static_cast<size_t>(o.partitions), 0);
  uint64_t missing = 0;
  for (size_t k = 0; k < events; ++k) {
    const size_t p = (k % static_cast<size_t>(o.symbols)) %
                     static_cast<size_t>(o.partitions);
    const size_t offset = next_offset[p]++;
    if (k < unmeasured) continue;
    const int64_t returned =
        offset < returned_ns[p].size() ? returned_ns[p][offset] : 0;
    if (returned == 0) {
      ++missing;
      continue;
    }
    to_ebb.push_back(returned - sent_ns[k]);
  }
  figures->to_ebb = QuantilesOf(std::move(to_ebb), 1e-3);
  std::printf(
      "produce() call -> its batch returned to the runner, paced events: "
      "%s%s\n",
      Describe(figures->to_ebb).c_str(),
      missing > 0 ? absl::StrCat(" (", missing, " not seen)").c_str() : "");
  if (trace_acks) {
    AlertLatencies(sent_ns, returned_ns, acks, o.symbols, o.partitions,
                   unmeasured, figures);
    std::printf(
        "produce() call of the price event -> delivery report of its alert "
        "served in ebb's producer, paced events: %s%s\n",
        Describe(figures->alert_acked).c_str(),
        figures->unmatched > 0
            ? absl::StrCat(" (", figures->unmatched,
                           " reports matched no paced event)")
                  .c_str()
            : "");
    std::printf("  of which produce() -> batch returned: %s\n",
                Describe(figures->alert_to_ebb).c_str());
    std::printf("  and batch returned -> delivery report: %s\n",
                Describe(figures->alert_in_ebb).c_str());
  }
  const BatchTrace::Spans& all = ebb->all_spans;
  const BatchTrace::Spans& slow = ebb->slow_spans;
  if (all.wall_ns > 0 && slow.wall_ns > 0) {
    figures->slow_batch_share =
        static_cast<double>(slow.wall_ns) / static_cast<double>(all.wall_ns);
    figures->slow_off_cpu = 1.0 - static_cast<double>(slow.cpu_ns) /
                                      static_cast<double>(slow.wall_ns);
  }
  std::printf(
      "batch processing (batch returned -> next consume call), paced phase: "
      "%s "
      "batches, %.3f s wall, %.3f s consuming-thread CPU; those over 1 ms: %s "
      "batches, %.3f s wall, %.3f s CPU (%.0f %% of their wall time off the "
      "CPU); the thread's context switches in Run(): %lld voluntary, %lld "
      "involuntary\n",
      Thousands(all.batches).c_str(), Seconds(all.wall_ns), Seconds(all.cpu_ns),
      Thousands(slow.batches).c_str(), Seconds(slow.wall_ns),
      Seconds(slow.cpu_ns), 100 * figures->slow_off_cpu,
      static_cast<long long>(ebb->voluntary_switches),
      static_cast<long long>(ebb->involuntary_switches));
  if (paced_broker_cpu >= 0 && produce_seconds > 0) {
    figures->broker_cpu_per_s = paced_broker_cpu / produce_seconds;
    std::printf(
        "broker process CPU during the paced phase: %.2f s in %.2f s "
        "(%.2f CPUs)\n",
        paced_broker_cpu, produce_seconds, figures->broker_cpu_per_s);
  }
  const kafka::StreamStats& s = ebb->stats;
  std::printf(
      "runner: %s consumed in %s batches (mean %.0f per batch), applied %s, "
      "rejected %s, alerts %s, commits %s, stale %s, kafka errors %s; longest "
      "batch turnaround %.1f ms (%s msgs); Run() %.2f s (join %.2f s)\n",
      Thousands(s.consumed).c_str(), Thousands(ebb->batches).c_str(),
      ebb->batches > 0
          ? static_cast<double>(s.consumed) / static_cast<double>(ebb->batches)
          : 0.0,
      Thousands(s.pipeline.applied).c_str(),
      Thousands(s.pipeline.total_rejected()).c_str(),
      Thousands(s.alerts_produced).c_str(), Thousands(s.commits).c_str(),
      Thousands(s.stale).c_str(), Thousands(s.kafka_errors).c_str(),
      ebb->max_turnaround_ms, Thousands(ebb->max_turnaround_batch).c_str(),
      ebb->run, ebb->join);
  std::printf("in Run(): rd_kafka_flush %s; rd_kafka_commit %s\n",
              ebb->flush.Describe().c_str(), ebb->commit.Describe().c_str());
  if (s.consumed != events || latency_samples != total) {
    std::printf(
        "PROBLEM: %s published, %s consumed, %s paced latency samples\n",
        Thousands(events).c_str(), Thousands(s.consumed).c_str(),
        Thousands(latency_samples).c_str());
  }
  std::printf("part 2 wall time: %.1f s\n\n", Seconds(SteadyNs() - part_start));
  std::fflush(stdout);
  return 0;
}

// -----------------------------------------------------------------------------
// 3. Memory

class NullOutput : public Output {
 public:
  void OnAlert(const ebb::v1::Alert&) override { ++alerts; }
  void OnDeadLetter(const DeadLetterView&) override { ++dead_letters; }
  uint64_t alerts = 0;
  uint64_t dead_letters = 0;
};

int RunMemory(bool minute, bool quick) {
  const int64_t rss_start = ProcStatusKb("VmRSS");
  const int64_t part_start = SteadyNs();
  const int symbols = minute ? 1'000 : 10'000;
  const TimeNs step = minute ? kNanosPerMinute : kHour;
  const int days = minute && quick ? 7 : 30;
  const int64_t steps = days * (minute ? 1'440 : 24);
  const uint64_t events =
      static_cast<uint64_t>(steps) * static_cast<uint64_t>(symbols);
  std::printf(
      "== 3. Memory (%s): %s symbols, \"%s\" buckets, 30-day window, one event "
      "per symbol per %s for %d days = %s events (Pipeline::OnPrice, no-op "
      "Output)%s\n",
      minute ? "minute" : "hourly",
      Thousands(static_cast<uint64_t>(symbols)).c_str(), minute ? "1m" : "1h",
      minute ? "minute" : "hour", days, Thousands(events).c_str(),
      quick ? " [--quick: 7 days instead of 30; the windows are NOT full]"
            : "");
  ebb::v1::EbbConfig proto = DefaultConfig();
  proto.mutable_window()->set_resolution(minute ? "1m" : "1h");
  absl::StatusOr<EngineConfig> config = CompileConfig(proto);
  if (!config.ok()) {
    std::fprintf(stderr, "kafka_bench: %s\n",
                 config.status().ToString().c_str());
    return 1;
  }
  const TimeNs start = 1'735'689'600 * kNanosPerSecond;  // 2025-01-01
  FakeClock clock(start + steps * step);
  NullOutput output;
  absl::StatusOr<std::unique_ptr<Pipeline>> made =
      Pipeline::Create(*std::move(config), &clock, &output);
  if (!made.ok()) {
    std::fprintf(stderr, "kafka_bench: %s\n", made.status().ToString().c_str());
    return 1;
  }
  Pipeline& pipeline = **made;
  Origin origin;
  origin.source = pipeline.RegisterSource("memory");
  std::vector<std::string> names;
  std::vector<double> prices;
  std::mt19937_64 rng(42);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> log_price(std::log(5.0),
                                                   std::log(500.0));
  for (int i = 0; i < symbols; ++i) {
    char name[16];
    std::snprintf(name, sizeof(name), "SYM%05d", i);
    names.push_back(name);
    prices.push_back(std::exp(log_price(rng)));
  }
  // Per-event log-volatility: 0.6 % per hour, scaled to the step.
  const double sigma =
      0.006 * std::sqrt(static_cast<double>(step) / static_cast<double>(kHour));
  const int64_t rss_before = ProcStatusKb("VmRSS");
  const int64_t feed_start = SteadyNs();
  for (int64_t k = 0; k < steps; ++k) {
    const TimeNs t = start + k * step;
    for (int i = 0; i < symbols; ++i) {
      const size_t s = static_cast<size_t>(i);
      prices[s] *= std::exp(sigma * normal(rng));
      pipeline.OnPrice(names[s], t, prices[s], origin, {});
    }
  }
  const double feed_seconds = Seconds(SteadyNs() - feed_start);
  const int64_t rss_after = ProcStatusKb("VmRSS");
  const int64_t hwm = ProcStatusKb("VmHWM");
  const size_t window_bytes = pipeline.WindowMemoryBytes();
  const size_t entries = pipeline.WindowEntries();
  const PipelineStats& st = pipeline.stats();
  const double mib = 1024.0 * 1024.0;
  const double delta_bytes = static_cast<double>(rss_after - rss_before) * 1024;
  std::printf(
      "fed in %.1f s (%.2f M events/s); applied %s, rejected %s, "
      "alerts %s, symbols %s\n",
      feed_seconds, static_cast<double>(events) / feed_seconds / 1e6,
      Thousands(st.applied).c_str(), Thousands(st.total_rejected()).c_str(),
      Thousands(output.alerts).c_str(), Thousands(st.symbols).c_str());
  std::printf(
      "VmRSS: at start %.1f MiB, before feeding %.1f MiB, after %.1f MiB, "
      "delta %.1f MiB (VmHWM %.1f MiB)\n",
      static_cast<double>(rss_start) / 1024,
      static_cast<double>(rss_before) / 1024,
      static_cast<double>(rss_after) / 1024, delta_bytes / mib,
      static_cast<double>(hwm) / 1024);
  std::printf(
      "WindowMemoryBytes() %.1f MiB, %s window entries (%.1f bytes/entry); "
      "RSS delta / WindowMemoryBytes() = %.3f\n",
      static_cast<double>(window_bytes) / mib, Thousands(entries).c_str(),
      entries > 0
          ? static_cast<double>(window_bytes) / static_cast<double>(entries)
          : 0.0,
      window_bytes > 0 ? delta_bytes / static_cast<double>(window_bytes) : 0.0);
  std::printf(
      "per symbol: RSS delta %.1f KiB, WindowMemoryBytes() %.1f KiB, %.0f "
      "entries\n",
      delta_bytes / 1024 / symbols,
      static_cast<double>(window_bytes) / 1024 / symbols,
      static_cast<double>(entries) / symbols);
  std::printf("part 3 (%s) wall time: %.1f s\n", minute ? "minute" : "hourly",
              Seconds(SteadyNs() - part_start));
  return 0;
}

// -----------------------------------------------------------------------------

constexpr char kUsage[] =
    R"(usage: ebb_kafka_bench [throughput] [latency] [--brokers=HOST:PORT]
                       [--broker-pid=PID] [--latency-rates=10000,100000]
                       [--latency-seconds=10] [--latency-runs=3]
                       [--alert-every=N] [--runs=3] [--partitions=8]
                       [--per-partition=80000] [--symbols=2000]
                       [--compression=lz4|none|snappy|zstd|gzip]
                       [--latency-rate=100000] [--latency-events=500000]
                       [--latency-warm-hours=900] [--latency-tick-us=1000]
                       [--latency-linger-ms=1] [--latency-fetch-wait-ms=0]
                       [--max-batch=10000] [--consumer-property=KEY=VALUE ...]
                       [--producer-property=KEY=VALUE ...]
                       [--trace] [--pin-consumer] [--exactly-once]
       ebb_kafka_bench memory-hourly
       ebb_kafka_bench memory-minute [--quick]
With no mode: throughput, then latency. Run each memory mode in a process of its own.
--brokers: on that real broker (fresh topics, retention.ms=-1); its latency runs use
--latency-rates/--latency-seconds/--latency-runs, the mock's --latency-rate/--latency-events.
)";

bool ParseIntFlag(absl::string_view arg, absl::string_view name, int* out) {
  const std::string prefix = absl::StrCat("--", name, "=");
  if (!absl::StartsWith(arg, prefix)) return false;
  int value = 0;
  if (!absl::SimpleAtoi(arg.substr(prefix.size()), &value) || value < 1) {
    std::fprintf(stderr, "kafka_bench: %s: expected a positive number\n",
                 std::string(arg).c_str());
    std::exit(2);
  }
  *out = value;
  return true;
}

int Main(int argc, char** argv) {
  Options o;
  bool throughput = false, latency = false, memory_hourly = false,
       memory_minute = false, quick = false;
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "throughput") {
      throughput = true;
    } else if (arg == "latency") {
      latency = true;
    } else if (arg == "memory-hourly") {
      memory_hourly = true;
    } else if (arg == "memory-minute") {
      memory_minute = true;
    } else if (arg == "--trace") {
      g_trace.print = true;
    } else if (arg == "--quick") {
      quick = true;
    } else if (absl::StartsWith(arg, "--consumer-property=")) {
      const absl::string_view kv = arg.substr(strlen("--consumer-property="));
      const size_t eq = kv.find('=');
      if (eq == absl::string_view::npos || eq == 0) {
        std::fprintf(stderr, "kafka_bench: %s: expected KEY=VALUE\n", argv[i]);
        return 2;
      }
      o.consumer_properties.emplace_back(std::string(kv.substr(0, eq)),
                                         std::string(kv.substr(eq + 1)));
    } else if (absl::StartsWith(arg, "--producer-property=")) {
      const absl::string_view kv = arg.substr(strlen("--producer-property="));
      const size_t eq = kv.find('=');
      if (eq == absl::string_view::npos || eq == 0) {
        std::fprintf(stderr, "kafka_bench: %s: expected KEY=VALUE\n", argv[i]);
        return 2;
      }
      o.producer_properties.emplace_back(std::string(kv.substr(0, eq)),
                                         std::string(kv.substr(eq + 1)));
    } else if (absl::StartsWith(arg, "--brokers=")) {
      o.brokers = std::string(arg.substr(strlen("--brokers=")));
    } else if (absl::StartsWith(arg, "--latency-rates=")) {
      o.latency_rates.clear();
      for (absl::string_view part :
           absl::StrSplit(arg.substr(strlen("--latency-rates=")), ',')) {
        int rate = 0;
        if (!absl::SimpleAtoi(part, &rate) || rate < 1) {
          std::fprintf(stderr,
                       "kafka_bench: %s: expected positive numbers separated "
                       "by commas\n",
                       argv[i]);
          return 2;
        }
        o.latency_rates.push_back(rate);
      }
    } else if (absl::StartsWith(arg, "--alert-every=")) {
      if (!absl::SimpleAtoi(arg.substr(strlen("--alert-every=")),
                            &o.alert_every) ||
          o.alert_every < 0) {
        std::fprintf(stderr, "kafka_bench: %s: expected a number >= 0\n",
                     argv[i]);
        return 2;
      }
    } else if (absl::StartsWith(arg, "--compression=")) {
      o.compression = std::string(arg.substr(strlen("--compression=")));
    } else if (ParseIntFlag(arg, "runs", &o.runs) ||
               ParseIntFlag(arg, "partitions", &o.partitions) ||
               ParseIntFlag(arg, "per-partition", &o.per_partition) ||
               ParseIntFlag(arg, "symbols", &o.symbols) ||
               ParseIntFlag(arg, "max-batch", &o.max_batch) ||
               ParseIntFlag(arg, "latency-rate", &o.latency_rate) ||
               ParseIntFlag(arg, "latency-events", &o.latency_events) ||
               ParseIntFlag(arg, "latency-warm-hours", &o.latency_warm_hours) ||
               ParseIntFlag(arg, "latency-tick-us", &o.latency_tick_us) ||
               ParseIntFlag(arg, "latency-seconds", &o.latency_seconds) ||
               ParseIntFlag(arg, "latency-runs", &o.latency_runs) ||
               ParseIntFlag(arg, "broker-pid", &o.broker_pid)) {
    } else if (absl::StartsWith(arg, "--latency-linger-ms=")) {
      o.latency_linger_ms =
          std::string(arg.substr(strlen("--latency-linger-ms=")));
    } else if (absl::StartsWith(arg, "--latency-fetch-wait-ms=")) {
      o.latency_fetch_wait_ms =
          std::string(arg.substr(strlen("--latency-fetch-wait-ms=")));
    } else if (arg == "--pin-consumer") {
      g_pin_consumer = true;
    } else if (arg == "--exactly-once") {
      g_exactly_once = true;
    } else if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "kafka_bench: unknown argument: %s\n\n", argv[i]);
      std::fputs(kUsage, stderr);
      return 2;
    }
  }
  const int memory_modes = (memory_hourly ? 1 : 0) + (memory_minute ? 1 : 0);
  if (memory_modes > 1 || (memory_modes == 1 && (throughput || latency)) ||
      (quick && !memory_minute)) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (memory_hourly) return RunMemory(false, false);
  if (memory_minute) return RunMemory(true, quick);
  if (!throughput && !latency) throughput = latency = true;
  g_broker_pid = o.broker_pid;
  g_producer_properties = o.producer_properties;
  if (g_pin_consumer) {
    if (sched_getaffinity(0, sizeof(g_allowed_cpus), &g_allowed_cpus) != 0) {
      std::fprintf(stderr, "kafka_bench: sched_getaffinity failed\n");
      return 2;
    }
    PinCurrentThread(/*consumer=*/false);
  }
  std::printf("ebb kafka bench: librdkafka %s, %u CPUs\n\n",
              rd_kafka_version_str(), std::thread::hardware_concurrency());
  if (throughput && RunThroughput(o) != 0) return 1;
  if (!latency) return 0;
  if (o.brokers.empty()) {
    LatencyFigures figures;
    return RunLatency(o, o.latency_rate,
                      static_cast<uint64_t>(o.latency_events), &figures);
  }
  // A real broker: the rates interleaved, --latency-runs times.
  std::vector<LatencyFigures> runs;
  for (int run = 1; run <= o.latency_runs; ++run) {
    for (int rate : o.latency_rates) {
      std::printf("-- latency run %d of %d at %s events/s\n", run,
                  o.latency_runs,
                  Thousands(static_cast<uint64_t>(rate)).c_str());
      LatencyFigures figures;
      const uint64_t total = static_cast<uint64_t>(rate) *
                             static_cast<uint64_t>(o.latency_seconds);
      if (RunLatency(o, rate, total, &figures) != 0) return 1;
      runs.push_back(figures);
    }
  }
  PrintLatencySummary(runs);
  return 0;
}

}  // namespace
}  // namespace bench
}  // namespace ebb

int main(int argc, char** argv) { return ebb::bench::Main(argc, argv); }
