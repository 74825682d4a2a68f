#include "connectors/file_sink.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
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
    // Alerts take the fast path unless they hold something it does not
    // print; the result is the same line either way.
    const auto* alert =
        google::protobuf::DynamicCastToGenerated<ebb::v1::Alert>(&message);
    if (alert == nullptr || !AppendAlertJson(*alert, &buffer_)) {
      google::protobuf::util::JsonPrintOptions options;
      options.always_print_primitive_fields = true;
      google::protobuf::util::MessageToJsonString(message, &buffer_, options);
    }
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

// A duration as the JSON mapping prints it: seconds with 0, 3, 6 or 9
// fractional digits. REQUIRES: seconds >= 0, nanos in [0, 1e9).
void AppendDurationJson(int64_t seconds, int32_t nanos, std::string* out) {
  out->push_back('"');
  absl::StrAppend(out, seconds);
  if (nanos != 0) {
    const std::string digits = absl::StrFormat("%09d", nanos);
    out->push_back('.');
    out->append(nanos % 1000000 == 0 ? digits.substr(0, 3)
                : nanos % 1000 == 0  ? digits.substr(0, 6)
                                     : digits);
  }
  out->append("s\"");
}

// A double exactly as libprotobuf's JSON printer writes it (SimpleDtoa: "%.15g"
// when that reads back as the same value, else "%.17g"). False for NaN and
// infinities, which it writes as strings.
bool AppendProtobufDouble(double v, std::string* out) {
  if (!std::isfinite(v)) return false;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.15g", v);
  if (std::strtod(buf, nullptr) != v) {
    std::snprintf(buf, sizeof(buf), "%.17g", v);
  }
  out->append(buf);
  return true;
}

// A string that needs no JSON escaping, quoted: printable ASCII without the
// characters libprotobuf escapes or might (", \\, <, >, &, ', =). False for
// anything else.
bool AppendPlainString(const std::string& s, std::string* out) {
  for (const char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\' || c == '<' ||
        c == '>' || c == '&' || c == '\'' || c == '=') {
      return false;
    }
  }
  out->push_back('"');
  out->append(s);
  out->push_back('"');
  return true;
}

bool AppendTimestampJson(const google::protobuf::Timestamp& ts,
                         std::string* out) {
  const absl::StatusOr<TimeNs> t = FromTimestamp(ts);
  if (!t.ok()) return false;
  out->push_back('"');
  AppendRfc3339(*t, out);
  out->push_back('"');
  return true;
}

bool AppendPricePointJson(const ebb::v1::PricePoint& p, std::string* out) {
  out->append("{\"price\":");
  if (!AppendProtobufDouble(p.price(), out)) return false;
  if (p.has_time()) {
    out->append(",\"time\":");
    if (!AppendTimestampJson(p.time(), out)) return false;
  }
  out->push_back('}');
  return true;
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
  // Windows are whole seconds or more in practice, but keep the rule for any
  // length.
  google::protobuf::Duration window;
  ToDuration(view.window_length, &window);
  out->append(",\"window\":");
  AppendDurationJson(window.seconds(), window.nanos(), out);
  out->append(",\"windowEntries\":\"");
  absl::StrAppend(out, m.entries);
  out->append("\"}\n");
}

bool AppendAlertJson(const ebb::v1::Alert& alert, std::string* out) {
  const size_t mark = out->size();
  auto fail = [out, mark] {
    out->resize(mark);
    return false;
  };
  if (alert.related_news_size() > 0 ||
      !ebb::v1::Transition_IsValid(alert.transition()) ||
      !ebb::v1::Severity_IsValid(alert.severity())) {
    return fail();
  }
  // Field order is libprotobuf's: by number, except that the well-known types
  // (Timestamp, Duration) directly in a message come after its other fields,
  // and proto3 `optional` fields after those.
  out->append("{\"id\":");
  if (!AppendPlainString(alert.id(), out)) return fail();
  out->append(",\"symbol\":");
  if (!AppendPlainString(alert.symbol(), out)) return fail();
  out->append(",\"rule\":");
  if (!AppendPlainString(alert.rule(), out)) return fail();
  out->append(",\"transition\":\"");
  out->append(ebb::v1::Transition_Name(alert.transition()));
  out->append("\",\"level\":");
  if (!AppendProtobufDouble(alert.level(), out)) return fail();
  out->append(",\"severity\":\"");
  out->append(ebb::v1::Severity_Name(alert.severity()));
  out->append("\",\"metric\":");
  if (!AppendPlainString(alert.metric(), out)) return fail();
  out->append(",\"value\":");
  if (!AppendProtobufDouble(alert.value(), out)) return fail();
  out->append(",\"price\":");
  if (!AppendProtobufDouble(alert.price(), out)) return fail();
  if (alert.has_peak()) {
    out->append(",\"peak\":");
    if (!AppendPricePointJson(alert.peak(), out)) return fail();
  }
  if (alert.has_trough()) {
    out->append(",\"trough\":");
    if (!AppendPricePointJson(alert.trough(), out)) return fail();
  }
  out->append(",\"fullWindow\":");
  out->append(alert.full_window() ? "true" : "false");
  out->append(",\"relatedNews\":[]");
  if (alert.has_provenance()) {
    const ebb::v1::Provenance& p = alert.provenance();
    out->append(",\"provenance\":{\"source\":");
    if (!AppendPlainString(p.source(), out)) return fail();
    absl::StrAppend(out, ",\"offset\":\"", p.offset(), "\",\"configHash\":");
    if (!AppendPlainString(p.config_hash(), out)) return fail();
    out->append(",\"eventId\":");
    if (!AppendPlainString(p.event_id(), out)) return fail();
    if (p.has_partition()) {
      absl::StrAppend(out, ",\"partition\":", p.partition());
    }
    out->push_back('}');
  }
  if (alert.has_event_time()) {
    out->append(",\"eventTime\":");
    if (!AppendTimestampJson(alert.event_time(), out)) return fail();
  }
  if (alert.has_episode_start()) {
    out->append(",\"episodeStart\":");
    if (!AppendTimestampJson(alert.episode_start(), out)) return fail();
  }
  if (alert.has_window()) {
    const google::protobuf::Duration& w = alert.window();
    // libprotobuf refuses durations beyond 10,000 years.
    if (w.seconds() < 0 || w.seconds() > 315576000000 || w.nanos() < 0 ||
        w.nanos() >= 1000000000) {
      return fail();
    }
    out->append(",\"window\":");
    AppendDurationJson(w.seconds(), w.nanos(), out);
  }
  if (alert.has_change()) {
    out->append(",\"change\":");
    if (!AppendProtobufDouble(alert.change(), out)) return fail();
  }
  out->push_back('}');
  return true;
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
