#!/usr/bin/env bash
# ebb's main job on its embedded default: sets up and builds if needed, starts an embedded Kafka
# broker, generates a feed with a market crash (12 symbols, 120 days, hourly), and runs the
# streaming job on it: `ebb run` consumes ebb.prices while `ebb produce` publishes the feed, and
# `ebb tail` (the reference subscriber) prints each alert from ebb.alerts as a JSON line as it
# arrives. `ebb run` stops by itself once the feed is drained (--exit-when-idle) and prints its
# summary. Extra arguments go to `ebb run`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
ebb=build/release/apps/ebb
dir=build/demo
mkdir -p "$dir"

pids=()
cleanup() {  # the subscriber first, the broker last
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
}
trap cleanup EXIT

$ebb generate --symbols 12 --days 120 --interval 1h --seed 42 --out "$dir/feed.csv"
$ebb broker >"$dir/broker.txt" 2>"$dir/broker.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s $dir/broker.txt ]] && break; sleep 0.1; done
brokers=$(head -1 "$dir/broker.txt")
echo "ebb demo: embedded Kafka broker at $brokers; a crash on day 60 of 120 (12 symbols, hourly)" >&2

$ebb tail --brokers "$brokers" --from-beginning &
tail_pid=$!
pids+=($tail_pid)
$ebb run --brokers "$brokers" --group demo --from-beginning --exit-when-idle 3s "$@" &
run_pid=$!
pids+=($run_pid)
$ebb produce --brokers "$brokers" --no-progress "$dir/feed.csv"
status=0
wait $run_pid || status=$?
sleep 1  # the last alerts reach the subscriber
exit $status
