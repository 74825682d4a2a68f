#pragma once

// The protobuf JSON mapping of ebb's output messages (alerts, per-event
// metrics, dead letters), written directly: no intermediate message for
// metrics, no reflection, no type resolver.
//
// What is printed is what libprotobuf 3.21's MessageToJsonString prints with
// always_print_primitive_fields (fields in its order: ordinary fields by
// number, then Timestamp, Duration and proto3 `optional` fields by number;
// scalars, strings and enums printed at their defaults, absent messages and
// optional fields left out; int64 and uint64 as strings; enums by name,
// unknown values as numbers; NaN and infinities as "NaN", "Infinity",
// "-Infinity"). Every line parses with JsonStringToMessage to the message it
// was written from. The bytes are libprotobuf's too, with three documented
// exceptions:
//  - -0.0 is written "-0.0" (libprotobuf writes "-0", which its own parser
//    reads as 0).
//  - Strings that are not valid UTF-8: each byte that is not part of a valid
//    UTF-8 sequence (stray continuation bytes, truncated or overlong
//    sequences, surrogates, code points past U+10FFFF) is written as \ufffd,
//    the replacement character. The output is always valid UTF-8 (libprotobuf
//    drops such bytes, sometimes with their neighbours).
//  - Metrics doubles (AppendMetricsJson) are the shortest decimal that reads
//    back as the same double, laid out as libprotobuf lays out its "%.15g" /
//    "%.17g" form: identical except where the shortest form has 16 digits,
//    for which libprotobuf prints 17, and for subnormals, for which it prints
//    15 or 17. Alerts and dead letters print exactly libprotobuf's digits.
// Timestamps must lie in years 1-9999 (the mapping's range) and durations
// within +-10,000 years with seconds and nanos of one sign: anything else has
// no JSON form, and Append*Json returns InvalidArgument, appending nothing
// (libprotobuf fails on the same messages).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ebb/v1/alert.pb.h"
#include "ebb/v1/dead_letter.pb.h"
#include "ebb/v1/metrics.pb.h"
#include "engine/pipeline.h"

namespace ebb {

// Appends `s` as a quoted JSON string (libprotobuf's escaping; invalid UTF-8
// replaced as above).
void AppendJsonString(absl::string_view s, std::string* out);

// Appends `v` as libprotobuf's JSON printer does (SimpleDtoa: "%.15g" when
// that reads back as `v`, else "%.17g"; "NaN", "Infinity", "-Infinity" as
// strings), without the C library's printf.
void AppendJsonDouble(double v, std::string* out);

// Appends the alert as one JSON object (no newline).
absl::Status AppendAlertJson(const ebb::v1::Alert& alert, std::string* out);

// Appends the dead letter as one JSON object (no newline); `original` in
// base64. Always succeeds (a dead letter holds no times).
void AppendDeadLetterJson(const ebb::v1::DeadLetter& dead_letter,
                          std::string* out);

// Writes MetricsViews as JSON objects (no newline): the mapping of
// ToProto(view), an ebb.v1.DrawdownMetrics. Never fails: a view's times (int64
// nanoseconds) all lie in the mapping's range. Keeps memos of the price
// points, maximum drawdowns and days it printed recently (a window's peak,
// maximum drawdown and its pair repeat from event to event): one writer per
// output, not thread-safe.
class MetricsJsonWriter {
 public:
  MetricsJsonWriter();
  ~MetricsJsonWriter();

  // The bytes Write may use at p for `view` (more than it writes).
  static size_t MaxSize(const MetricsView& view);
  // Writes the view at p; returns the end. REQUIRES: MaxSize(view) bytes at p.
  char* Write(const MetricsView& view, char* p);
  // Write onto the end of a string.
  void Append(const MetricsView& view, std::string* out);

 private:
  struct Memo;
  std::unique_ptr<Memo> memo_;
};

}  // namespace ebb
