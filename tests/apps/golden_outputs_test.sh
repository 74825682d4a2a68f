#!/usr/bin/env bash
# `ebb replay` of every price series in ../shared/data gives the same alerts, metrics and dead
# letters as the commit that recorded tests/apps/golden_outputs.sha256: a guard for changes that
# must not change results (refactors, speed work). Each series alone and all daily series
# together, in exact mode and in the default 1-hour buckets; the daily series also with 1-day
# buckets and a 3-day lateness.
#
#   tests/apps/golden_outputs_test.sh             check (exit 1 on a difference, 77 without data)
#   tests/apps/golden_outputs_test.sh --update    record the current outputs as the reference
#
# Environment: EBB_BINARY (default build/release/apps/ebb), EBB_SHARED_DATA (default
# ../shared/data beside the checkout).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ebb=${EBB_BINARY:-$root/build/release/apps/ebb}
data=${EBB_SHARED_DATA:-$root/../shared/data}
reference=$here/golden_outputs.sha256
if [[ ! -d $data/prices ]]; then
  echo "golden_outputs: $data/prices not found: the check needs ../shared/data beside the checkout"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Alerts name their source file: relative paths, so that the outputs do not depend on where the
# checkout is.
ebb=$(realpath "$ebb")
cd "$data"

# name, then replay arguments
runs=()
add() { runs+=("$*"); }
daily=()
for f in prices/daily/*.csv; do
  name=$(basename "$f" .csv)
  daily+=(--prices "$f")
  add "daily-$name-exact --resolution exact --prices $f"
  add "daily-$name-1h --prices $f"
done
for f in prices/minute/*.csv; do
  name=$(basename "$f" .csv)
  add "minute-$name-exact --resolution exact --prices $f"
  add "minute-$name-1h --prices $f"
done
add "daily-all-exact --resolution exact ${daily[*]}"
add "daily-all-1h ${daily[*]}"
add "daily-all-1d-late3d --resolution 1d --lateness 3d ${daily[*]}"

actual=$work/actual.sha256
for run in "${runs[@]}"; do
  read -r name args <<<"$run"
  # shellcheck disable=SC2086  # args are paths without spaces and flags
  if ! "$ebb" replay --no-progress --quiet $args --alerts-out "$work/$name.alerts.jsonl" \
      --metrics-out "$work/$name.metrics.jsonl" --dlq-out "$work/$name.dlq.jsonl" \
      2>"$work/$name.err"; then
    echo "golden_outputs: ebb replay failed for $name:"; cat "$work/$name.err"; exit 1
  fi
  for kind in alerts metrics dlq; do
    (cd "$work" && sha256sum "$name.$kind.jsonl") >>"$actual"
  done
done

if [[ ${1:-} == --update ]]; then
  cp "$actual" "$reference"
  echo "golden_outputs: recorded $(wc -l <"$reference") outputs of ${#runs[@]} replays in $reference"
  exit 0
fi
if ! diff -u "$reference" "$actual" >"$work/diff"; then
  echo "golden_outputs: outputs differ from $reference (- recorded, + now):"
  cat "$work/diff"
  exit 1
fi
echo "golden_outputs: ${#runs[@]} replays, $(wc -l <"$actual") outputs equal to the recorded ones"
