"""ebb's drawdown job as plain Python: the logic of the Quix Streams peer, without Kafka.

Per symbol the state is one list (JSON-friendly, as Quix stores state):
    [newest_ns, first_ns, active, reached, episode_start_ns, times_ns, prices]
where times/prices are the monotonic deque of peak candidates of the window (t - 30d, t]:
the events that no later event reaches or exceeds, oldest first, so the front is the rolling
peak. The rule is ebb's default (engine/config.cc DefaultConfig, engine/alert_rules.cc).
"""

import sys

WINDOW_NS = 30 * 86_400 * 1_000_000_000
RULE = "drawdown"
LEVELS = (0.10, 0.15, 0.20)
SEVERITIES = ("WARNING", "WARNING", "CRITICAL")
REARM = 0.02
# "Reaches" as a person reads prices: within 4 ulps of 1.0 (engine/alert_rules.h ReachesLevel).
TOLERANCE = 4 * sys.float_info.epsilon
OPENED, ESCALATED, RESOLVED = 1, 2, 3

NEWEST, FIRST, ACTIVE, REACHED, START, TIMES, PRICES = range(7)

_MASK = (1 << 64) - 1


def stable_hash64(data: bytes, seed: int = 0xCBF29CE484222325) -> int:
    """FNV-1a, 64 bits (engine/config.cc StableHash64)."""
    h = seed
    for c in data:
        h = ((h ^ c) * 0x100000001B3) & _MASK
    return h


def alert_id(symbol: str, rule: str, episode_start_ns: int, transition: int, level: int) -> str:
    """ebb's deterministic alert id (engine/alert_rules.cc AlertId)."""
    key = f"{symbol}\x1f{rule}\x1f{episode_start_ns}\x1f{transition}\x1f{level}".encode()
    return "%016x%016x" % (stable_hash64(key), stable_hash64(key, 0x9E3779B97F4A7C15))


def reaches(value: float, level: float) -> bool:
    return value >= level - TOLERANCE


def new_state(time_ns: int) -> list:
    return [time_ns, time_ns, False, -1, 0, [], []]


def apply(w: list, time_ns: int, price: float):
    """Applies an event at or after w[NEWEST]; returns (peak, drawdown, transition or None).

    A transition is (transition, level index, episode start ns)."""
    times, prices = w[TIMES], w[PRICES]
    while prices and prices[-1] <= price:
        prices.pop()
        times.pop()
    times.append(time_ns)
    prices.append(price)
    edge = time_ns - WINDOW_NS
    k = 0
    while times[k] <= edge:  # never the new event: its time is > edge
        k += 1
    if k:
        del times[:k]
        del prices[:k]
    w[NEWEST] = time_ns
    peak = prices[0]
    drawdown = 1.0 - price / peak

    level = -1
    while level + 1 < len(LEVELS) and reaches(drawdown, LEVELS[level + 1]):
        level += 1
    if not w[ACTIVE]:
        if level < 0:
            return peak, drawdown, None
        w[ACTIVE], w[REACHED], w[START] = True, level, time_ns
        return peak, drawdown, (OPENED, level, time_ns)
    if level > w[REACHED]:
        w[REACHED] = level
        return peak, drawdown, (ESCALATED, level, w[START])
    if not reaches(drawdown, LEVELS[0] - REARM):
        w[ACTIVE] = False
        return peak, drawdown, (RESOLVED, w[REACHED], w[START])
    return peak, drawdown, None
