#pragma once

// The rules stage: alert episodes per (symbol, rule) (docs/semantics.md,
// "Alerts").

#include <limits>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "ebb/v1/alert.pb.h"
#include "engine/config.h"
#include "window/drawdown_window.h"

namespace ebb {

// The episode state of one (symbol, rule). Plain data: SymbolState::Snapshot
// writes it as an ebb.v1.EpisodeSnapshot named by its rule.
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

// A metric's value reaches a level when it is at or above the level within
// kLevelTolerance: the metrics are fractions 1 - price / reference computed in
// doubles, and a person reads 100 -> 80 as a 20 % fall although
// 1 - 80.0 / 100.0 is 0.19999999999999996. The tolerance is 4 ulps of 1.0
// (8.9e-16); the rounding of the prices, the division and the level itself
// stay under 2 ulps, and two decimal prices that differ (up to 15 significant
// digits) put the fraction 1e-15 or more apart. So "reaches L" means
// price <= reference * (1 - L) as decimals, and "below B" means not reaching B.
inline constexpr double kLevelTolerance =
    4 * std::numeric_limits<double>::epsilon();
inline bool ReachesLevel(double value, double level) {
  return value >= level - kLevelTolerance;
}

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
