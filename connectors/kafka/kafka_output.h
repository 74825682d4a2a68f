#pragma once

// The outputs of the streaming runtime: alerts and dead letters, handed to
// the producer with the origin of the record that caused them.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "connectors/kafka/kafka_client.h"
#include "engine/pipeline.h"

namespace ebb::kafka {

// The input record whose processing caused an output, handed with it.
struct RecordOrigin {
  absl::string_view topic;  // empty: no record (reorder buffers flushed)
  int32_t partition = -1;
  int64_t offset = -1;  // -1: no record
  // Warm-start history: read again only to rebuild the windows. Its dead
  // letters were produced when it was first processed (or precede the
  // group's start), and its alerts are produced only when asked.
  bool history = false;
  absl::string_view key;
  // The value as consumed; nullopt when the message has none (a tombstone)
  // or there is no record.
  std::optional<absl::string_view> value;
};

// A value larger than this is not a price or news event: it is dead-lettered
// (`oversize`) with only its first kDeadLetterCutBytes.
inline constexpr size_t kMaxValueBytes = 64 * 1024;
inline constexpr size_t kDeadLetterCutBytes = 1024;

// A dead letter as the producer gets it: the original key and value, byte for
// byte, and the headers that say why and where from (docs/kafka.md). Filled in
// place (the headers point into it).
struct DeadLetterMessage {
  DeadLetterMessage() = default;
  DeadLetterMessage(const DeadLetterMessage&) = delete;
  DeadLetterMessage& operator=(const DeadLetterMessage&) = delete;

  absl::string_view key;
  absl::string_view value;
  std::string partition;  // the source partition and offset, as text
  std::string offset;
  Header headers[5];
};

// The dead letter of `dead_letter`, caused by `record`. The value is the
// record's own when it has one within kMaxValueBytes, otherwise the
// pipeline's `original` (an oversize value's cut); the source headers are
// empty when there is no record.
void FormatDeadLetter(const RecordOrigin& record,
                      const DeadLetterView& dead_letter,
                      DeadLetterMessage* out);

// Alerts to the alerts topic (keyed by symbol, with schema headers), dead
// letters to the dead-letter topic. Not thread-safe: the runner's thread.
class KafkaOutput {
 public:
  struct Options {
    std::string alerts_topic;
    std::string dlq_topic;
    // Produce the alerts of warm-start history too.
    bool emit_history_alerts = false;
  };
  // `producer` must outlive it.
  KafkaOutput(Options options, Producer* producer)
      : options_(std::move(options)), producer_(producer) {}

  // An alert serialized as `bytes` (ebb.v1.Alert) of `symbol`, with its
  // transition (the producer's tag, so acknowledgements are counted per
  // transition). History alerts are counted as suppressed unless
  // emit_history_alerts. An error: it could not be queued.
  absl::Status Alert(const RecordOrigin& record, absl::string_view symbol,
                     int transition, absl::string_view bytes);
  // A rejected record (none for history). An error: it could not be queued.
  absl::Status DeadLetter(const RecordOrigin& record,
                          const DeadLetterView& dead_letter);

  // Handed to the producer.
  uint64_t alerts_produced() const { return alerts_produced_; }
  uint64_t alerts_suppressed() const { return alerts_suppressed_; }
  uint64_t dead_letters_produced() const { return dead_letters_produced_; }
  // The producer's tag of dead letters (alerts: their transition, >= 1).
  static constexpr int kDeadLetterTag = 0;

 private:
  const Options options_;
  Producer* const producer_;
  uint64_t alerts_produced_ = 0;
  uint64_t alerts_suppressed_ = 0;
  uint64_t dead_letters_produced_ = 0;
};

}  // namespace ebb::kafka
