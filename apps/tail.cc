// ebb tail: the reference subscriber. Reads an alert topic and prints each
// alert as one JSON line (the protobuf JSON mapping). Kept small on purpose:
// a subscriber in any language does the same (see docs/subscribing.md).

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "apps/args.h"
#include "apps/commands.h"
#include "apps/signals.h"
#include "connectors/file_sink.h"
#include "connectors/json_mapping.h"
#include "connectors/kafka/kafka_client.h"
#include "ebb/v1/alert.pb.h"
#include "ebb/v1/dead_letter.pb.h"
#include "engine/validate.h"

namespace ebb {
namespace {

constexpr char kUsage[] =
    R"(usage: ebb tail --brokers B [--topic ebb.alerts] [--from-beginning] [--max N]
                [--idle-exit SECONDS] [--property KEY=VALUE ...]

Subscribes to an alert topic and prints each alert as a JSON line on stdout, as it arrives
(or, for the dead-letter topic, each ebb.v1.DeadLetter: reason, detail, source, original bytes),
until SIGINT/SIGTERM, N alerts (--max), or SECONDS without one (--idle-exit). Without
--from-beginning only new alerts are printed. Messages that are not ebb.v1.Alert are
reported on stderr and skipped.
)";

const std::vector<FlagSpec> kFlags = {
    {"brokers", true, false},         {"topic", true, false},
    {"from-beginning", false, false}, {"max", true, false},
    {"idle-exit", true, false},       {"property", true, true},
    {"help", false, false},
};

std::string Header(const rd_kafka_message_t& message, const char* name) {
  rd_kafka_headers_t* headers = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_message_headers(&message, &headers) !=
          RD_KAFKA_RESP_ERR_NO_ERROR ||
      rd_kafka_header_get_last(headers, name, &value, &size) !=
          RD_KAFKA_RESP_ERR_NO_ERROR ||
      value == nullptr) {
    return "";
  }
  return std::string(static_cast<const char*>(value), size);
}

// A record of the dead-letter topic, as the DeadLetter it stands for.
bool DeadLetterOf(const rd_kafka_message_t& message, ebb::v1::DeadLetter* out) {
  const std::string reason = Header(message, "ebb-reason");
  if (reason.empty()) return false;
  out->Clear();
  for (int r = 1; r <= ebb::v1::RejectReason_MAX; ++r) {
    if (reason == RejectReasonName(static_cast<ebb::v1::RejectReason>(r))) {
      out->set_reason(static_cast<ebb::v1::RejectReason>(r));
    }
  }
  out->set_detail(Header(message, "ebb-detail"));
  out->set_source(Header(message, "ebb-source-topic"));
  int32_t partition = 0;
  int64_t offset = 0;
  if (absl::SimpleAtoi(Header(message, "ebb-source-partition"), &partition)) {
    out->set_partition(partition);
  }
  if (absl::SimpleAtoi(Header(message, "ebb-source-offset"), &offset)) {
    out->set_offset(offset);
  }
  if (message.payload != nullptr) {
    out->set_original(static_cast<const char*>(message.payload), message.len);
  }
  if (message.key != nullptr) {
    out->set_symbol(static_cast<const char*>(message.key), message.key_len);
  }
  return true;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "ebb tail: %s\n", std::string(status.message()).c_str());
  return 1;
}

}  // namespace

int RunTail(int argc, char** argv) {
  auto args = Args::Parse(argc, argv, 1, kFlags);
  if (!args.ok() || args->Has("help") || !args->positional().empty() ||
      !args->Has("brokers")) {
    if (!args.ok())
      std::fprintf(stderr, "ebb tail: %s\n\n",
                   std::string(args.status().message()).c_str());
    std::fputs(kUsage, stderr);
    return args.ok() && args->Has("help") ? 0 : 1;
  }
  uint64_t max = 0;
  double idle_exit = 0;
  if ((args->Has("max") && !absl::SimpleAtoi(args->Get("max"), &max)) ||
      (args->Has("idle-exit") &&
       !absl::SimpleAtod(args->Get("idle-exit"), &idle_exit))) {
    return Fail(
        absl::InvalidArgumentError("--max and --idle-exit take numbers"));
  }
  auto extra = PropertyFlags(*args);
  if (!extra.ok()) return Fail(extra.status());
  // A group of its own (nothing is committed): every tail sees every alert.
  kafka::Properties properties = {
      {"bootstrap.servers", args->Get("brokers")},
      {"group.id", absl::StrCat("ebb-tail-", getpid())},
      {"auto.offset.reset",
       args->Has("from-beginning") ? "earliest" : "latest"},
      {"fetch.wait.max.ms", "10"}};
  properties.insert(properties.end(), extra->begin(), extra->end());
  auto consumer = kafka::Consumer::Create(properties, nullptr);
  if (!consumer.ok()) return Fail(consumer.status());
  const std::string topic = args->Get("topic", "ebb.alerts");
  if (absl::Status s = (*consumer)->Subscribe({topic}); !s.ok()) return Fail(s);

  // The lines `ebb replay` writes for the same messages, byte for byte.
  auto out = MessageWriter::Open("-");
  if (!out.ok()) return Fail(out.status());
  InstallStopHandlers();
  ebb::v1::Alert alert;
  ebb::v1::DeadLetter dead_letter;
  uint64_t printed = 0;
  double idle = 0;
  bool assigned = false;
  while (!StopRequested().load() && (max == 0 || printed < max)) {
    rd_kafka_message_t* message =
        rd_kafka_consumer_poll((*consumer)->handle(), 100);
    if (message == nullptr) {
      if (!assigned) {
        // Idle time counts from the group's assignment (a join takes ~3 s).
        rd_kafka_topic_partition_list_t* assignment = nullptr;
        if (rd_kafka_assignment((*consumer)->handle(), &assignment) ==
            RD_KAFKA_RESP_ERR_NO_ERROR) {
          assigned = assignment->cnt > 0;
          rd_kafka_topic_partition_list_destroy(assignment);
        }
        continue;
      }
      idle += 0.1;
      if (idle_exit > 0 && idle >= idle_exit) break;
      continue;
    }
    kafka::MessagePtr owned(message);
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "ebb tail: %s\n", rd_kafka_message_errstr(message));
      continue;
    }
    idle = 0;
    if (DeadLetterOf(*message, &dead_letter)) {
      // A record of ebb.dlq: its reason and source are in the headers.
      (*out)->Write(dead_letter);
    } else if (alert.ParseFromArray(message->payload,
                                    static_cast<int>(message->len))) {
      std::string unused;
      if (absl::Status s = AppendAlertJson(alert, &unused); !s.ok()) {
        std::fprintf(stderr, "ebb tail: offset %lld: %s\n",
                     static_cast<long long>(message->offset),
                     std::string(s.message()).c_str());
        continue;
      }
      (*out)->Write(alert);
    } else {
      std::fprintf(stderr, "ebb tail: offset %lld is not an ebb.v1.Alert\n",
                   static_cast<long long>(message->offset));
      continue;
    }
    if ((*out)->failed()) break;
    ++printed;
  }
  const absl::Status written = (*out)->Close();
  const bool closed = (*consumer)->Close().ok();
  if (!written.ok()) return Fail(written);
  return closed ? 0 : 1;
}

}  // namespace ebb
