#!/usr/bin/env bash
# End-to-end throughput of `ebb replay` on one core.
#
#   scripts/bench_replay.sh [--rows 10000000] [--days 70] [--repeat 3] [--small-repeat 5]
#                           [--modes "1m exact"] [--no-pin] [--keep] [--no-real]
#
# Generates a synthetic 1-minute feed of about --rows rows (default: 100 symbols x 70 days x
# 1,440 minutes = 10,080,000 rows; the 30-day window is full for the last 40 days, so most events
# run in steady state with eviction) as CSV and as length-delimited protobuf (binpb), then replays:
#   - each real minute file of ../shared/data/prices/minute (43,200 rows each), and all three together;
#   - the generated CSV and the generated binpb;
# in the default 1m-bucketed mode and in exact mode, pinned to one core with `taskset -c 1`.
# Alerts go to /dev/null; no metrics output. Each run is repeated and medians are printed.
#
# Three timings per run:
#   wall   = the whole process (fork/exec, start-up, opening files, replay, flush, exit), measured
#            with bash's `time` keyword (no timing process of its own);
#   cpu    = user + sys CPU time of that process (the same `time`), which does not grow when other
#            work shares the core: the steadier figure on a busy machine;
#   replay = the replay's own summary line ("N records in S s (R M records/s)"), which ebb measures
#            from just before the first record is read to after the outputs are closed.
# `--quiet` would suppress that summary, so runs use `--no-progress` instead (the progress line
# only draws on a terminal anyway) and parse stderr.
#
# Targets (one core): CSV >= 1.5 M rows/s, binary protobuf >= 2.5 M events/s.
# Environment: EBB=path/to/ebb (default build/release/apps/ebb, else build/me/apps/ebb);
# EBB_DATA=path/to/shared/data (default ../shared/data); BENCH_DIR (default build/bench).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

rows=10000000
days=70
repeat=3
small_repeat=5
modes="1m exact"
pin=1
keep=0
real=1
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --rows) rows=${2:?--rows needs a number}; shift 2 ;;
    --days) days=${2:?--days needs a number}; shift 2 ;;
    --repeat) repeat=${2:?--repeat needs a number}; shift 2 ;;
    --small-repeat) small_repeat=${2:?--small-repeat needs a number}; shift 2 ;;
    --modes) modes=${2:?--modes needs a list}; shift 2 ;;
    --no-pin) pin=0; shift ;;
    --keep) keep=1; shift ;;
    --no-real) real=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench_replay: unknown argument: $1 (see --help)" >&2; exit 1 ;;
  esac
done
for n in "$rows" "$days" "$repeat" "$small_repeat"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "bench_replay: expected a positive whole number, got '$n'" >&2; exit 1; }
done

# --- the binary -----------------------------------------------------------------------------
if [[ -n ${EBB:-} ]]; then
  [[ -x $EBB ]] || { echo "bench_replay: EBB=$EBB is not an executable file" >&2; exit 1; }
elif [[ -x build/release/apps/ebb ]]; then
  EBB=build/release/apps/ebb
elif [[ -x build/me/apps/ebb ]]; then
  EBB=build/me/apps/ebb
else
  cat >&2 <<'EOF'
bench_replay: no ebb binary found (looked at build/release/apps/ebb and build/me/apps/ebb).
Build it first, e.g.:  scripts/setup.sh   (or: cmake --build build/release -j2 --target ebb)
or point EBB at one:   EBB=path/to/ebb scripts/bench_replay.sh
EOF
  exit 1
fi
EBB=$(cd "$(dirname "$EBB")" && pwd)/$(basename "$EBB")

# The script pins itself (its children inherit the affinity), so that no taskset process is
# started, and timed, with each run.
pinned=no
if [[ $pin == 1 ]]; then
  for core in 1 0; do
    if command -v taskset >/dev/null 2>&1 && taskset -cp "$core" $$ >/dev/null 2>&1; then
      pinned="core $core"
      break
    fi
  done
  [[ $pinned != no ]] || echo "bench_replay: taskset unavailable; running unpinned" >&2
fi

DATA=${EBB_DATA:-$ROOT/../shared/data}
MINUTE_DIR=$DATA/prices/minute
REAL_FILES=()
if [[ $real == 1 ]]; then
  if [[ -d $MINUTE_DIR ]]; then
    for f in BTCUSDT_bybit_1m_2025-06.csv DOTUSDT_binance_1m_2025-11.csv NEARUSDT_binance_1m_2025-11.csv; do
      [[ -r $MINUTE_DIR/$f ]] && REAL_FILES+=("$MINUTE_DIR/$f")
    done
  fi
  [[ ${#REAL_FILES[@]} -gt 0 ]] || echo "bench_replay: $MINUTE_DIR not found: skipping the real minute files" >&2
fi

# --- scratch space ----------------------------------------------------------------------------
bench_root=${BENCH_DIR:-$ROOT/build/bench}
mkdir -p "$bench_root"
work=$(mktemp -d "$bench_root/replay.XXXXXX")
cleanup() {
  if [[ $keep == 1 ]]; then echo "bench_replay: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Each run is timed with bash's `time` keyword: wall (real) and CPU time (user + sys; unlike wall
# time it does not grow when other work shares the core, so it is the steadier figure on a busy
# machine), in milliseconds, with no process of its own. (A GNU time process, a taskset process
# and two $(...) subshells per run used to be timed with it: about 10 ms, a third of the wall
# time of a 43,200-row file.)
TIMEFORMAT='%3R %3U %3S'
calc() { awk "BEGIN { printf \"%.6f\\n\", $1 }"; }  # floating-point arithmetic
now() { echo "${EPOCHREALTIME/,/.}"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

interval_rows=$(( days * 1440 ))
symbols=$(( (rows + interval_rows - 1) / interval_rows ))  # round up: at least --rows rows
(( symbols >= 1 )) || symbols=1
gen_rows=$(( symbols * interval_rows ))

echo "ebb:      $EBB ($(stat -c '%y' "$EBB" | cut -d. -f1))"
# A binary older than the sources measures old code: say so with the figures.
newer=$(find apps base connectors engine proto window -type f \( -name '*.cc' -o -name '*.h' -o -name '*.proto' \) \
  -newer "$EBB" 2>/dev/null | head -3 | tr '\n' ' ')
if [[ -n $newer ]]; then
  echo "WARNING:  the binary is older than sources ($newer...): rebuild it (e.g. cmake --build"
  echo "          $(dirname "$(dirname "${EBB#"$ROOT"/}")") -j2 --target ebb) or these figures describe old code"
fi
echo "cpu:      $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //') x $(nproc --all); pinned: $pinned"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) before the runs"
echo "feed:     ebb generate --symbols $symbols --days $days --interval 1m --seed 7 => $gen_rows rows"
echo "repeats:  $repeat (generated feed), $small_repeat (real files); medians shown"
echo

t0=$(now)
"$EBB" generate --symbols "$symbols" --days "$days" --interval 1m --seed 7 --format csv \
  --out "$work/feed.csv" --no-progress
t1=$(now)
"$EBB" generate --symbols "$symbols" --days "$days" --interval 1m --seed 7 --format binpb \
  --out "$work/feed.binpb" --no-progress
t2=$(now)
printf 'generated: feed.csv %s MB in %.1f s, feed.binpb %s MB in %.1f s\n\n' \
  "$(( $(stat -c %s "$work/feed.csv") / 1000000 ))" "$(calc "$t1 - $t0")" \
  "$(( $(stat -c %s "$work/feed.binpb") / 1000000 ))" "$(calc "$t2 - $t1")"

# run_case LABEL KIND MODE REPEATS FILE...: appends one result line to $work/results.
run_case() {
  local label=$1 kind=$2 mode=$3 reps=$4
  shift 4
  local prices=()
  for f in "$@"; do prices+=(--prices "$f"); cat "$f" >/dev/null; done  # warm the page cache
  : >"$work/wall" ; : >"$work/rate" ; : >"$work/cpu"
  local records="" rejected="" i line
  for (( i = 0; i < reps; ++i )); do
    if ! { time "$EBB" replay "${prices[@]}" --resolution "$mode" \
        --alerts-out /dev/null --no-progress 2>"$work/stderr"; } 2>"$work/time"; then
      echo "bench_replay: ebb replay failed for $label ($mode):" >&2
      cat "$work/stderr" >&2
      exit 1
    fi
    line=$(grep -m1 '^ebb replay: ' "$work/stderr" || true)
    if [[ ! $line =~ ,\ ([0-9,]+)\ records\ in\ ([0-9.]+)\ s\ \(([0-9.]+)\ M\ records/s\) ]]; then
      echo "bench_replay: cannot parse the replay summary for $label:" >&2
      cat "$work/stderr" >&2
      exit 1
    fi
    records=${BASH_REMATCH[1]//,/}
    echo "${BASH_REMATCH[3]}" >>"$work/rate"
    awk '{ print $1 }' "$work/time" >>"$work/wall"
    awk '{ print $2 + $3 }' "$work/time" >>"$work/cpu"
    rejected=$(awk '$1 == "rejected" { print $2; exit }' "$work/stderr")
  done
  local wall rate cpu
  wall=$(median <"$work/wall")
  rate=$(median <"$work/rate")
  cpu=$(median <"$work/cpu")
  echo "$label|$kind|$mode|$records|$wall|$rate|${rejected:-?}|$(sort -g "$work/wall" | head -1)|$(sort -g "$work/wall" | tail -1)|$cpu" >>"$work/results"
  printf '  done: %-34s %-5s %s runs\n' "$label" "$mode" "$reps" >&2
}

: >"$work/results"
for mode in $modes; do
  if [[ ${#REAL_FILES[@]} -gt 0 ]]; then
    for f in "${REAL_FILES[@]}"; do
      run_case "$(basename "$f")" csv "$mode" "$small_repeat" "$f"
    done
    if [[ ${#REAL_FILES[@]} -gt 1 ]]; then
      run_case "real minute files together (${#REAL_FILES[@]})" csv "$mode" "$small_repeat" "${REAL_FILES[@]}"
    fi
  fi
  run_case "generated feed.csv" csv "$mode" "$repeat" "$work/feed.csv"
  run_case "generated feed.binpb" binpb "$mode" "$repeat" "$work/feed.binpb"
done

echo
echo "wall   = whole process, median of the runs (min..max in brackets), bash's time keyword"
echo "cpu    = user + sys CPU time of the whole process (the same), median"
echo "replay = ebb's own summary line: records / its elapsed time from the first record read to the"
echo "         outputs closed (reading, decoding, validating, all metrics, alert rules)"
echo "target = CSV >= 1.5 M rows/s, binpb >= 2.5 M events/s, one core; verdicts on the wall, cpu and"
echo "         replay rates (W C R)"
echo
fmt='%-33s %-5s %-5s %10s %22s %8s %7s %8s %8s  %-4s %-4s %-4s %s\n'
printf "$fmt" input fmt mode rows "wall s [min..max]" "wall M/s" "cpu s" "cpu M/s" "rpl M/s" W C R rejected
printf "$fmt" "---------------------------------" ----- ----- ---------- ---------------------- -------- ------- -------- -------- ---- ---- ---- --------
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { if (r == "nan" || r == "") print "n/a"; else print (r + 0 >= t ? "PASS" : "MISS") }'; }
while IFS='|' read -r label kind mode records wall rate rejected wmin wmax cpu; do
  target=1.5; [[ $kind == binpb ]] && target=2.5
  wall_rate=$(calc "$records / $wall / 1000000")
  cpu_rate=nan; cpu_s=n/a
  if [[ $cpu != nan ]] && awk -v c="$cpu" 'BEGIN { exit !(c > 0) }'; then
    cpu_rate=$(calc "$records / $cpu / 1000000")
    cpu_s=$(printf '%.2f' "$cpu")
  fi
  printf "$fmt" "$label" "$kind" "$mode" "$records" \
    "$(printf '%.3f [%.3f..%.3f]' "$wall" "$wmin" "$wmax")" "$(printf '%.2f' "$wall_rate")" \
    "$cpu_s" "$( [[ $cpu_rate == nan ]] && echo n/a || printf '%.2f' "$cpu_rate")" \
    "$(printf '%.2f' "$rate")" "$(verdict "$wall_rate" "$target")" "$(verdict "$cpu_rate" "$target")" \
    "$(verdict "$rate" "$target")" "$rejected"
done <"$work/results"
echo
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) after the runs"
echo "note: the real files are 43,200 rows each: about half of their wall time is process start-up"
echo "      (loading librdkafka and its TLS and SASL libraries) and exit."
