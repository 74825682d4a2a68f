#include "engine/config.h"

#include <fnmatch.h>

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "engine/json_config_check.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"

namespace ebb {
namespace {

absl::Status FieldError(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// Why `glob` is not a pattern fnmatch reads as meant (it treats a '[' without
// its ']' as a literal '[' and a trailing backslash as an error), or nullptr.
const char* GlobProblem(absl::string_view glob) {
  for (size_t i = 0; i < glob.size(); ++i) {
    if (glob[i] == '\\') {
      if (++i == glob.size()) return "ends with a lone '\\'";
      continue;
    }
    if (glob[i] != '[') continue;
    size_t j = i + 1;
    if (j < glob.size() && (glob[j] == '!' || glob[j] == '^')) ++j;
    if (j < glob.size() && glob[j] == ']') ++j;  // a literal ']' first
    while (j < glob.size() && glob[j] != ']') ++j;
    if (j == glob.size()) return "has a '[' without its closing ']'";
    i = j;
  }
  return nullptr;
}

bool IsValidRuleName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-')
      return false;
  }
  return true;
}

// Collects text-format parse errors into one message with line and column.
class CollectingErrors : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (first_.empty())
      first_ = absl::StrCat("line ", line + 1, ":", column + 1, ": ", message);
  }
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

}  // namespace

absl::string_view RuleMetricName(RuleMetric metric) {
  switch (metric) {
    case RuleMetric::kDrawdown:
      return "drawdown";
    case RuleMetric::kMaxDrawdown:
      return "max_drawdown";
    case RuleMetric::kDecline:
      return "decline";
  }
  return "drawdown";
}

bool RuleSpec::Matches(absl::string_view symbol) const {
  if (symbol_globs.empty()) return true;
  const std::string s(symbol);
  for (const std::string& glob : symbol_globs) {
    if (fnmatch(glob.c_str(), s.c_str(), 0) == 0) return true;
  }
  return false;
}

uint64_t StableHash64(absl::string_view bytes, uint64_t seed) {
  uint64_t h = seed;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

ebb::v1::EbbConfig DefaultConfig() {
  ebb::v1::EbbConfig config;
  config.mutable_window()->set_length("30d");
  config.mutable_window()->set_resolution("1m");
  config.set_allowed_lateness("0s");
  config.set_max_future("1d");
  ebb::v1::RuleConfig* rule = config.add_rules();
  rule->set_name("drawdown");
  rule->set_metric("drawdown");
  const std::pair<double, ebb::v1::Severity> levels[] = {
      {0.10, ebb::v1::WARNING},
      {0.15, ebb::v1::WARNING},
      {0.20, ebb::v1::CRITICAL}};
  for (const auto& [threshold, severity] : levels) {
    ebb::v1::Level* level = rule->add_levels();
    level->set_threshold(threshold);
    level->set_severity(severity);
  }
  rule->set_rearm(0.02);
  return config;
}

absl::StatusOr<ebb::v1::EbbConfig> ParseConfig(absl::string_view text,
                                               bool json,
                                               absl::string_view origin) {
  ebb::v1::EbbConfig parsed;
  if (json) {
    const absl::Status checked =
        CheckJsonConfig(text, ebb::v1::EbbConfig::descriptor());
    if (!checked.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": invalid JSON config: ", checked.message()));
    }
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    auto status = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(text.data(), text.size()), &parsed,
        options);
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          origin, ": invalid JSON config: ", status.message().as_string()));
    }
  } else {
    google::protobuf::TextFormat::Parser parser;
    CollectingErrors errors;
    parser.RecordErrorsTo(&errors);
    if (!parser.ParseFromString(std::string(text), &parsed)) {
      return absl::InvalidArgumentError(absl::StrCat(
          origin, ": invalid text-format config: ", errors.first()));
    }
  }
  // Unset scalars fall back to the defaults; configured rules replace the
  // default rule.
  ebb::v1::EbbConfig merged = DefaultConfig();
  if (!parsed.rules().empty()) merged.clear_rules();
  if (parsed.window().length().empty()) {
    parsed.mutable_window()->set_length(merged.window().length());
  }
  if (parsed.window().resolution().empty()) {
    parsed.mutable_window()->set_resolution(merged.window().resolution());
  }
  if (parsed.allowed_lateness().empty())
    parsed.set_allowed_lateness(merged.allowed_lateness());
  if (parsed.max_future().empty()) parsed.set_max_future(merged.max_future());
  merged.MergeFrom(parsed);
  return merged;
}

absl::StatusOr<EngineConfig> CompileConfig(const ebb::v1::EbbConfig& config) {
  EngineConfig out;
  ASSIGN_OR_RETURN(out.window.length,
                   ParseDuration(config.window().length(), "window.length"));
  if (out.window.length <= 0) return FieldError("window.length", "must be > 0");
  if (out.window.length > 3650 * kNanosPerDay) {
    return FieldError("window.length", "must be at most 3650d");
  }
  const std::string& resolution = config.window().resolution();
  if (resolution == "exact") {
    out.window.resolution = 0;
  } else {
    ASSIGN_OR_RETURN(out.window.resolution,
                     ParseDuration(resolution, "window.resolution"));
    if (out.window.resolution <= 0) {
      return FieldError("window.resolution", "must be > 0, or \"exact\"");
    }
    if (out.window.resolution > out.window.length ||
        out.window.length % out.window.resolution != 0) {
      return FieldError(
          "window.resolution",
          absl::StrCat("\"", resolution, "\" must divide window.length \"",
                       config.window().length(), "\""));
    }
  }
  ASSIGN_OR_RETURN(
      out.allowed_lateness,
      ParseDuration(config.allowed_lateness(), "allowed_lateness"));
  if (out.allowed_lateness > out.window.length) {
    return FieldError("allowed_lateness", "must not exceed window.length");
  }
  ASSIGN_OR_RETURN(out.max_future,
                   ParseDuration(config.max_future(), "max_future"));
  if (config.max_symbols() < 0) {
    return FieldError(
        "max_symbols",
        absl::StrCat(config.max_symbols(), " is negative (0 means no limit)"));
  }
  out.max_symbols = static_cast<uint64_t>(config.max_symbols());

  for (int i = 0; i < config.rules_size(); ++i) {
    const ebb::v1::RuleConfig& rc = config.rules(i);
    const std::string field = absl::StrCat("rules[", i, "]");
    RuleSpec rule;
    if (!IsValidRuleName(rc.name())) {
      return FieldError(
          absl::StrCat(field, ".name"),
          absl::StrCat("\"", rc.name(), "\" must be 1-64 of [A-Za-z0-9_.-]"));
    }
    for (const RuleSpec& other : out.rules) {
      if (other.name == rc.name()) {
        return FieldError(
            absl::StrCat(field, ".name"),
            absl::StrCat("\"", rc.name(), "\" is used by another rule"));
      }
    }
    rule.name = rc.name();
    if (rc.metric() == "drawdown" || rc.metric().empty()) {
      rule.metric = RuleMetric::kDrawdown;
    } else if (rc.metric() == "max_drawdown") {
      rule.metric = RuleMetric::kMaxDrawdown;
    } else if (rc.metric() == "decline") {
      rule.metric = RuleMetric::kDecline;
    } else {
      return FieldError(
          absl::StrCat(field, ".metric"),
          absl::StrCat("\"", rc.metric(),
                       "\" is not one of drawdown, max_drawdown, decline"));
    }
    if (rc.levels().empty())
      return FieldError(absl::StrCat(field, ".levels"), "at least one");
    for (int j = 0; j < rc.levels_size(); ++j) {
      const double t = rc.levels(j).threshold();
      const std::string lf = absl::StrCat(field, ".levels[", j, "].threshold");
      if (!std::isfinite(t) || t <= 0 || t >= 1) {
        return FieldError(lf, absl::StrFormat("%g is not in (0, 1)", t));
      }
      if (j > 0 && t <= rule.thresholds.back()) {
        return FieldError(
            lf, absl::StrFormat("%g is not above the previous level %g", t,
                                rule.thresholds.back()));
      }
      rule.thresholds.push_back(t);
      ebb::v1::Severity severity = rc.levels(j).severity();
      if (severity == ebb::v1::SEVERITY_UNSPECIFIED)
        severity = ebb::v1::WARNING;
      rule.severities.push_back(severity);
    }
    if (!std::isfinite(rc.rearm()) || rc.rearm() < 0 ||
        rc.rearm() >= rule.thresholds[0]) {
      return FieldError(absl::StrCat(field, ".rearm"),
                        absl::StrFormat("%g is not in [0, first level %g)",
                                        rc.rearm(), rule.thresholds[0]));
    }
    rule.rearm = rc.rearm();
    for (int j = 0; j < rc.symbols_size(); ++j) {
      if (rc.symbols(j).empty() || rc.symbols(j).size() > 256) {
        return FieldError(absl::StrCat(field, ".symbols[", j, "]"),
                          "must be 1-256 bytes");
      }
      if (const char* problem = GlobProblem(rc.symbols(j))) {
        return FieldError(absl::StrCat(field, ".symbols[", j, "]"),
                          absl::StrCat("\"", rc.symbols(j),
                                       "\" is not a valid glob: ", problem));
      }
      rule.symbol_globs.push_back(rc.symbols(j));
    }
    rule.require_full_window = rc.require_full_window();
    out.rules.push_back(std::move(rule));
  }

  // The hash covers what changes results: window, lateness, the symbol limit
  // and rules (not file paths). An unset limit prints nothing, so the hashes
  // of configs without one are unchanged.
  ebb::v1::EbbConfig effective;
  *effective.mutable_window() = config.window();
  effective.set_allowed_lateness(config.allowed_lateness());
  effective.set_max_symbols(config.max_symbols());
  *effective.mutable_rules() = config.rules();
  std::string serialized;
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  printer.PrintToString(effective, &serialized);
  out.config_hash = absl::StrFormat("%016x", StableHash64(serialized));
  return out;
}

}  // namespace ebb
