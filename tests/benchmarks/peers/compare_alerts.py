"""Compares alert files (JSON lines, as `ebb tail` and `ebb replay` print ebb.v1.Alert) on what
the drawdown job decides: id, symbol, transition, level, value, price and event time, sorted by
(symbol, event time, transition). Exit status 0 when every file equals the first, 1 otherwise.

    python3 compare_alerts.py NAME=FILE NAME=FILE...
"""

import json
import sys

ORDER = {"OPENED": 1, "ESCALATED": 2, "RESOLVED": 3}


def load(path):
    rows = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            a = json.loads(line)
            rows.append((a["symbol"], a["eventTime"], ORDER[a["transition"]], a["id"],
                         a["level"], a["value"], a["price"]))
    rows.sort()
    return rows


def main(argv):
    if len(argv) < 2 or any("=" not in a for a in argv):
        sys.exit(__doc__)
    named = [a.split("=", 1) for a in argv]
    (base_name, base_path), rest = named[0], named[1:]
    base = load(base_path)
    ok = True
    for name, path in rest:
        rows = load(path)
        if rows == base:
            print(f"compare: {name} equals {base_name}: {len(rows)} alerts")
            continue
        ok = False
        only_base = sorted(set(base) - set(rows))
        only_other = sorted(set(rows) - set(base))
        print(f"compare: {name} DIFFERS from {base_name}: {len(rows)} vs {len(base)} alerts, "
              f"{len(only_base)} only in {base_name}, {len(only_other)} only in {name}")
        for r in only_base[:5]:
            print(f"  only in {base_name}: {r}")
        for r in only_other[:5]:
            print(f"  only in {name}: {r}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
