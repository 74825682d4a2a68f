#pragma once

// What json_messages.cc (alerts, dead letters) takes from json_mapping.cc
// besides the public AppendJsonString and AppendJsonDouble; internal to
// connectors/.

#include <cstdint>
#include <string>

namespace ebb {
namespace json_internal {

// Appends v as the mapping writes an int64: a quoted decimal.
void AppendQuotedInt64(int64_t v, std::string* out);

// Appends a quoted RFC 3339 time. REQUIRES: seconds in years 1-9999, nanos
// in [0, 1e9).
void AppendValidTimestamp(int64_t seconds, int32_t nanos, std::string* out);

// Appends a quoted duration, "-1.5s". REQUIRES: |seconds| <= 10,000 years,
// |nanos| < 1e9, seconds and nanos not of opposite signs.
void AppendValidDuration(int64_t seconds, int32_t nanos, std::string* out);

}  // namespace json_internal
}  // namespace ebb
