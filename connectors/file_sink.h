#pragma once

// File sinks for replay: alerts, per-event metrics and dead letters as JSON
// lines (the protobuf JSON mapping, one message per line) or length-delimited
// binary protobuf.

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "connectors/json_mapping.h"
#include "engine/pipeline.h"

namespace ebb {

// Writes messages to one file, or to standard output for "-": as JSON lines
// (the protobuf JSON mapping, connectors/json_mapping.h) or, for paths ending
// in .binpb/.pb, as varint-length-delimited binary protobuf. Output is
// buffered and written with write(2); every write and the final close are
// checked. The first error is sticky: later messages are dropped, failed()
// turns true and Close() returns it as "write failed: PATH: REASON" (standard
// output is named "stdout"). On standard output each alert and dead letter is
// written as it comes (a terminal or pipe shows it at once).
class MessageWriter {
 public:
  static absl::StatusOr<std::unique_ptr<MessageWriter>> Open(
      const std::string& path);
  ~MessageWriter();

  // Writes an ebb.v1.Alert, DeadLetter or DrawdownMetrics (any message in
  // binary files). A message without a JSON form (a time outside years
  // 1-9999) fails the writer with that reason.
  void Write(const google::protobuf::Message& message);
  // Writes the view as an ebb.v1.DrawdownMetrics.
  void WriteMetrics(const MetricsView& view);
  bool binary() const { return binary_; }
  bool failed() const { return !status_.ok(); }
  // Writes what is buffered and closes the file (standard output is flushed,
  // not closed); returns the first error.
  absl::Status Close();
  const std::string& path() const { return path_; }

 private:
  MessageWriter(std::string path, int fd, bool binary, bool owned);

  // Room for `bytes` more at the end of the buffer; flushes first if needed.
  char* Reserve(size_t bytes);
  void Commit(char* end) { used_ = static_cast<size_t>(end - buffer_.data()); }
  // Writes the buffered bytes (`all`) or its whole chunks.
  void Flush(bool all);
  void Fail(absl::Status status);

  std::string path_;
  int fd_;
  bool binary_;
  bool owned_;
  absl::Status status_;
  std::string buffer_;  // sized once; bytes [0, used_) are pending
  size_t used_ = 0;
  std::string scratch_;
  ebb::v1::DrawdownMetrics metrics_message_;
  MetricsJsonWriter metrics_json_;
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

  // True once an output failed (Close() says why): the rest is lost.
  bool failed() const;

  absl::Status Close();

 private:
  FileOutput() = default;

  const Pipeline* pipeline_ = nullptr;
  std::unique_ptr<MessageWriter> alerts_, metrics_, dead_letters_;
  ebb::v1::DeadLetter dead_letter_message_;
  std::string first_rejection_;
};

// Appends `message` with its varint32 length prefix: one record of a
// length-delimited protobuf file (SerializeDelimitedToOstream's framing).
void AppendDelimited(const google::protobuf::Message& message,
                     std::string* out);

// Fills a DrawdownMetrics message from a view.
void ToProto(const MetricsView& view, ebb::v1::DrawdownMetrics* out);

// Fails, before anything is opened for writing, when an output would write
// to a file that is read as an input, or that another output writes: the
// same regular file by device and inode (symbolic and hard links, "-" for
// standard input or output included), which opening for writing would
// truncate. Streams that are no regular file (pipes, terminals, /dev/null)
// are never refused. Outputs that do not exist yet are fine; inputs that do
// not exist are left to their readers.
absl::Status CheckOutputsAreNotInputs(const std::vector<std::string>& inputs,
                                      const FileOutputOptions& outputs);

}  // namespace ebb
