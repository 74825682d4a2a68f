// The JSON mapping of alerts and dead letters (json_mapping.h): written
// field by field onto a string, in libprotobuf's field order, with the
// appenders of json_mapping.cc for strings, numbers and times.

#include <string>

#include "absl/strings/str_cat.h"
#include "connectors/json_mapping.h"
#include "connectors/json_mapping_internal.h"

namespace ebb {
namespace {

using json_internal::AppendQuotedInt64;
using json_internal::AppendValidDuration;
using json_internal::AppendValidTimestamp;

constexpr int64_t kMinTimestampSeconds = -62'135'596'800;  // 0001-01-01
constexpr int64_t kMaxTimestampSeconds = 253'402'300'799;  // 9999-12-31
constexpr int64_t kMaxDurationSeconds = 315'576'000'000;   // 10,000 years

bool ValidTimestamp(const google::protobuf::Timestamp& ts) {
  return ts.seconds() >= kMinTimestampSeconds &&
         ts.seconds() <= kMaxTimestampSeconds && ts.nanos() >= 0 &&
         ts.nanos() < 1'000'000'000;
}

bool ValidDuration(const google::protobuf::Duration& d) {
  return d.seconds() >= -kMaxDurationSeconds &&
         d.seconds() <= kMaxDurationSeconds && d.nanos() > -1'000'000'000 &&
         d.nanos() < 1'000'000'000 && !(d.seconds() > 0 && d.nanos() < 0) &&
         !(d.seconds() < 0 && d.nanos() > 0);
}

void Field(const char* name_and_colon, std::string* out) {
  out->append(name_and_colon);
}

void AppendBool(bool v, std::string* out) { out->append(v ? "true" : "false"); }

template <typename Enum>
void AppendEnum(int value, const std::string& (*name)(Enum),
                bool (*is_valid)(int), std::string* out) {
  if (is_valid(value)) {
    out->push_back('"');
    out->append(name(static_cast<Enum>(value)));
    out->push_back('"');
  } else {
    absl::StrAppend(out, value);
  }
}

bool AppendTimestamp(const google::protobuf::Timestamp& ts, std::string* out) {
  if (!ValidTimestamp(ts)) return false;
  AppendValidTimestamp(ts.seconds(), ts.nanos(), out);
  return true;
}

bool AppendDuration(const google::protobuf::Duration& d, std::string* out) {
  if (!ValidDuration(d)) return false;
  AppendValidDuration(d.seconds(), d.nanos(), out);
  return true;
}

bool AppendPricePoint(const ebb::v1::PricePoint& point, std::string* out) {
  Field("{\"price\":", out);
  AppendJsonDouble(point.price(), out);
  if (point.has_time()) {
    Field(",\"time\":", out);
    if (!AppendTimestamp(point.time(), out)) return false;
  }
  out->push_back('}');
  return true;
}

bool AppendNewsRef(const ebb::v1::NewsRef& news, std::string* out) {
  Field("{\"id\":", out);
  AppendJsonString(news.id(), out);
  Field(",\"headline\":", out);
  AppendJsonString(news.headline(), out);
  Field(",\"source\":", out);
  AppendJsonString(news.source(), out);
  Field(",\"url\":", out);
  AppendJsonString(news.url(), out);
  if (news.has_event_time()) {
    Field(",\"eventTime\":", out);
    if (!AppendTimestamp(news.event_time(), out)) return false;
  }
  out->push_back('}');
  return true;
}

void AppendBase64(absl::string_view bytes, std::string* out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out->push_back('"');
  size_t i = 0;
  const auto byte = [&bytes](size_t k) {
    return static_cast<uint32_t>(static_cast<uint8_t>(bytes[k]));
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    const char quad[4] = {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63],
                          kAlphabet[(v >> 6) & 63], kAlphabet[v & 63]};
    out->append(quad, 4);
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = byte(i) << 16;
    const char quad[4] = {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], '=',
                          '='};
    out->append(quad, 4);
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = byte(i) << 16 | byte(i + 1) << 8;
    const char quad[4] = {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63],
                          kAlphabet[(v >> 6) & 63], '='};
    out->append(quad, 4);
  }
  out->push_back('"');
}

}  // namespace

absl::Status AppendAlertJson(const ebb::v1::Alert& alert, std::string* out) {
  const size_t mark = out->size();
  auto fail = [&](absl::string_view field) {
    out->resize(mark);
    return absl::InvalidArgumentError(absl::StrCat(
        "alert ", alert.id(), ": ", field,
        " has no JSON form (a Timestamp outside years 1-9999, or a Duration "
        "beyond 10,000 years or with seconds and nanos of opposite signs)"));
  };
  Field("{\"id\":", out);
  AppendJsonString(alert.id(), out);
  Field(",\"symbol\":", out);
  AppendJsonString(alert.symbol(), out);
  Field(",\"rule\":", out);
  AppendJsonString(alert.rule(), out);
  Field(",\"transition\":", out);
  AppendEnum(alert.transition(), &ebb::v1::Transition_Name<ebb::v1::Transition>,
             &ebb::v1::Transition_IsValid, out);
  Field(",\"level\":", out);
  AppendJsonDouble(alert.level(), out);
  Field(",\"severity\":", out);
  AppendEnum(alert.severity(), &ebb::v1::Severity_Name<ebb::v1::Severity>,
             &ebb::v1::Severity_IsValid, out);
  Field(",\"metric\":", out);
  AppendJsonString(alert.metric(), out);
  Field(",\"value\":", out);
  AppendJsonDouble(alert.value(), out);
  Field(",\"price\":", out);
  AppendJsonDouble(alert.price(), out);
  if (alert.has_peak()) {
    Field(",\"peak\":", out);
    if (!AppendPricePoint(alert.peak(), out)) return fail("peak.time");
  }
  if (alert.has_trough()) {
    Field(",\"trough\":", out);
    if (!AppendPricePoint(alert.trough(), out)) return fail("trough.time");
  }
  Field(",\"fullWindow\":", out);
  AppendBool(alert.full_window(), out);
  Field(",\"relatedNews\":[", out);
  for (int i = 0; i < alert.related_news_size(); ++i) {
    if (i > 0) out->push_back(',');
    if (!AppendNewsRef(alert.related_news(i), out)) {
      return fail("relatedNews.eventTime");
    }
  }
  out->push_back(']');
  if (alert.has_provenance()) {
    const ebb::v1::Provenance& p = alert.provenance();
    Field(",\"provenance\":{\"source\":", out);
    AppendJsonString(p.source(), out);
    Field(",\"offset\":", out);
    AppendQuotedInt64(p.offset(), out);
    Field(",\"configHash\":", out);
    AppendJsonString(p.config_hash(), out);
    Field(",\"eventId\":", out);
    AppendJsonString(p.event_id(), out);
    if (p.has_partition())
      absl::StrAppend(out, ",\"partition\":", p.partition());
    out->push_back('}');
  }
  if (alert.has_event_time()) {
    Field(",\"eventTime\":", out);
    if (!AppendTimestamp(alert.event_time(), out)) return fail("eventTime");
  }
  if (alert.has_episode_start()) {
    Field(",\"episodeStart\":", out);
    if (!AppendTimestamp(alert.episode_start(), out)) {
      return fail("episodeStart");
    }
  }
  if (alert.has_window()) {
    Field(",\"window\":", out);
    if (!AppendDuration(alert.window(), out)) return fail("window");
  }
  if (alert.has_change()) {
    Field(",\"change\":", out);
    AppendJsonDouble(alert.change(), out);
  }
  out->push_back('}');
  return absl::OkStatus();
}

void AppendDeadLetterJson(const ebb::v1::DeadLetter& dead_letter,
                          std::string* out) {
  const ebb::v1::DeadLetter& d = dead_letter;
  Field("{\"reason\":", out);
  AppendEnum(d.reason(), &ebb::v1::RejectReason_Name<ebb::v1::RejectReason>,
             &ebb::v1::RejectReason_IsValid, out);
  Field(",\"detail\":", out);
  AppendJsonString(d.detail(), out);
  Field(",\"source\":", out);
  AppendJsonString(d.source(), out);
  Field(",\"offset\":", out);
  AppendQuotedInt64(d.offset(), out);
  Field(",\"original\":", out);
  AppendBase64(d.original(), out);
  Field(",\"symbol\":", out);
  AppendJsonString(d.symbol(), out);
  if (d.has_partition()) absl::StrAppend(out, ",\"partition\":", d.partition());
  out->push_back('}');
}

}  // namespace ebb
