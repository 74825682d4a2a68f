#pragma once

// What ebb_kafka_bench's modes share: the feed, the bare consumer, the runner
// under measurement, and the trace that the interposed librdkafka calls fill
// (kafka_bench.cc). See kafka_bench.cc's header comment for what is measured.

#include <dlfcn.h>
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/time_util.h"
#include "connectors/kafka/kafka_client.h"
#include "connectors/kafka/stream_runner.h"
#include "ebb/v1/events.pb.h"
#include "engine/config.h"

namespace ebb {
namespace bench {

int64_t SteadyNs();
double Seconds(int64_t ns);
// 1234567 -> "1,234,567".
std::string Thousands(uint64_t n);
double Median(std::vector<double> v);
// CPU time of the calling thread.
int64_t ThreadCpuNs();
// CPU seconds (user + system) of this process, this thread, and process
// `pid` (from /proc; -1 when unreadable). kafka_bench_real.cc.
double ProcessCpuSeconds();
double ThreadCpuSeconds();
double PidCpuSeconds(int pid);

// Nearest-rank percentile of sorted values.
template <typename T>
T Percentile(const std::vector<T>& sorted, double q) {
  if (sorted.empty()) return T{};
  const double rank = std::ceil(q * static_cast<double>(sorted.size()));
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

// Calls of one interposed function while a trace is active.
struct CallTimes {
  uint64_t calls = 0;
  int64_t total_ns = 0;
  int64_t max_ns = 0;
  void Add(int64_t ns) {
    ++calls;
    total_ns += ns;
    max_ns = std::max(max_ns, ns);
  }
  std::string Describe() const {
    char out[96];
    std::snprintf(out, sizeof(out), "%llu, %.0f ms in all, max %.1f ms",
                  static_cast<unsigned long long>(calls),
                  static_cast<double>(total_ns) / 1e6,
                  static_cast<double>(max_ns) / 1e6);
    return out;
  }
};

// The next definition of a librdkafka function (librdkafka's own).
template <typename Fn>
Fn NextSymbol(const char* name) {
  void* symbol = dlsym(RTLD_NEXT, name);
  if (symbol == nullptr) {
    std::fprintf(stderr, "kafka_bench: %s: %s\n", name, dlerror());
    std::abort();
  }
  Fn fn;
  std::memcpy(&fn, &symbol, sizeof(fn));
  return fn;
}

// -----------------------------------------------------------------------------
// What the interposed rd_kafka_consume_batch_queue saw. Written by the one
// consuming thread; `messages` and `first_return_ns` are also read by the
// latency test's producer thread.

struct BatchTrace {
  std::atomic<bool> active{false};
  std::atomic<uint64_t> messages{0};  // err == 0 only
  std::atomic<int64_t> first_return_ns{0};
  uint64_t first_batch = 0;  // messages in the first non-empty batch
  uint64_t batches = 0;      // non-empty batches
  uint64_t errors = 0;       // error events among the returned elements
  bool open = false;         // a non-empty batch is being processed
  int64_t open_since_ns = 0;
  uint64_t open_count = 0;
  int64_t end_ns = 0;  // when processing of the latest non-empty batch ended
  int64_t max_turnaround_ns = 0;  // longest batch return -> next call
  uint64_t max_turnaround_batch = 0;
  // Optional (split_cpu): the wall and consuming-thread CPU time of every
  // batch's processing (batch returned -> next consume call), and of those
  // that took over 1 ms of wall time.
  struct Spans {
    uint64_t batches = 0;
    int64_t wall_ns = 0;
    int64_t cpu_ns = 0;
  };
  // Optional: a process (the broker) whose CPU time is read at the first
  // batch's return and at the end of each batch's processing.
  int watch_pid = 0;
  double watch_cpu_first = -1, watch_cpu_end = -1;
  std::atomic<bool> split_cpu{false};  // may be set while the trace runs
  bool open_split = false;             // split_cpu when the batch returned
  int64_t open_cpu_ns = 0;
  Spans all_spans, slow_spans;
  // Optional: when each message's batch returned (SteadyNs), by partition
  // and offset; the caller sizes it, messages beyond are not recorded. Not
  // cleared by Reset().
  std::vector<std::vector<int64_t>>* returned_ns = nullptr;
  // Blocking calls the runner makes between batches (interposed too).
  CallTimes flush, commit;
  bool print = false;  // --trace: every batch and consume call on stderr

  void Reset() {
    active = false;
    messages = 0;
    first_return_ns = 0;
    first_batch = batches = errors = 0;
    open = false;
    open_since_ns = 0;
    open_count = 0;
    end_ns = 0;
    max_turnaround_ns = 0;
    max_turnaround_batch = 0;
    watch_cpu_first = watch_cpu_end = -1;
    split_cpu = false;
    open_split = false;
    all_spans = slow_spans = Spans();

    flush = CallTimes();
    commit = CallTimes();
  }

  // A consume call begins (or, at the end, processing is over).
  void Close(int64_t now) {
    if (print && open) {
      std::fprintf(stderr,
                   "kafka_bench: trace: batch of %llu processed in %.1f ms\n",
                   static_cast<unsigned long long>(open_count),
                   static_cast<double>(now - open_since_ns) / 1e6);
    }
    if (!open) return;
    open = false;
    end_ns = now;
    if (watch_pid > 0) watch_cpu_end = PidCpuSeconds(watch_pid);
    if (open_split) {
      const Spans span{1, now - open_since_ns, ThreadCpuNs() - open_cpu_ns};
      for (Spans* s : {&all_spans, &slow_spans}) {
        if (s == &slow_spans && span.wall_ns <= 1'000'000) continue;
        s->batches += 1;
        s->wall_ns += span.wall_ns;
        s->cpu_ns += span.cpu_ns;
      }
    }
    if (now - open_since_ns > max_turnaround_ns) {
      max_turnaround_ns = now - open_since_ns;
      max_turnaround_batch = open_count;
    }
  }

  void OnBatch(int64_t now, rd_kafka_message_t** batch, size_t n) {
    uint64_t good = 0;
    for (size_t i = 0; i < n; ++i) {
      if (batch[i]->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++good;
      } else {
        ++errors;
      }
    }
    if (good == 0) return;
    if (returned_ns != nullptr) {
      for (size_t i = 0; i < n; ++i) {
        const rd_kafka_message_t* m = batch[i];
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR || m->partition < 0 ||
            static_cast<size_t>(m->partition) >= returned_ns->size()) {
          continue;
        }
        std::vector<int64_t>& part = (*returned_ns)[m->partition];
        if (m->offset >= 0 && static_cast<size_t>(m->offset) < part.size()) {
          part[static_cast<size_t>(m->offset)] = now;
        }
      }
    }
    if (first_return_ns.load() == 0) {
      if (watch_pid > 0) watch_cpu_first = PidCpuSeconds(watch_pid);
      first_batch = good;
      first_return_ns = now;
    }
    ++batches;
    open_split = split_cpu.load(std::memory_order_relaxed);
    if (open_split) open_cpu_ns = ThreadCpuNs();
    open = true;
    open_since_ns = now;
    open_count = good;
    messages.fetch_add(good);
  }

  // Messages after the first batch per second, from the first batch's return
  // to the end of processing the last one.
  double Rate() const {
    const int64_t span = end_ns - first_return_ns.load();
    if (span <= 0 || messages.load() <= first_batch) return 0;
    return static_cast<double>(messages.load() - first_batch) / Seconds(span);
  }
};

extern BatchTrace g_trace;

constexpr char kTopic[] = "ebb.prices";
constexpr TimeNs kHour = 3600 * kNanosPerSecond;

// The topics of one measurement (the embedded broker's, or fresh ones on a
// real broker).
struct Topics {
  std::string prices = kTopic;
  std::string alerts = "ebb.alerts";
  std::string dlq = "ebb.dlq";
};

// -----------------------------------------------------------------------------
// The feed: `symbols` instruments, one event each per step, time-major.
// Symbol i is "SYMiiii" and the k-th event (from 0) is symbol k % symbols at
// start + (k / symbols) * step. With alert_every > 0, every alert_every-th
// symbol (i % alert_every == 0) does not walk: its price is its first price
// at even steps and 12 % below it at odd steps, so that with the default
// rules (levels 10/15/20 %, re-arm 2 %) each of its events after the first
// makes exactly one alert (OPENED at 10 %, then RESOLVED, and so on).

class Feed {
 public:
  Feed(int symbols, int partitions, TimeNs start, TimeNs step, uint64_t seed,
       int alert_every = 0)
      : partitions_(partitions),
        alert_every_(alert_every),
        step_(step),
        time_(start),
        rng_(seed) {
    std::uniform_real_distribution<double> log_price(std::log(5.0),
                                                     std::log(500.0));
    for (int i = 0; i < symbols; ++i) {
      char name[16];
      std::snprintf(name, sizeof(name), "SYM%04d", i);
      symbols_.push_back(name);
      prices_.push_back(std::exp(log_price(rng_)));
    }
    first_prices_ = prices_;
    event_.set_venue("xnas");
  }

  // The next event: its partition, key, serialized value and time (ms).
  struct Event {
    int32_t partition;
    const std::string* key;
    const std::string* value;
    int64_t time_ms;
  };
  Event Next() {
    const size_t i = next_symbol_;
    prices_[i] *= std::exp(kSigma * normal_(rng_));
    event_.set_symbol(symbols_[i]);
    ToTimestamp(time_, event_.mutable_event_time());
    const bool flapping =
        alert_every_ > 0 && i % static_cast<size_t>(alert_every_) == 0;
    event_.set_price(flapping ? first_prices_[i] *
                                    (step_index_ % 2 == 1 ? kFlapLow : 1.0)
                              : prices_[i]);
    event_.set_volume(std::floor(std::exp(8.0 + normal_(rng_))));
    char id[24];
    std::snprintf(id, sizeof(id), "%s-%06lld", symbols_[i].c_str(),
                  static_cast<long long>(step_index_));
    event_.set_event_id(id);
    value_.clear();
    event_.SerializeToString(&value_);
    const Event out{static_cast<int32_t>(i % static_cast<size_t>(partitions_)),
                    &symbols_[i], &value_, time_ / 1'000'000};
    if (++next_symbol_ == symbols_.size()) {
      next_symbol_ = 0;
      time_ += step_;
      ++step_index_;
    }
    return out;
  }

 private:
  static constexpr double kSigma = 0.006;  // log-volatility per hour
  static constexpr double kFlapLow = 0.88;
  int partitions_;
  int alert_every_;
  TimeNs step_;
  TimeNs time_;
  int64_t step_index_ = 0;
  size_t next_symbol_ = 0;
  std::mt19937_64 rng_;
  std::normal_distribution<double> normal_;
  std::vector<std::string> symbols_;
  std::vector<double> prices_;
  std::vector<double> first_prices_;
  ebb::v1::PriceEvent event_;
  std::string value_;
};

// --pin-consumer (kafka_bench.cc's header): moves the calling thread to the
// last allowed CPU (consumer) or to all the other allowed ones.
extern bool g_pin_consumer;
// --broker-pid, or 0.
extern int g_broker_pid;
// --producer-property: the runner's StreamOptions::producer_properties.
extern kafka::Properties g_producer_properties;
void PinCurrentThread(bool consumer);

struct Options {
  int runs = 3;
  int partitions = 8;
  int per_partition = 80'000;
  int symbols = 2'000;
  std::string compression = "lz4";
  int latency_rate = 100'000;
  int latency_events = 500'000;
  int latency_warm_hours = 900;
  int latency_tick_us = 1000;
  std::string latency_linger_ms = "1";
  std::string latency_fetch_wait_ms;      // empty: 0 on the mock, ebb's own on
                                          // a real broker
  kafka::Properties consumer_properties;  // --consumer-property, both consumers
  int max_batch = 10'000;                 // both consumers
  kafka::Properties producer_properties;  // --producer-property: ebb's
  // Real broker (kafka_bench_real.cc): --brokers, --broker-pid (its CPU is
  // read from /proc), --latency-rates, --latency-seconds, --latency-runs.
  std::string brokers;  // empty: the embedded broker
  int broker_pid = 0;
  std::vector<int> latency_rates = {10'000, 100'000};
  int latency_seconds = 10;
  int latency_runs = 3;
  int alert_every = -1;  // -1: 10 on a real broker, 0 (no alerts) on the mock
};

absl::StatusOr<EngineConfig> HourlyEngine();

// Where one measurement runs.
struct Target {
  std::string bootstrap;
  Topics topics;
  bool real = false;  // a real broker (--brokers), else the embedded one
};

// kafka_bench_real.cc.
// Creates PREFIX.prices (`partitions`), PREFIX.alerts and PREFIX.dlq (one
// each) on the brokers, all with retention.ms=-1 (the feeds' event times, as
// message timestamps, may lie beyond the broker's default retention).
absl::StatusOr<Topics> CreateTopics(const std::string& brokers,
                                    const std::string& prefix, int partitions);
// A name prefix of topics no earlier run of this process or another used.
std::string FreshPrefix(const std::string& what);

// Delivery reports of alerts as ebb's producer serves them (in rd_kafka_poll
// or rd_kafka_flush on the runner's thread): rd_kafka_conf_set_dr_msg_cb is
// interposed, and while active, every successful report of a message on
// `alerts_topic` is recorded with the time (SteadyNs) and the alert's bytes.
struct AlertAck {
  int64_t ns = 0;
  std::string value;
};
void StartAlertAcks(const std::string& alerts_topic, size_t capacity);
std::vector<AlertAck> StopAlertAcks();

// The latency figures of one paced run (kafka_bench.cc prints them as they
// come; kafka_bench_real.cc sums runs up). Microseconds.
struct Quantiles {
  uint64_t count = 0;
  double p50 = 0, p99 = 0, p999 = 0, max = 0;
};
template <typename T>
Quantiles QuantilesOf(std::vector<T> samples, double to_us) {
  Quantiles q;
  std::sort(samples.begin(), samples.end());
  q.count = samples.size();
  q.p50 = static_cast<double>(Percentile(samples, 0.5)) * to_us;
  q.p99 = static_cast<double>(Percentile(samples, 0.99)) * to_us;
  q.p999 = static_cast<double>(Percentile(samples, 0.999)) * to_us;
  q.max = samples.empty() ? 0 : static_cast<double>(samples.back()) * to_us;
  return q;
}
struct LatencyFigures {
  int rate = 0;
  Quantiles ebb_part;            // latencies(): batch returned -> handed over
  Quantiles service;             // service_times()
  double slow_batch_share = 0;   // of the batches' wall time: those over 1 ms
  double slow_off_cpu = 0;       // of those batches' wall time: off the CPU
  double broker_cpu_per_s = -1;  // broker CPU seconds per paced second
  Quantiles to_ebb;        // produce() -> batch returned, every paced event
  Quantiles alert_acked;   // produce() -> alert's delivery report
  Quantiles alert_to_ebb;  // the same alerts: produce() -> batch returned
  Quantiles alert_in_ebb;  // the same alerts: batch returned -> report
  double achieved_rate = 0;
  uint64_t unmatched = 0;  // alert reports that match no paced event
};

// What a paced run recorded, for the alerts' end-to-end latencies: the
// feed's k-th event was handed to produce() at sent_ns[k]; returned_ns is
// BatchTrace::returned_ns (partition, offset); events [first, sent_ns.size())
// were paced. Fills the alert_* figures.
void AlertLatencies(const std::vector<int64_t>& sent_ns,
                    const std::vector<std::vector<int64_t>>& returned_ns,
                    const std::vector<AlertAck>& acks, int symbols,
                    int partitions, size_t first, LatencyFigures* figures);
std::string Describe(const Quantiles& q);
// Per rate: each figure's range and median over the runs.
void PrintLatencySummary(const std::vector<LatencyFigures>& runs);

absl::StatusOr<std::unique_ptr<kafka::Producer>> FeedProducer(
    const std::string& bootstrap, const std::string& compression,
    const std::string& linger_ms);

struct ConsumeResult {
  uint64_t messages = 0;
  double rate = 0;  // BatchTrace::Rate()
  double seconds = 0;
  uint64_t first_batch = 0;
  uint64_t batches = 0;
  double wall = 0;        // from rd_kafka_new to close
  double thread_cpu = 0;  // CPU of the consuming loop's thread
};

absl::StatusOr<ConsumeResult> BareConsume(const std::string& bootstrap,
                                          int partitions, uint64_t expected,
                                          const std::string& group,
                                          const kafka::Properties& extra,
                                          size_t max_batch,
                                          const Topics& topics = Topics());

struct RunnerResult {
  kafka::StreamStats stats;
  double rate = 0;     // BatchTrace::Rate()
  double seconds = 0;  // first batch return -> end of the last batch
  double run = 0;      // Run() as a whole
  double join = 0;     // Run() start -> first batch return
  double tail = 0;     // end of the last batch -> Run() returned
  uint64_t first_batch = 0;
  uint64_t batches = 0;
  double max_turnaround_ms = 0;
  uint64_t max_turnaround_batch = 0;
  CallTimes flush, commit;  // during Run()
  std::vector<uint32_t> latencies;
  std::vector<uint32_t> service_times;
  BatchTrace::Spans all_spans, slow_spans;  // with split_cpu
  // Broker CPU seconds (BatchTrace::watch_pid) from Run()'s start to the
  // first batch, from there to the end of the last batch, and after it.
  double broker_join = -1, broker_processing = -1, broker_tail = -1;
  // Context switches of the thread that ran Run(), during Run().
  int64_t voluntary_switches = 0, involuntary_switches = 0;
};

// latency_samples: 0, or record per-message latency with room made for that
// many samples before Run() starts.
absl::StatusOr<RunnerResult> RunRunner(
    const std::string& bootstrap, const std::string& group,
    size_t latency_samples, const kafka::Properties& extra, int max_batch,
    const std::atomic<bool>* stop, const Topics& topics = Topics());

}  // namespace bench
}  // namespace ebb
