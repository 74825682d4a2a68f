#pragma once

// The rules stage: alert episodes per (symbol, rule) (docs/semantics.md,
// "Alerts").

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "ebb/v1/alert.pb.h"
#include "pipeline/config.h"
#include "pipeline/drawdown_window.h"

namespace ebb {

// The episode state of one (symbol, rule). Plain data: snapshotted with the
// symbol's state.
struct AlertEpisode {
  bool active = false;
  int reached = -1;  // index of the highest level reached in this episode
  TimeNs start = 0;  // event time of the OPENED transition
};

// What an alert needs to know about the event that caused it.
struct AlertContext {
  absl::string_view symbol;
  TimeNs time = 0;
  double price = 0;
  const WindowMetrics* metrics = nullptr;
};

// Copies a price point into its message.
void ToProto(const PricePoint& point, ebb::v1::PricePoint* out);

// Deterministic alert id: 32 hex digits from (symbol, rule, episode start,
// transition, level).
std::string AlertId(absl::string_view symbol, absl::string_view rule,
                    TimeNs episode_start, ebb::v1::Transition transition,
                    int level_index);

// Evaluates one rule against one event, advancing `episode`. Returns the
// transition it causes (one at most: a jump over several levels reports the
// highest), or nullopt.
struct RuleOutcome {
  ebb::v1::Transition transition;
  int level_index;
  double value;
};
std::optional<RuleOutcome> EvaluateRule(const RuleSpec& rule,
                                        const WindowMetrics& metrics,
                                        TimeNs time, AlertEpisode* episode);

// Builds the alert message for an outcome (provenance is filled by the caller).
void BuildAlert(const RuleSpec& rule, const RuleOutcome& outcome,
                const AlertEpisode& episode, const AlertContext& context,
                TimeNs window_length, ebb::v1::Alert* alert);

}  // namespace ebb
