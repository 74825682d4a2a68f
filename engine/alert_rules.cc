#include "engine/alert_rules.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ebb {

void ToProto(const PricePoint& point, ebb::v1::PricePoint* out) {
  out->set_price(point.price);
  ToTimestamp(point.time, out->mutable_time());
}

std::string AlertId(absl::string_view symbol, absl::string_view rule,
                    TimeNs episode_start, ebb::v1::Transition transition,
                    int level_index) {
  const std::string key =
      absl::StrCat(symbol, "\x1f", rule, "\x1f", episode_start, "\x1f",
                   static_cast<int>(transition), "\x1f", level_index);
  return absl::StrFormat("%016x%016x", StableHash64(key),
                         StableHash64(key, 0x9e3779b97f4a7c15ull));
}

std::optional<RuleOutcome> EvaluateRule(const RuleSpec& rule,
                                        const WindowMetrics& metrics,
                                        TimeNs time, AlertEpisode* episode) {
  if (rule.require_full_window && !metrics.full_window) return std::nullopt;
  double value;
  switch (rule.metric) {
    case RuleMetric::kDrawdown:
      value = metrics.drawdown;
      break;
    case RuleMetric::kMaxDrawdown:
      value = metrics.max_drawdown;
      break;
    case RuleMetric::kDecline:
      if (!metrics.change.has_value()) return std::nullopt;
      value = -*metrics.change;
      break;
    default:
      return std::nullopt;
  }
  int level = -1;
  const int levels = static_cast<int>(rule.thresholds.size());
  while (level + 1 < levels &&
         ReachesLevel(value, rule.thresholds[level + 1])) {
    ++level;
  }

  if (!episode->active) {
    if (level < 0) return std::nullopt;
    episode->active = true;
    episode->reached = level;
    episode->start = time;
    return RuleOutcome{ebb::v1::OPENED, level, value};
  }
  if (level > episode->reached) {
    episode->reached = level;
    return RuleOutcome{ebb::v1::ESCALATED, level, value};
  }
  if (!ReachesLevel(value, rule.thresholds[0] - rule.rearm)) {
    episode->active = false;
    return RuleOutcome{ebb::v1::RESOLVED, episode->reached, value};
  }
  return std::nullopt;
}

void BuildAlert(const RuleSpec& rule, const RuleOutcome& outcome,
                const AlertEpisode& episode, const AlertContext& context,
                TimeNs window_length, ebb::v1::Alert* alert) {
  const WindowMetrics& m = *context.metrics;
  alert->set_id(AlertId(context.symbol, rule.name, episode.start,
                        outcome.transition, outcome.level_index));
  alert->set_symbol(std::string(context.symbol));
  alert->set_rule(rule.name);
  alert->set_transition(outcome.transition);
  alert->set_level(rule.thresholds[outcome.level_index]);
  alert->set_severity(rule.severities[outcome.level_index]);
  alert->set_metric(std::string(RuleMetricName(rule.metric)));
  alert->set_value(outcome.value);
  alert->set_price(context.price);
  ToTimestamp(context.time, alert->mutable_event_time());
  ToTimestamp(episode.start, alert->mutable_episode_start());
  if (rule.metric == RuleMetric::kMaxDrawdown) {
    ToProto(m.mdd_peak, alert->mutable_peak());
    ToProto(m.mdd_trough, alert->mutable_trough());
  } else {
    ToProto(m.peak, alert->mutable_peak());
  }
  ToDuration(window_length, alert->mutable_window());
  if (m.change.has_value()) alert->set_change(*m.change);
  alert->set_full_window(m.full_window);
}

}  // namespace ebb
