#include "connectors/kafka/kafka_output.h"

#include "absl/strings/str_cat.h"
#include "engine/validate.h"

namespace ebb::kafka {
namespace {

// Schema headers on every alert, so subscribers can dispatch without guessing.
constexpr char kTypeHeader[] = "ebb-type";
constexpr char kSchemaHeader[] = "ebb-schema-version";
constexpr char kSchemaVersion[] = "1";

}  // namespace

void FormatDeadLetter(const RecordOrigin& record,
                      const DeadLetterView& dead_letter,
                      DeadLetterMessage* out) {
  const bool has_record = record.offset >= 0;
  out->key = record.key;
  out->partition = has_record ? absl::StrCat(record.partition) : "";
  out->offset = has_record ? absl::StrCat(record.offset) : "";
  out->headers[0] = {"ebb-reason", RejectReasonName(dead_letter.reason)};
  out->headers[1] = {"ebb-detail", dead_letter.detail};
  out->headers[2] = {"ebb-source-topic",
                     has_record ? record.topic : absl::string_view()};
  out->headers[3] = {"ebb-source-partition", out->partition};
  out->headers[4] = {"ebb-source-offset", out->offset};
  // The original value, untouched, so it can be fixed and re-published.
  out->value = dead_letter.original;
  if (record.value.has_value() && record.value->size() <= kMaxValueBytes) {
    out->value = *record.value;
  }
}

absl::Status KafkaOutput::Alert(const RecordOrigin& record,
                                absl::string_view symbol, int transition,
                                absl::string_view bytes) {
  if (record.history && !options_.emit_history_alerts) {
    ++alerts_suppressed_;
    return absl::OkStatus();
  }
  const Header headers[] = {{kTypeHeader, "ebb.v1.Alert"},
                            {kSchemaHeader, kSchemaVersion}};
  absl::Status status =
      producer_->Produce(options_.alerts_topic, -1, symbol, bytes, headers,
                         /*timestamp_ms=*/0, transition);
  if (!status.ok()) return status;
  ++alerts_produced_;
  return absl::OkStatus();
}

absl::Status KafkaOutput::DeadLetter(const RecordOrigin& record,
                                     const DeadLetterView& dead_letter) {
  // History was dead-lettered when it was first processed (or precedes this
  // group's start).
  if (record.history) return absl::OkStatus();
  DeadLetterMessage message;
  FormatDeadLetter(record, dead_letter, &message);
  absl::Status status =
      producer_->Produce(options_.dlq_topic, -1, message.key, message.value,
                         message.headers, /*timestamp_ms=*/0, kDeadLetterTag);
  if (!status.ok()) return status;
  ++dead_letters_produced_;
  return absl::OkStatus();
}

}  // namespace ebb::kafka
