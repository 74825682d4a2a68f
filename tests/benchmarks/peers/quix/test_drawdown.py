"""The Quix peer's logic against ebb's own answers (`ebb replay --resolution exact` on the same
prices; the Kafka Streams peer's DrawdownAppTest holds the same cases).

    python3 -m unittest tests/benchmarks/peers/quix/test_drawdown.py
"""

import datetime
import math
import os
import random
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import drawdown  # noqa: E402


def ns(text):
    t = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(t.timestamp()) * 1_000_000_000


def run(events):
    states, out = {}, []
    for symbol, time, price in events:
        t = ns(time)
        w = states.setdefault(symbol, drawdown.new_state(t))
        peak, value, outcome = drawdown.apply(w, t, price)
        if outcome:
            transition, level, start = outcome
            out.append((drawdown.alert_id(symbol, drawdown.RULE, start, transition, level),
                        transition, drawdown.LEVELS[level], value, price, peak))
    return out


class DrawdownTest(unittest.TestCase):
    def test_opens_escalates_and_resolves_like_ebb(self):
        got = run([("AAA", "2025-01-01T00:00:00Z", 100), ("AAA", "2025-01-01T01:00:00Z", 90),
                   ("AAA", "2025-01-01T02:00:00Z", 85), ("AAA", "2025-01-01T03:00:00Z", 80),
                   ("AAA", "2025-01-01T04:00:00Z", 95)])
        self.assertEqual(got, [
            ("62f8d330956b2ebdaba1a2625e7d68ad", 1, 0.1, 0.09999999999999998, 90, 100),
            ("5ad09d3090f1203ba29fec62594a8feb", 2, 0.15, 0.15000000000000002, 85, 100),
            ("5ad09e3090f121eea29fed62594a919e", 2, 0.2, 0.19999999999999996, 80, 100),
            ("51cee7308bbe47799a77b66254d08169", 3, 0.2, 0.050000000000000044, 95, 100)])

    def test_a_jump_opens_at_the_highest_level_and_the_peak_leaves_after_30_days(self):
        got = run([("BBB", "2025-01-01T00:00:00Z", 100), ("BBB", "2025-01-01T01:00:00Z", 80),
                   ("BBB", "2025-01-02T00:00:00Z", 85), ("BBB", "2025-01-31T00:00:00Z", 84),
                   ("BBB", "2025-01-31T01:00:00Z", 84), ("BBB", "2025-02-01T00:00:00Z", 84)])
        self.assertEqual(got, [
            ("1bb4aa3a6d61236ee69753a06d9517de", 1, 0.2, 0.19999999999999996, 80, 100),
            ("2cdef43a770eaa6cf7c19da077429edc", 3, 0.2, 0.0117647058823529, 84, 85)])

    def test_the_deque_peak_equals_a_brute_force_peak(self):
        rng = random.Random(16)
        price, history, w = 100.0, [], None
        for i in range(5000):
            price *= math.exp(rng.gauss(0, 0.02))
            t = 1_735_689_600_000_000_000 + i * 3_600_000_000_000
            history.append((t, price))
            w = w or drawdown.new_state(t)
            peak, value, _ = drawdown.apply(w, t, price)
            expected = max(p for s, p in history if s > t - drawdown.WINDOW_NS)
            self.assertEqual(peak, expected)
            self.assertEqual(value, 1.0 - price / expected)


if __name__ == "__main__":
    unittest.main()
