#!/usr/bin/env bash
# ebb's main job on its embedded default: sets up and builds if needed, generates a synthetic
# feed with a crash (12 symbols, 120 days, hourly), replays it and prints the alerts as JSON
# lines on stdout, with the replay summary on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
ebb=build/release/apps/ebb
mkdir -p build/demo
$ebb generate --symbols 12 --days 120 --interval 1h --seed 42 --out build/demo/feed.csv
echo "Replaying build/demo/feed.csv (12 symbols, 120 days, hourly; a market crash on day 60):" >&2
$ebb replay --prices build/demo/feed.csv --dlq-out build/demo/dead-letters.jsonl "$@"
