#include "connectors/file_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "connectors/json_mapping.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/util/json_util.h"

namespace ebb {
namespace {

// Files are written in whole chunks of this size (a multiple of the page
// size); the buffer holds one chunk and the records that pass its end.
constexpr size_t kChunk = 1 << 20;

std::string DisplayName(const std::string& path) {
  return path == "-" ? "stdout" : path;
}

absl::Status WriteFailed(const std::string& path, int error) {
  return absl::DataLossError(absl::StrCat("write failed: ", DisplayName(path),
                                          ": ", std::strerror(error)));
}

}  // namespace

void AppendDelimited(const google::protobuf::Message& message,
                     std::string* out) {
  uint8_t prefix[10];
  uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
      static_cast<uint32_t>(message.ByteSizeLong()), prefix);
  out->append(reinterpret_cast<const char*>(prefix),
              static_cast<size_t>(end - prefix));
  message.AppendToString(out);
}

MessageWriter::MessageWriter(std::string path, int fd, bool binary, bool owned)
    : path_(std::move(path)),
      fd_(fd),
      binary_(binary),
      owned_(owned),
      buffer_(2 * kChunk, '\0') {}

absl::StatusOr<std::unique_ptr<MessageWriter>> MessageWriter::Open(
    const std::string& path) {
  const bool binary =
      absl::EndsWith(path, ".binpb") || absl::EndsWith(path, ".pb");
  if (path == "-") {
    // A closed standard output fails here, before a file opened later could
    // take its descriptor.
    if (fcntl(STDOUT_FILENO, F_GETFL) == -1) return WriteFailed(path, errno);
    return std::unique_ptr<MessageWriter>(
        new MessageWriter(path, STDOUT_FILENO, false, false));
  }
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd == -1) {
    return absl::NotFoundError(absl::StrCat(
        path, ": cannot open for writing: ", std::strerror(errno)));
  }
  return std::unique_ptr<MessageWriter>(
      new MessageWriter(path, fd, binary, true));
}

MessageWriter::~MessageWriter() {
  if (owned_ && fd_ != -1) close(fd_);
}

void MessageWriter::Fail(absl::Status status) {
  if (status_.ok()) status_ = std::move(status);
  used_ = 0;
}

void MessageWriter::Flush(bool all) {
  // Whole chunks unless told otherwise: file pages are written whole.
  const size_t end = all ? used_ : used_ / kChunk * kChunk;
  size_t done = 0;
  while (done < end && status_.ok()) {
    const ssize_t n = write(fd_, buffer_.data() + done, end - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      Fail(WriteFailed(path_, errno));
    } else {
      done += static_cast<size_t>(n);
    }
  }
  if (!status_.ok()) return;
  std::memmove(buffer_.data(), buffer_.data() + end, used_ - end);
  used_ -= end;
}

char* MessageWriter::Reserve(size_t bytes) {
  if (buffer_.size() - used_ < bytes) {
    Flush(/*all=*/used_ < kChunk);
    if (buffer_.size() - used_ < bytes) buffer_.resize(used_ + bytes);
  }
  return buffer_.data() + used_;
}

void MessageWriter::Write(const google::protobuf::Message& message) {
  if (failed()) return;
  scratch_.clear();
  if (binary_) {
    AppendDelimited(message, &scratch_);
  } else if (const auto* alert =
                 google::protobuf::DynamicCastToGenerated<ebb::v1::Alert>(
                     &message)) {
    if (absl::Status s = AppendAlertJson(*alert, &scratch_); !s.ok()) {
      Fail(absl::InvalidArgumentError(
          absl::StrCat(DisplayName(path_), ": ", s.message())));
      return;
    }
  } else if (const auto* dead_letter =
                 google::protobuf::DynamicCastToGenerated<ebb::v1::DeadLetter>(
                     &message)) {
    AppendDeadLetterJson(*dead_letter, &scratch_);
  } else {
    // Other messages (none of ebb's outputs) take libprotobuf's printer.
    google::protobuf::util::JsonPrintOptions options;
    options.always_print_primitive_fields = true;
    if (const auto s = google::protobuf::util::MessageToJsonString(
            message, &scratch_, options);
        !s.ok()) {
      Fail(absl::InvalidArgumentError(
          absl::StrCat(DisplayName(path_), ": ", std::string(s.message()))));
      return;
    }
  }
  if (!binary_) scratch_.push_back('\n');
  char* p = Reserve(scratch_.size());
  std::memcpy(p, scratch_.data(), scratch_.size());
  Commit(p + scratch_.size());
  if (!owned_) {
    Flush(/*all=*/true);
  } else if (used_ >= kChunk) {
    Flush(/*all=*/false);
  }
}

void MessageWriter::WriteMetrics(const MetricsView& view) {
  if (failed()) return;
  if (binary_) {
    ToProto(view, &metrics_message_);
    Write(metrics_message_);
    return;
  }
  char* p =
      metrics_json_.Write(view, Reserve(MetricsJsonWriter::MaxSize(view) + 1));
  *p++ = '\n';
  Commit(p);
  if (used_ >= kChunk) Flush(/*all=*/false);
}

absl::Status MessageWriter::Close() {
  if (fd_ == -1) return status_;
  Flush(/*all=*/true);
  if (owned_ && close(fd_) != 0 && status_.ok()) {
    status_ = WriteFailed(path_, errno);
  }
  fd_ = -1;
  return status_;
}

void ToProto(const MetricsView& view, ebb::v1::DrawdownMetrics* out) {
  const WindowMetrics& m = *view.metrics;
  out->set_symbol(view.symbol.data(), view.symbol.size());
  ToTimestamp(view.time, out->mutable_event_time());
  out->set_price(view.price);
  ToProto(m.peak, out->mutable_peak());
  out->set_drawdown(m.drawdown);
  out->set_max_drawdown(m.max_drawdown);
  ToProto(m.mdd_peak, out->mutable_max_drawdown_peak());
  ToProto(m.mdd_trough, out->mutable_max_drawdown_trough());
  if (m.change.has_value()) {
    out->set_change(*m.change);
  } else {
    out->clear_change();
  }
  out->set_full_window(m.full_window);
  ToDuration(view.window_length, out->mutable_window());
  out->set_window_entries(m.entries);
}

absl::StatusOr<std::unique_ptr<FileOutput>> FileOutput::Create(
    const FileOutputOptions& options) {
  std::unique_ptr<FileOutput> out(new FileOutput());
  if (!options.alerts_path.empty()) {
    ASSIGN_OR_RETURN(out->alerts_, MessageWriter::Open(options.alerts_path));
  }
  if (!options.metrics_path.empty()) {
    ASSIGN_OR_RETURN(out->metrics_, MessageWriter::Open(options.metrics_path));
  }
  if (!options.dead_letter_path.empty()) {
    ASSIGN_OR_RETURN(out->dead_letters_,
                     MessageWriter::Open(options.dead_letter_path));
  }
  return out;
}

void FileOutput::OnMetrics(const MetricsView& view) {
  metrics_->WriteMetrics(view);
}

void FileOutput::OnAlert(const ebb::v1::Alert& alert) {
  if (alerts_ != nullptr) alerts_->Write(alert);
}

void FileOutput::OnDeadLetter(const DeadLetterView& view) {
  const std::string& source = pipeline_ != nullptr
                                  ? pipeline_->source_name(view.origin.source)
                                  : std::string();
  if (first_rejection_.empty()) {
    first_rejection_ = absl::StrCat(
        source.empty() ? "<input>" : source, ":", view.origin.offset, ": ",
        RejectReasonName(view.reason), ": ", view.detail);
  }
  if (dead_letters_ == nullptr) return;
  ebb::v1::DeadLetter& dl = dead_letter_message_;
  dl.Clear();
  dl.set_reason(view.reason);
  dl.set_detail(view.detail.data(), view.detail.size());
  dl.set_source(source);
  if (view.origin.partition >= 0) dl.set_partition(view.origin.partition);
  dl.set_offset(view.origin.offset);
  dl.set_original(view.original.data(), view.original.size());
  dl.set_symbol(view.symbol.data(), view.symbol.size());
  dead_letters_->Write(dl);
}

bool FileOutput::failed() const {
  for (const auto* writer : {&alerts_, &metrics_, &dead_letters_}) {
    if (*writer != nullptr && (*writer)->failed()) return true;
  }
  return false;
}

absl::Status FileOutput::Close() {
  absl::Status status;
  for (auto* writer : {&alerts_, &metrics_, &dead_letters_}) {
    if (*writer != nullptr) status.Update((*writer)->Close());
  }
  return status;
}

namespace {

// The identity of a regular file, or nothing.
struct FileId {
  bool regular = false;
  dev_t device = 0;
  ino_t inode = 0;
  bool operator==(const FileId& o) const {
    return regular && o.regular && device == o.device && inode == o.inode;
  }
};

FileId IdOf(const std::string& path, int standard_fd) {
  struct stat st;
  const int rc =
      path == "-" ? fstat(standard_fd, &st) : stat(path.c_str(), &st);
  if (rc != 0 || !S_ISREG(st.st_mode)) return FileId{};
  return FileId{true, st.st_dev, st.st_ino};
}

std::string Describe(const std::string& path, bool output) {
  if (path != "-") return path;
  return output ? "- (standard output)" : "- (standard input)";
}

}  // namespace

absl::Status CheckOutputsAreNotInputs(const std::vector<std::string>& inputs,
                                      const FileOutputOptions& outputs) {
  const std::pair<const char*, const std::string*> named[] = {
      {"alerts", &outputs.alerts_path},
      {"metrics", &outputs.metrics_path},
      {"dead letters", &outputs.dead_letter_path}};
  std::vector<std::pair<const char*, const std::string*>> present;
  for (const auto& output : named) {
    if (!output.second->empty()) present.push_back(output);
  }
  for (size_t i = 0; i < present.size(); ++i) {
    const std::string& path = *present[i].second;
    const FileId id = IdOf(path, STDOUT_FILENO);
    if (!id.regular) continue;
    for (const std::string& input : inputs) {
      if (IdOf(input, STDIN_FILENO) == id) {
        return absl::InvalidArgumentError(absl::StrCat(
            "the ", present[i].first, " output ", Describe(path, true),
            " is the input ", Describe(input, false),
            " (the same file): refusing to overwrite it"));
      }
    }
    // Two outputs on one file overwrite each other, unless both are the one
    // standard output (which shares its offset).
    for (size_t j = 0; j < i; ++j) {
      const std::string& other = *present[j].second;
      if (!(path == "-" && other == "-") && IdOf(other, STDOUT_FILENO) == id) {
        return absl::InvalidArgumentError(absl::StrCat(
            "the ", present[i].first, " output ", Describe(path, true),
            " and the ", present[j].first, " output ", Describe(other, true),
            " are the same file"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace ebb
