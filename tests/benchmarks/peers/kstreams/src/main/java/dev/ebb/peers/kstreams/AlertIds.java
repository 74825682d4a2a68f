package dev.ebb.peers.kstreams;

import java.nio.charset.StandardCharsets;

/** ebb's deterministic alert ids (engine/alert_rules.cc AlertId, engine/config.cc StableHash64). */
final class AlertIds {
  private static final long FNV_OFFSET = 0xcbf29ce484222325L;
  private static final long SECOND_SEED = 0x9e3779b97f4a7c15L;
  private static final long FNV_PRIME = 0x100000001b3L;

  private AlertIds() {}

  /** FNV-1a over the bytes, 64 bits, from a seed. */
  static long stableHash64(byte[] bytes, long seed) {
    long h = seed;
    for (byte b : bytes) {
      h ^= (b & 0xff);
      h *= FNV_PRIME;
    }
    return h;
  }

  /**
   * 32 hex digits from (symbol, rule, episode start in ns since the epoch, transition number,
   * level index), joined with 0x1f.
   */
  static String alertId(String symbol, String rule, long episodeStartNanos, int transition,
      int levelIndex) {
    byte[] key = (symbol + '\u001f' + rule + '\u001f' + episodeStartNanos + '\u001f' + transition
        + '\u001f' + levelIndex).getBytes(StandardCharsets.UTF_8);
    return String.format("%016x%016x", stableHash64(key, FNV_OFFSET),
        stableHash64(key, SECOND_SEED));
  }
}
