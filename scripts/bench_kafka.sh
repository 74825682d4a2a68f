#!/usr/bin/env bash
# Kafka figures for ebb, and ebb next to other consumers of the same kind of topic.
#
#   scripts/bench_kafka.sh [--quick] [--no-bench] [--no-memory]
#   scripts/bench_kafka.sh --real [-- EBB_KAFKA_BENCH-ARGS...]
#
# --real: only the figures through a real Apache Kafka broker. Starts one with
# scripts/kafka.sh in a temporary directory (under BENCH_DIR), runs
#   ebb_kafka_bench --brokers=B --broker-pid=PID [ARGS...]
# (throughput next to bare librdkafka with CPU seconds, then the latency runs at 10K and 100K
# events/s interleaved, 3 of each; the program creates its topics, retention.ms=-1), and stops
# the broker on exit (trap), whatever the result. Without --real:
# 1. Builds `ebb` and `ebb_kafka_bench` in build/release (configured already).
# 2. Runs `ebb_kafka_bench` (consume throughput of StreamRunner next to bare librdkafka, and
#    StreamRunner latencies, on an embedded broker), then `ebb_kafka_bench memory-hourly` and
#    `ebb_kafka_bench memory-minute` (--quick: 7 days instead of 30), each in a process of its
#    own. See tests/benchmarks/kafka_bench.cc for what each figure means.
# 3. Starts `ebb broker --topic ebb.prices:8`, generates 2,000 symbols x 14 days hourly (672,000
#    events) with `ebb generate --format csv`, publishes it with `ebb produce`, checks that the
#    broker kept every message (its limit: 100,000 messages or 5 MB per partition), then times,
#    one after the other on that topic:
#      kcat     kcat -C -b B -t ebb.prices -o beginning -e -q > /dev/null (no group, no parsing)
#      python   /usr/bin/python3 with confluent-kafka: assign() at the beginning, consume() in
#               batches of 10,000, parse each ebb.v1.PriceEvent (classes from protoc
#               --python_out), and keep a naive 30-day rolling max drawdown per symbol: a deque
#               of (time, price) per symbol, rescanned on every event
#      ebb run  ebb run --brokers B --from-beginning --no-warm-start --exit-when-idle 2s
#      ebb run  the same again in a second group, for the run-to-run spread
#    events/s = messages / wall time of the command (start-up, connecting, group join and the
#    idle exit included). For python, also from its first message to its last; for ebb run,
#    also from its "partitions assigned" line to its exit minus the 2 s idle exit ("approx.":
#    the idle exit fires 2.0-2.1 s after the last message, then commits and leaves the group).
# The broker is stopped on exit (trap). Environment: BENCH_DIR (default build/bench).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

quick=0
bench=1
memory=1
real=0
real_args=()
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) quick=1; shift ;;
    --no-bench) bench=0; shift ;;
    --no-memory) memory=0; shift ;;
    --real) real=1; shift ;;
    --) shift; real_args=("$@"); break ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench_kafka: unknown argument: $1 (see --help)" >&2; exit 1 ;;
  esac
done

BUILD=$ROOT/build/release
EBB=$BUILD/apps/ebb
KB=$BUILD/tests/benchmarks/ebb_kafka_bench
PY=/usr/bin/python3
for tool in kcat protoc "$PY"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench_kafka: $tool not found" >&2; exit 1; }
done

now() { echo "${EPOCHREALTIME/,/.}"; }
calc() { awk "BEGIN { printf \"%.6f\\n\", $1 }"; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "n/a" }'; }
script_start=$(now)
part() { printf '[%s] wall time of %s: %.1f s\n\n' "$(date +%T)" "$1" "$(calc "$(now) - $2")"; }

# --- build ------------------------------------------------------------------------------------
t=$(now)
cmake --build "$BUILD" -j2 --target ebb ebb_kafka_bench >/dev/null
part "the build" "$t"

# --- a real broker (--real) ----------------------------------------------------------------------
if [[ $real == 1 ]]; then
  mkdir -p "${BENCH_DIR:-$ROOT/build/bench}"
  kdir=$(mktemp -d "${BENCH_DIR:-$ROOT/build/bench}/kafka-real.XXXXXX")
  stop_broker() {
    scripts/kafka.sh stop --dir "$kdir" >/dev/null 2>&1 || scripts/kafka.sh kill --dir "$kdir" >/dev/null 2>&1 || true
    rm -rf "$kdir"
  }
  trap stop_broker EXIT
  trap 'exit 130' INT TERM
  t=$(now)
  B=$(scripts/kafka.sh start --dir "$kdir" | tail -1)
  pid=$(<"$kdir/kafka.pid")
  echo "broker: Apache Kafka at $B (scripts/kafka.sh start --dir $kdir; pid $pid), started in $(printf '%.1f' "$(calc "$(now) - $t")") s"
  echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
  echo "\$ $KB --brokers=$B --broker-pid=$pid ${real_args[*]}"
  t=$(now)
  "$KB" --brokers="$B" --broker-pid="$pid" "${real_args[@]}" 2> >(grep -v '^ebb run: ' >&2)
  echo "machine: load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  part "ebb_kafka_bench on the real broker" "$t"
  exit 0
fi

# --- ebb_kafka_bench ----------------------------------------------------------------------------
if [[ $bench == 1 ]]; then
  echo "\$ $KB"
  t=$(now)
  "$KB" 2> >(grep -v '^ebb run: ' >&2)  # the runner's assignment lines are noise here
  part "ebb_kafka_bench (throughput + latency)" "$t"
fi
if [[ $memory == 1 ]]; then
  echo "\$ $KB memory-hourly"
  t=$(now)
  "$KB" memory-hourly
  part "memory-hourly" "$t"
  minute_args=(memory-minute)
  [[ $quick == 1 ]] && minute_args+=(--quick)
  echo "\$ $KB ${minute_args[*]}"
  t=$(now)
  "$KB" "${minute_args[@]}"
  part "memory-minute" "$t"
fi

# --- the comparison -----------------------------------------------------------------------------
mkdir -p "${BENCH_DIR:-$ROOT/build/bench}"
work=$(mktemp -d "${BENCH_DIR:-$ROOT/build/bench}/kafka.XXXXXX")
broker_pid=""
cleanup() {
  if [[ -n $broker_pid ]]; then
    kill "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

compare_start=$(now)
echo "== comparison on one topic: kcat, Python confluent-kafka, ebb run"
"$EBB" broker --topic ebb.prices:8 >"$work/broker.out" 2>"$work/broker.err" &
broker_pid=$!
for _ in $(seq 100); do [[ -s $work/broker.out ]] && break; sleep 0.1; done
B=$(head -1 "$work/broker.out")
[[ -n $B ]] || { echo "bench_kafka: the broker did not start:" >&2; cat "$work/broker.err" >&2; exit 1; }
echo "broker: $B (ebb broker --topic ebb.prices:8, pid $broker_pid)"

t=$(now)
"$EBB" generate --symbols 2000 --days 14 --interval 1h --format csv --out "$work/feed.csv" --no-progress
"$EBB" produce --brokers "$B" --no-progress "$work/feed.csv" 2>"$work/produce.err" || {
  cat "$work/produce.err" >&2; exit 1; }
rows=$(( $(wc -l <"$work/feed.csv") - 1 ))
echo "published: $rows events from ebb generate --symbols 2000 --days 14 --interval 1h (in $(printf '%.1f' "$(calc "$(now) - $t")") s)"

# Python classes for ebb.v1.PriceEvent.
mkdir -p "$work/py"
protoc -I proto -I /usr/include --python_out="$work/py" proto/ebb/v1/events.proto

# What the broker kept: every message, or the comparison would be of different inputs.
cat >"$work/marks.py" <<'EOF'
import sys
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "bench-marks"})
parts = sorted(c.list_topics("ebb.prices", timeout=10).topics["ebb.prices"].partitions)
low_sum = total = 0
marks = []
for p in parts:
    low, high = c.get_watermark_offsets(TopicPartition("ebb.prices", p), timeout=10)
    low_sum += low
    total += high - low
    marks.append(f"[{low},{high})")
c.close()
print(total, low_sum, len(parts), " ".join(marks))
EOF
read -r retained pruned partitions marks < <("$PY" "$work/marks.py" "$B")
echo "retained: $retained messages in $partitions partitions: $marks"
if [[ $pruned != 0 || $retained != "$rows" ]]; then
  echo "WARNING: the broker kept $retained of $rows messages (pruned: $pruned); figures below use $retained"
fi
N=$retained

results=()
# kcat: no consumer group, no parsing; exits at the end of every partition (-e).
t=$(now)
kcat -C -b "$B" -t ebb.prices -o beginning -e -q >/dev/null
s=$(calc "$(now) - $t")
results+=("kcat (no parsing)|$N|$s|$(rate "$N" "$s")|")

# Python: confluent-kafka, parse, naive rolling max drawdown.
cat >"$work/consume.py" <<'EOF'
import collections, sys, time
sys.path.insert(0, sys.argv[3])
from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
from ebb.v1 import events_pb2

brokers, expected = sys.argv[1], int(sys.argv[2])
WINDOW = 30 * 86400  # seconds
c = Consumer({"bootstrap.servers": brokers, "group.id": "bench-python",
              "enable.auto.commit": False, "enable.partition.eof": False,
              "fetch.wait.max.ms": 10})
parts = c.list_topics("ebb.prices", timeout=10).topics["ebb.prices"].partitions
c.assign([TopicPartition("ebb.prices", p, OFFSET_BEGINNING) for p in parts])
windows = collections.defaultdict(collections.deque)  # symbol -> deque of (seconds, price)
mdd = {}
event = events_pb2.PriceEvent()
n = errors = 0
in_mdd = 0.0  # seconds spent on the drawdown (the rest: consume and parse)
first = last = None
idle_since = time.monotonic()
while n < expected:
    batch = c.consume(num_messages=10000, timeout=0.1)
    if not batch:
        if time.monotonic() - idle_since > 10:
            break
        continue
    idle_since = time.monotonic()
    if first is None:
        first = time.monotonic()
    for m in batch:
        if m.error():
            errors += 1
            continue
        event.ParseFromString(m.value())
        t0 = time.perf_counter()
        t = event.event_time.seconds
        w = windows[event.symbol]
        w.append((t, event.price))
        while w[0][0] <= t - WINDOW:
            w.popleft()
        peak = worst = 0.0
        for _, p in w:  # naive: rescan the whole window on every event
            if p > peak:
                peak = p
            dd = 1.0 - p / peak
            if dd > worst:
                worst = dd
        mdd[event.symbol] = worst
        n += 1
        in_mdd += time.perf_counter() - t0
    last = time.monotonic()
c.close()
span = (last - first) if first is not None and last is not None else 0.0
print(n, f"{span:.6f}", len(mdd), f"{max(mdd.values()) if mdd else 0:.4f}", errors,
      f"{in_mdd:.3f}")
EOF
t=$(now)
read -r py_n py_span py_symbols py_worst py_errors py_mdd < <("$PY" "$work/consume.py" "$B" "$N" "$work/py")
s=$(calc "$(now) - $t")
results+=("python confluent-kafka + parse + naive MDD|$py_n|$s|$(rate "$py_n" "$s")|$(rate "$py_n" "$py_span") first->last msg ($py_span s)")
echo "python: $py_symbols symbols, worst 30-day max drawdown $py_worst, $py_errors errors;" \
  "$(printf '%.1f' "$py_mdd") s of its $(printf '%.1f' "$py_span") s in the drawdown deques:" \
  "consume + parse alone would be ~$(rate "$py_n" "$(calc "$py_span - $py_mdd")") events/s"
[[ $py_n == "$N" ]] || echo "WARNING: python consumed $py_n of $N messages"

# ebb run: stderr lines are timestamped to find the assignment.
run_ebb() {  # LABEL EXTRA-ARGS...
  local label=$1 log=$work/run.$RANDOM.log
  shift
  t=$(now)
  { local rc=0
    "$EBB" run --brokers "$B" --from-beginning --no-warm-start --exit-when-idle 2s "$@" 2>&1 >/dev/null || rc=$?
    echo "exit status $rc"; } | while IFS= read -r line; do echo "${EPOCHREALTIME/,/.} $line"; done >"$log"
  local end s assigned consumed proc
  end=$(now)
  s=$(calc "$end - $t")
  sed 's/^[0-9.]* /    | /' "$log"
  assigned=$(awk '/partitions? assigned/ { print $1; exit }' "$log")
  consumed=$(awk '/ messages in / { for (i = 1; i <= NF; i++) if ($i == "messages") { gsub(",", "", $(i - 1)); print $(i - 1); exit } }' "$log")
  consumed=${consumed:-0}
  proc=n/a
  if [[ -n $assigned ]]; then
    proc=$(calc "$end - $assigned - 2.0")
    proc="approx. $(rate "$consumed" "$proc") assignment->exit minus 2 s idle ($(printf '%.2f' "$proc") s)"
  fi
  results+=("$label|$consumed|$s|$(rate "$consumed" "$s")|$proc")
  [[ $consumed == "$N" ]] || echo "WARNING: $label consumed $consumed of $N messages"
  grep -q '^[0-9.]* exit status 0$' "$log" || echo "WARNING: $label did not exit 0"
}
echo "\$ ebb run --brokers $B --from-beginning --no-warm-start --exit-when-idle 2s"
run_ebb "ebb run"
# (ebb's consumer sets queued.min.messages=1000000: with librdkafka 2.0.2's default of 100,000
# fetching stopped for about a second whenever that many messages were queued.)
echo "\$ ebb run --brokers $B --from-beginning --no-warm-start --exit-when-idle 2s --group ebb-again"
run_ebb "ebb run, again (a second group)" --group ebb-again

echo
row() { printf '%-44s %10s %9s %11s  %s\n' "$@"; }
row consumer messages "wall s" "events/s" "events/s, excluding start-up and exit"
for r in "${results[@]}"; do
  IFS='|' read -r label n s r2 extra <<<"$r"
  row "$label" "$n" "$(printf '%.2f' "$s")" "$r2" "$extra"
done
echo
part "the comparison (broker, generate, produce, kcat, python, ebb run x2)" "$compare_start"
printf 'bench_kafka: total wall time %.1f s\n' "$(calc "$(now) - $script_start")"
