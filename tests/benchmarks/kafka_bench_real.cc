// ebb_kafka_bench on a real broker (--brokers=HOST:PORT): fresh topics per
// measurement, CPU accounting, and the delivery reports of ebb's alerts, for
// the end-to-end latency "produce -> alert acknowledged". kafka_bench.cc's
// header comment says what each figure means.

#include <librdkafka/rdkafka.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "base/time_util.h"
#include "connectors/kafka/kafka_client.h"
#include "ebb/v1/alert.pb.h"
#include "tests/benchmarks/kafka_bench.h"

namespace ebb {
namespace bench {
namespace {

// Sends one admin request and waits for its result (60 s at most).
absl::Status CreateTopicsRequest(const std::string& brokers,
                                 const std::vector<std::string>& names,
                                 const std::vector<int>& partitions) {
  absl::StatusOr<kafka::ConfPtr> conf =
      kafka::MakeConf({{"bootstrap.servers", brokers}});
  if (!conf.ok()) return conf.status();
  char errstr[512];
  kafka::HandlePtr rk(
      rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), errstr, sizeof(errstr)));
  if (rk == nullptr) return absl::InternalError(errstr);
  (void)conf->release();
  std::vector<rd_kafka_NewTopic_t*> topics;
  for (size_t i = 0; i < names.size(); ++i) {
    rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(
        names[i].c_str(), partitions[i], 1, errstr, sizeof(errstr));
    if (topic == nullptr) {
      rd_kafka_NewTopic_destroy_array(topics.data(), topics.size());
      return absl::InvalidArgumentError(absl::StrCat(names[i], ": ", errstr));
    }
    rd_kafka_NewTopic_set_config(topic, "retention.ms", "-1");
    topics.push_back(topic);
  }
  kafka::QueuePtr queue(rd_kafka_queue_new(rk.get()));
  rd_kafka_AdminOptions_t* options =
      rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(options, 30'000, errstr,
                                              sizeof(errstr));
  rd_kafka_CreateTopics(rk.get(), topics.data(), topics.size(), options,
                        queue.get());
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_NewTopic_destroy_array(topics.data(), topics.size());
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue.get(), 60'000);
  if (event == nullptr) {
    return absl::DeadlineExceededError(
        absl::StrCat("CreateTopics on ", brokers, ": no answer in 60 s"));
  }
  absl::Status status;
  if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    status = absl::UnavailableError(absl::StrCat(
        "CreateTopics on ", brokers, ": ", rd_kafka_event_error_string(event)));
  } else {
    size_t count = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(
            rd_kafka_event_CreateTopics_result(event), &count);
    for (size_t i = 0; i < count && status.ok(); ++i) {
      if (rd_kafka_topic_result_error(results[i]) !=
          RD_KAFKA_RESP_ERR_NO_ERROR) {
        status = absl::InternalError(absl::StrCat(
            "CreateTopics ", rd_kafka_topic_result_name(results[i]), ": ",
            rd_kafka_topic_result_error_string(results[i])));
      }
    }
  }
  rd_kafka_event_destroy(event);
  return status;
}

// -----------------------------------------------------------------------------
// The delivery reports of alerts. ebb's Producer registers its callback with
// rd_kafka_conf_set_dr_msg_cb (interposed below); Record() runs in its place
// and calls it.

using DeliveryCallback = void (*)(rd_kafka_t*, const rd_kafka_message_t*,
                                  void*);

struct AckTrace {
  std::atomic<bool> active{false};
  std::atomic<DeliveryCallback> next{nullptr};
  std::string alerts_topic;  // written before active, read while active
  std::vector<AlertAck> acks;

  static void Record(rd_kafka_t* rk, const rd_kafka_message_t* message,
                     void* opaque);
};

AckTrace g_acks;

void AckTrace::Record(rd_kafka_t* rk, const rd_kafka_message_t* message,
                      void* opaque) {
  // Only ebb's own thread serves its producer's reports, and only its
  // producer writes to the alerts topic.
  if (g_acks.active.load(std::memory_order_acquire) &&
      message->err == RD_KAFKA_RESP_ERR_NO_ERROR && message->rkt != nullptr &&
      g_acks.alerts_topic == rd_kafka_topic_name(message->rkt)) {
    g_acks.acks.push_back(
        {SteadyNs(), std::string(static_cast<const char*>(message->payload),
                                 message->len)});
  }
  g_acks.next.load(std::memory_order_acquire)(rk, message, opaque);
}

}  // namespace

absl::StatusOr<Topics> CreateTopics(const std::string& brokers,
                                    const std::string& prefix, int partitions) {
  Topics topics;
  topics.prices = absl::StrCat(prefix, ".prices");
  topics.alerts = absl::StrCat(prefix, ".alerts");
  topics.dlq = absl::StrCat(prefix, ".dlq");
  if (absl::Status s = CreateTopicsRequest(
          brokers, {topics.prices, topics.alerts, topics.dlq},
          {partitions, 1, 1});
      !s.ok()) {
    return s;
  }
  return topics;
}

std::string FreshPrefix(const std::string& what) {
  static int counter = 0;
  return absl::StrCat("kb-", getpid(), "-", ++counter, "-", what);
}

double ProcessCpuSeconds() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) /
             1e6;
}

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double PidCpuSeconds(int pid) {
  if (pid <= 0) return -1;
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat;
  if (!std::getline(in, stat)) return -1;
  // After "pid (comm) ": state is field 3, utime 14, stime 15.
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(stat.substr(paren + 2));
  std::string field;
  double utime = -1, stime = -1;
  for (int index = 3; fields >> field && index <= 15; ++index) {
    if (index == 14) utime = std::strtod(field.c_str(), nullptr);
    if (index == 15) stime = std::strtod(field.c_str(), nullptr);
  }
  if (utime < 0 || stime < 0) return -1;
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

void StartAlertAcks(const std::string& alerts_topic, size_t capacity) {
  g_acks.alerts_topic = alerts_topic;
  g_acks.acks.clear();
  g_acks.acks.reserve(capacity);
  g_acks.active.store(true, std::memory_order_release);
}

std::vector<AlertAck> StopAlertAcks() {
  g_acks.active.store(false, std::memory_order_release);
  return std::move(g_acks.acks);
}

void AlertLatencies(const std::vector<int64_t>& sent_ns,
                    const std::vector<std::vector<int64_t>>& returned_ns,
                    const std::vector<AlertAck>& acks, int symbols,
                    int partitions, size_t first, LatencyFigures* figures) {
  // The feed's event at (partition, offset): the k-th event is on partition
  // (k % symbols) % partitions, in order.
  std::vector<std::vector<size_t>> event_at(static_cast<size_t>(partitions));
  for (size_t k = 0; k < sent_ns.size(); ++k) {
    event_at[(k % static_cast<size_t>(symbols)) %
             static_cast<size_t>(partitions)]
        .push_back(k);
  }
  std::vector<int64_t> acked, to_ebb, in_ebb;
  ebb::v1::Alert alert;
  figures->unmatched = 0;
  for (const AlertAck& ack : acks) {
    if (!alert.ParseFromString(ack.value) ||
        !alert.provenance().has_partition()) {
      ++figures->unmatched;
      continue;
    }
    const int32_t p = alert.provenance().partition();
    const int64_t offset = alert.provenance().offset();
    if (p < 0 || p >= partitions || offset < 0 ||
        static_cast<size_t>(offset) >=
            event_at[static_cast<size_t>(p)].size()) {
      ++figures->unmatched;
      continue;
    }
    const size_t k =
        event_at[static_cast<size_t>(p)][static_cast<size_t>(offset)];
    if (k < first) continue;  // warm-up
    const int64_t returned =
        returned_ns[static_cast<size_t>(p)][static_cast<size_t>(offset)];
    acked.push_back(ack.ns - sent_ns[k]);
    if (returned > 0) {
      to_ebb.push_back(returned - sent_ns[k]);
      in_ebb.push_back(ack.ns - returned);
    }
  }
  figures->alert_acked = QuantilesOf(std::move(acked), 1e-3);
  figures->alert_to_ebb = QuantilesOf(std::move(to_ebb), 1e-3);
  figures->alert_in_ebb = QuantilesOf(std::move(in_ebb), 1e-3);
}

std::string Describe(const Quantiles& q) {
  auto us = [](double v) {
    char out[32];
    if (v >= 1000) {
      std::snprintf(out, sizeof(out), "%.2f ms", v / 1000);
    } else {
      std::snprintf(out, sizeof(out), "%.1f us", v);
    }
    return std::string(out);
  };
  return absl::StrCat(Thousands(q.count), " samples; p50 ", us(q.p50), ", p99 ",
                      us(q.p99), ", p99.9 ", us(q.p999), ", max ", us(q.max));
}

void PrintLatencySummary(const std::vector<LatencyFigures>& runs) {
  std::map<int, std::vector<const LatencyFigures*>> by_rate;
  for (const LatencyFigures& f : runs) by_rate[f.rate].push_back(&f);
  std::printf("== latency summary: range over the runs [median]\n");
  for (const auto& [rate, figures] : by_rate) {
    std::printf("at %s events/s (%zu runs; achieved %s):\n",
                Thousands(static_cast<uint64_t>(rate)).c_str(), figures.size(),
                [&] {
                  std::vector<double> v;
                  for (const LatencyFigures* f : figures) {
                    v.push_back(f->achieved_rate);
                  }
                  std::sort(v.begin(), v.end());
                  char out[64];
                  std::snprintf(out, sizeof(out), "%.0f-%.0f events/s",
                                v.front(), v.back());
                  return std::string(out);
                }()
                    .c_str());
    auto line = [&](const char* what, const Quantiles LatencyFigures::*field) {
      std::string text;
      const std::pair<const char*, double Quantiles::*> quantiles[] = {
          {"p50", &Quantiles::p50},
          {"p99", &Quantiles::p99},
          {"p99.9", &Quantiles::p999}};
      uint64_t samples = 0;
      for (const LatencyFigures* f : figures) samples += (f->*field).count;
      for (const auto& [name, q] : quantiles) {
        std::vector<double> v;
        for (const LatencyFigures* f : figures) v.push_back((f->*field).*q);
        std::sort(v.begin(), v.end());
        char out[96];
        std::snprintf(out, sizeof(out), "%s %.1f-%.1f [%.1f] us", name,
                      v.front(), v.back(), Median(v));
        absl::StrAppend(&text, text.empty() ? "" : ", ", out);
      }
      std::printf("  %-58s %s (%s samples in all)\n", what, text.c_str(),
                  Thousands(samples).c_str());
    };
    line("produce() -> alert's delivery report in ebb (end to end)",
         &LatencyFigures::alert_acked);
    line("  those alerts: produce() -> batch returned to ebb",
         &LatencyFigures::alert_to_ebb);
    line("  those alerts: batch returned -> delivery report",
         &LatencyFigures::alert_in_ebb);
    line("every event: produce() -> batch returned to ebb",
         &LatencyFigures::to_ebb);
    line("ebb's part: batch returned -> handed to the producer",
         &LatencyFigures::ebb_part);
    line("ebb's own processing of the event (service time)",
         &LatencyFigures::service);
  }
  std::fflush(stdout);
}

}  // namespace bench
}  // namespace ebb

// ebb's Producer (and the feed's) register their delivery callback here;
// AckTrace::Record runs in its place and forwards to it.
extern "C" void rd_kafka_conf_set_dr_msg_cb(
    rd_kafka_conf_t* conf,
    void (*dr_msg_cb)(rd_kafka_t* rk, const rd_kafka_message_t* rkmessage,
                      void* opaque)) {
  using Fn = void (*)(rd_kafka_conf_t*, ebb::bench::DeliveryCallback);
  static const Fn real =
      ebb::bench::NextSymbol<Fn>("rd_kafka_conf_set_dr_msg_cb");
  ebb::bench::DeliveryCallback expected = nullptr;
  if (!ebb::bench::g_acks.next.compare_exchange_strong(expected, dr_msg_cb) &&
      expected != dr_msg_cb) {
    std::fprintf(stderr,
                 "kafka_bench: a second, different delivery callback: only "
                 "kafka::Producer's can be traced\n");
    std::abort();
  }
  real(conf, dr_msg_cb == nullptr ? nullptr : &ebb::bench::AckTrace::Record);
}
