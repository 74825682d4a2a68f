package dev.ebb.peers.kstreams;

/**
 * ebb's default rule (engine/config.cc DefaultConfig, engine/alert_rules.cc EvaluateRule):
 * drawdown levels 0.10 / 0.15 (WARNING) and 0.20 (CRITICAL), re-arm margin 0.02.
 */
final class DrawdownRule {
  static final String NAME = "drawdown";
  static final double[] LEVELS = {0.10, 0.15, 0.20};
  static final double REARM = 0.02;
  /** 4 ulps of 1.0: "reaches" as a person reads prices (engine/alert_rules.h ReachesLevel). */
  static final double TOLERANCE = 4 * Math.ulp(1.0);

  static final int OPENED = 1;
  static final int ESCALATED = 2;
  static final int RESOLVED = 3;

  private DrawdownRule() {}

  static boolean reaches(double value, double level) {
    return value >= level - TOLERANCE;
  }

  /** The transition an event causes, applied to the episode; or null. */
  record Outcome(int transition, int levelIndex, long episodeStart) {}

  /** Mutable episode state of one symbol (part of its stored window). */
  static final class Episode {
    boolean active;
    int reached = -1;
    long start;
  }

  static Outcome evaluate(double value, long timeNanos, Episode episode) {
    int level = -1;
    while (level + 1 < LEVELS.length && reaches(value, LEVELS[level + 1])) ++level;
    if (!episode.active) {
      if (level < 0) return null;
      episode.active = true;
      episode.reached = level;
      episode.start = timeNanos;
      return new Outcome(OPENED, level, timeNanos);
    }
    if (level > episode.reached) {
      episode.reached = level;
      return new Outcome(ESCALATED, level, episode.start);
    }
    if (!reaches(value, LEVELS[0] - REARM)) {
      episode.active = false;
      return new Outcome(RESOLVED, episode.reached, episode.start);
    }
    return null;
  }
}
