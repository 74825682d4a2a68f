#pragma once

// File sinks for replay: alerts, per-event metrics and dead letters as JSON
// lines (the protobuf JSON mapping, one message per line) or length-delimited
// binary protobuf.

#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "pipeline/pipeline.h"

namespace ebb {

// Writes messages to one file (or stdout for "-"), as JSON lines or, for paths
// ending in .binpb/.pb, as varint-length-delimited binary protobuf. Write
// errors are sticky and reported by Close().
class MessageWriter {
 public:
  static absl::StatusOr<std::unique_ptr<MessageWriter>> Open(
      const std::string& path);
  ~MessageWriter();

  void Write(const google::protobuf::Message& message);
  // Writes bytes as they are (a JSON line with its newline). REQUIRES:
  // !binary().
  void WriteRaw(absl::string_view bytes);
  bool binary() const { return binary_; }
  // Flushes; returns the first write error, naming the path.
  absl::Status Close();
  const std::string& path() const { return path_; }

 private:
  MessageWriter(std::string path, std::FILE* file, bool binary, bool owned)
      : path_(std::move(path)), file_(file), binary_(binary), owned_(owned) {}

  std::string path_;
  std::FILE* file_;
  bool binary_;
  bool owned_;
  bool failed_ = false;
  std::string buffer_;
};

struct FileOutputOptions {
  std::string alerts_path = "-";  // empty: alerts are not written
  std::string metrics_path;       // empty: metrics are not written
  std::string dead_letter_path;  // empty: dead letters are counted, not written
};

// An Output that writes to files. `pipeline_sources` resolves Origin::source
// for dead letters.
class FileOutput : public Output {
 public:
  static absl::StatusOr<std::unique_ptr<FileOutput>> Create(
      const FileOutputOptions& options);

  // Where source names come from (the pipeline's registry). Must be set before
  // use.
  void set_pipeline(const Pipeline* pipeline) { pipeline_ = pipeline; }

  bool WantsMetrics() const override { return metrics_ != nullptr; }
  void OnMetrics(const MetricsView& view) override;
  void OnAlert(const ebb::v1::Alert& alert) override;
  void OnDeadLetter(const DeadLetterView& dead_letter) override;

  // The first dead letter seen, for --strict: "path:line: reason: detail".
  const std::string& first_rejection() const { return first_rejection_; }

  absl::Status Close();

 private:
  FileOutput() = default;

  const Pipeline* pipeline_ = nullptr;
  std::unique_ptr<MessageWriter> alerts_, metrics_, dead_letters_;
  ebb::v1::DrawdownMetrics metrics_message_;
  ebb::v1::DeadLetter dead_letter_message_;
  std::string line_;
  std::string first_rejection_;
};

// Appends `message` with its varint32 length prefix: one record of a
// length-delimited protobuf file (SerializeDelimitedToOstream's framing).
void AppendDelimited(const google::protobuf::Message& message,
                     std::string* out);

// Fills a DrawdownMetrics message from a view.
void ToProto(const MetricsView& view, ebb::v1::DrawdownMetrics* out);

// Appends the alert as JSON (no newline), byte for byte what libprotobuf's
// MessageToJsonString prints with always_print_primitive_fields, ~20x faster
// (its printer converts through a type resolver on every call: ~50 us per
// alert, which dominated replays with many alerts). Returns false, appending
// nothing, for what it leaves to libprotobuf: strings that need escaping,
// related news, NaN or infinite numbers, unknown enum values, times outside
// 1677-2262, negative or over-long durations. Its numbers are formatted with
// the C library in the "C" locale, which ebb never changes.
bool AppendAlertJson(const ebb::v1::Alert& alert, std::string* out);

// Appends the view as one line of JSON, exactly the protobuf JSON mapping of
// ToProto(view) with every field printed (what MessageToJsonString prints, but
// ~100x faster: one metrics line per event must not cost more than the event).
// REQUIRES: a valid symbol (no escaping needed).
void AppendMetricsJson(const MetricsView& view, std::string* out);

}  // namespace ebb
