#include "connectors/file_sink.h"

#include <cerrno>
#include <charconv>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/util/json_util.h"
#include "pipeline/status_macros.h"

namespace ebb {

void AppendDelimited(const google::protobuf::Message& message,
                     std::string* out) {
  uint8_t prefix[10];
  uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
      static_cast<uint32_t>(message.ByteSizeLong()), prefix);
  out->append(reinterpret_cast<const char*>(prefix),
              static_cast<size_t>(end - prefix));
  message.AppendToString(out);
}

absl::StatusOr<std::unique_ptr<MessageWriter>> MessageWriter::Open(
    const std::string& path) {
  const bool binary =
      absl::EndsWith(path, ".binpb") || absl::EndsWith(path, ".pb");
  if (path == "-") {
    return std::unique_ptr<MessageWriter>(
        new MessageWriter(path, stdout, false, false));
  }
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        path, ": cannot open for writing: ", std::strerror(errno)));
  }
  std::setvbuf(file, nullptr, _IOFBF, 1 << 20);
  return std::unique_ptr<MessageWriter>(
      new MessageWriter(path, file, binary, true));
}

MessageWriter::~MessageWriter() {
  if (owned_ && file_ != nullptr) std::fclose(file_);
}

void MessageWriter::Write(const google::protobuf::Message& message) {
  if (failed_) return;
  buffer_.clear();
  if (binary_) {
    AppendDelimited(message, &buffer_);
  } else {
    google::protobuf::util::JsonPrintOptions options;
    options.always_print_primitive_fields = true;
    google::protobuf::util::MessageToJsonString(message, &buffer_, options);
    buffer_.push_back('\n');
  }
  if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size())
    failed_ = true;
  // Alerts on a terminal or pipe show up as they happen.
  if (!owned_) std::fflush(file_);
}

void MessageWriter::WriteRaw(absl::string_view bytes) {
  if (failed_) return;
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    failed_ = true;
  }
}

absl::Status MessageWriter::Close() {
  if (file_ == nullptr) return absl::OkStatus();
  if (std::fflush(file_) != 0) failed_ = true;
  if (owned_) {
    if (std::fclose(file_) != 0) failed_ = true;
  }
  file_ = nullptr;
  if (failed_)
    return absl::DataLossError(absl::StrCat(path_, ": write failed"));
  return absl::OkStatus();
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

namespace {

void AppendDouble(double v, std::string* out) {
  char buf[32];
  auto [end, ec] =
      std::to_chars(buf, buf + sizeof(buf), v);  // shortest round-trip form
  out->append(buf, static_cast<size_t>(end - buf));
}

void AppendPointJson(const char* name, const PricePoint& p, std::string* out) {
  out->append(name);
  out->append("\":{\"price\":");
  AppendDouble(p.price, out);
  out->append(",\"time\":\"");
  AppendRfc3339(p.time, out);
  out->append("\"}");
}

}  // namespace

void AppendMetricsJson(const MetricsView& view, std::string* out) {
  const WindowMetrics& m = *view.metrics;
  out->append("{\"symbol\":\"");
  out->append(view.symbol.data(), view.symbol.size());
  out->append("\",\"eventTime\":\"");
  AppendRfc3339(view.time, out);
  out->append("\",\"price\":");
  AppendDouble(view.price, out);
  AppendPointJson(",\"peak", m.peak, out);
  out->append(",\"drawdown\":");
  AppendDouble(m.drawdown, out);
  out->append(",\"maxDrawdown\":");
  AppendDouble(m.max_drawdown, out);
  AppendPointJson(",\"maxDrawdownPeak", m.mdd_peak, out);
  AppendPointJson(",\"maxDrawdownTrough", m.mdd_trough, out);
  if (m.change.has_value()) {
    out->append(",\"change\":");
    AppendDouble(*m.change, out);
  }
  out->append(",\"fullWindow\":");
  out->append(m.full_window ? "true" : "false");
  // Durations print as seconds with 0, 3, 6 or 9 fractional digits; windows are
  // whole seconds or more in practice, but keep the rule for any length.
  google::protobuf::Duration window;
  ToDuration(view.window_length, &window);
  out->append(",\"window\":\"");
  absl::StrAppend(out, window.seconds());
  if (window.nanos() != 0) {
    const std::string nanos = absl::StrFormat("%09d", window.nanos());
    out->append(".");
    out->append(window.nanos() % 1000000 == 0 ? nanos.substr(0, 3)
                : window.nanos() % 1000 == 0  ? nanos.substr(0, 6)
                                              : nanos);
  }
  out->append("s\",\"windowEntries\":\"");
  absl::StrAppend(out, m.entries);
  out->append("\"}\n");
}

void FileOutput::OnMetrics(const MetricsView& view) {
  if (metrics_->binary()) {
    ToProto(view, &metrics_message_);
    metrics_->Write(metrics_message_);
    return;
  }
  line_.clear();
  AppendMetricsJson(view, &line_);
  metrics_->WriteRaw(line_);
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

absl::Status FileOutput::Close() {
  absl::Status status;
  for (auto* writer : {&alerts_, &metrics_, &dead_letters_}) {
    if (*writer != nullptr) status.Update((*writer)->Close());
  }
  return status;
}

}  // namespace ebb
