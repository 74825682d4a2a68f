#pragma once

// Loading, validating and compiling ebb's configuration
// (proto/ebb/v1/config.proto).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/time_util.h"
#include "ebb/v1/config.pb.h"
#include "window/drawdown_window.h"

namespace ebb {

enum class RuleMetric { kDrawdown, kMaxDrawdown, kDecline };

absl::string_view RuleMetricName(RuleMetric metric);

// A validated rule, ready to evaluate.
struct RuleSpec {
  std::string name;
  RuleMetric metric = RuleMetric::kDrawdown;
  std::vector<double> thresholds;  // strictly ascending, in (0, 1)
  std::vector<ebb::v1::Severity> severities;
  double rearm = 0;
  std::vector<std::string> symbol_globs;  // empty: every symbol
  bool require_full_window = false;

  bool Matches(absl::string_view symbol) const;
};

// The validated, immutable engine configuration.
struct EngineConfig {
  WindowOptions window;
  TimeNs allowed_lateness = 0;
  TimeNs max_future = kNanosPerDay;
  // Most symbols with state at once; 0: no limit.
  uint64_t max_symbols = 0;
  std::vector<RuleSpec> rules;
  std::string config_hash;  // hex digest of the effective configuration
};

// The built-in default: 30-day window, 1-minute buckets, a "drawdown" rule at
// 10/15/20 % (WARNING, WARNING, CRITICAL) with a 2 % re-arm margin.
ebb::v1::EbbConfig DefaultConfig();

// Parses config text. `json` selects the JSON mapping; `origin` names the text
// in errors.
absl::StatusOr<ebb::v1::EbbConfig> ParseConfig(absl::string_view text,
                                               bool json,
                                               absl::string_view origin);

// Checks every field and compiles; InvalidArgument names the offending field,
// e.g. "rules[1].levels[2].threshold: 0.1 is not above the previous level
// 0.15".
absl::StatusOr<EngineConfig> CompileConfig(const ebb::v1::EbbConfig& config);

// Stable 64-bit FNV-1a; used for alert ids and the config hash (never
// absl::Hash, which is salted per process).
uint64_t StableHash64(absl::string_view bytes,
                      uint64_t seed = 0xcbf29ce484222325ull);

}  // namespace ebb
