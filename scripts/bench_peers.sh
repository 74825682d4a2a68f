#!/usr/bin/env bash
# ebb against the peers users would pick instead (tests/benchmarks/peers/README.md): a Kafka
# Streams application and a Quix Streams application doing ebb's drawdown job on the same real
# Apache Kafka broker and topics, each in its own process. Not part of CI.
#
#   scripts/bench_peers.sh [--symbols 500] [--check-symbols 100] [--days 60] [--rounds 3]
#                          [--partitions 4] [--seed 16] [--brokers HOST:PORT] [--skip-check]
#                          [--store memory|rocksdb]
#
# 1. Check: a feed of --check-symbols symbols (hourly, --days days, a crash on day 30) is published
#    to its own topic; `ebb run`, the Kafka Streams peer and the Quix peer each consume it from
#    the beginning until it is drained, and their alerts (read back with `ebb tail`) must equal,
#    ids included, each other and `ebb replay` of the same file. A difference stops the script.
# 2. Measure: a feed of --symbols symbols on another topic; --rounds rounds, each running ebb,
#    Kafka Streams and Quix in turn (interleaved), each from the beginning with a new group.
#    CPU = user + sys of the process (its rusage), from start to exit; the peers also print
#    the CPU they spent before their first event (JVM / interpreter start-up, joining the group),
#    so events per CPU-second is given both whole and after start-up. The alert counts of every
#    run must match the check's tools' (the same job on the same feed).
#
# Without --brokers, a broker is started with scripts/kafka.sh in build/peers/kafka and stopped
# at the end. Builds the Kafka Streams peer with Maven (tests/benchmarks/peers/kstreams/target)
# and installs Quix Streams from PyPI into build/peers/quix-venv on first use.
#
# Environment: EBB (the ebb binary; default build/release/apps/ebb, built if missing),
# KAFKA_SH (default scripts/kafka.sh), QUIXSTREAMS_VERSION (default 3.28.1),
# JAVA_OPTS (extra JVM flags for the Kafka Streams peer).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
work=$repo/build/peers
peers=$repo/tests/benchmarks/peers
ebb=${EBB:-$repo/build/release/apps/ebb}
kafka_sh=${KAFKA_SH:-$repo/scripts/kafka.sh}
quix_version=${QUIXSTREAMS_VERSION:-3.28.1}

symbols=500
check_symbols=100
days=60
rounds=3
partitions=4
seed=16
brokers=""
skip_check=0
store=memory
while (($#)); do
  case $1 in
    --symbols) symbols=$2; shift 2 ;;
    --check-symbols) check_symbols=$2; shift 2 ;;
    --days) days=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --partitions) partitions=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --brokers) brokers=$2; shift 2 ;;
    --skip-check) skip_check=1; shift ;;
    --store) store=$2; shift 2 ;;
    -h | --help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_peers.sh: unknown flag $1 (see --help)" >&2; exit 2 ;;
  esac
done
((days > 30)) || { echo "bench_peers.sh: --days must exceed 30 (the crash is on day 30)" >&2; exit 2; }

say() { echo "bench_peers: $*" >&2; }
die() { say "$*"; exit 1; }
mkdir -p "$work"

# --- Tools -----------------------------------------------------------------------------------
if [[ ! -x $ebb ]]; then
  say "building ebb ($ebb)"
  cmake --preset release >/dev/null && cmake --build --preset release -j2 --target ebb
fi
[[ -x $kafka_sh || -n $brokers ]] || die "$kafka_sh not found; pass --brokers HOST:PORT or KAFKA_SH"
command -v mvn >/dev/null || die "mvn not found (Debian: maven)"
command -v protoc >/dev/null || die "protoc not found (Debian: protobuf-compiler)"

say "building the Kafka Streams peer (Maven; dependencies from Maven Central on first use)"
mvn -B -q -f "$peers/kstreams/pom.xml" package -DskipTests >"$work/mvn.log" 2>&1 ||
  { tail -n 30 "$work/mvn.log" >&2; die "the Maven build failed (log: $work/mvn.log)"; }
ks_cp="$peers/kstreams/target/classes:$peers/kstreams/target/lib/*"

venv=$work/quix-venv
if [[ ! -f $venv/.quixstreams-$quix_version ]]; then
  say "installing quixstreams $quix_version from PyPI into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "quixstreams==$quix_version" protobuf >"$work/pip.log" 2>&1 ||
    { tail -n 20 "$work/pip.log" >&2; die "pip install failed (log: $work/pip.log)"; }
  touch "$venv/.quixstreams-$quix_version"
fi

# --- Broker ----------------------------------------------------------------------------------
kafka_dir=$work/kafka
started_broker=0
stop_broker() { ((started_broker)) && "$kafka_sh" stop --dir "$kafka_dir" >/dev/null 2>&1 || true; }
trap stop_broker EXIT
if [[ -z $brokers ]]; then
  brokers=$("$kafka_sh" start --dir "$kafka_dir" | tail -n 1)
  started_broker=1
fi
say "broker $brokers"
run_id=$(date +%s)  # groups and topics of this invocation, so an existing broker can be reused

# The feeds are historical: message timestamps are event times in the past, so every topic keeps
# its messages forever (retention.ms=-1); with the default 7 days the broker's retention check
# deletes a feed within minutes of its publication, while it is being consumed.
create_topic() {  # NAME PARTITIONS
  if ((started_broker)); then
    "$kafka_sh" create-topic --dir "$kafka_dir" "$1" "$2" retention.ms=-1 >/dev/null 2>&1 ||
      die "could not create topic $1 ($kafka_sh create-topic)"
  else  # a broker of the caller's: its admin API, through the Quix venv's confluent-kafka
    "$venv/bin/python" - "$brokers" "$1" "$2" <<'PY' || die "could not create topic $1 on $brokers"
import sys
from confluent_kafka.admin import AdminClient, NewTopic
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
topic = NewTopic(sys.argv[2], int(sys.argv[3]), 1, config={"retention.ms": "-1"})
for future in admin.create_topics([topic]).values():
    future.result(30)
PY
  fi
}

# A config naming one feed's topics for `ebb run`.
ebb_config() {  # PREFIX
  cat >"$work/$1.textproto" <<EOF
kafka {
  prices_topic: "$1.prices"
  news_topic: "peers.$run_id.news"
  alerts_topic: "$1.ebb.alerts"
  dlq_topic: "$1.ebb.dlq"
}
EOF
}

# feed PREFIX SYMBOLS: generates and publishes a feed to PREFIX.prices; sets events.
feed() {
  local prefix=$1 n=$2
  "$ebb" generate --symbols "$n" --days "$days" --interval 1h --seed "$seed" --crash-day 30 \
    --format binpb --out "$work/$prefix.binpb" 2>/dev/null
  for t in prices:$partitions ebb.alerts:1 ebb.dlq:1 kstreams.alerts:1 quix.alerts:1; do
    create_topic "$prefix.${t%:*}" "${t#*:}"
  done
  ebb_config "$prefix"
  "$ebb" produce --brokers "$brokers" --topic "$prefix.prices" --no-progress \
    "$work/$prefix.binpb" 2>"$work/$prefix.produce.log"
  events=$(sed -n 's/^ebb produce: \([0-9,]*\) messages.*/\1/p' "$work/$prefix.produce.log" | tr -d ,)
  [[ -n $events ]] || { cat "$work/$prefix.produce.log" >&2; die "ebb produce failed"; }
  say "$prefix: $events events ($n symbols x $days days hourly) on $prefix.prices ($partitions partitions)"
}

# cpu_time FILE CMD...: runs CMD; writes "user sys wall" (seconds; the rusage of CMD and its
# children, to the microsecond) to FILE.
cpu_time() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
start = time.monotonic()
status = subprocess.call(sys.argv[2:])
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as out:
    out.write(f"{usage.ru_utime:.6f} {usage.ru_stime:.6f} {time.monotonic() - start:.3f}\n")
sys.exit(status)
PY
}

# run TOOL PREFIX TAG: one run of a tool from the beginning of PREFIX.prices, timed; prints
# "TOOL user sys cpu_before_first_event alerts".
run() {
  local tool=$1 prefix=$2 tag=$3 log=$work/$2.$1.$3.log cmd
  case $tool in
    ebb) cmd=("$ebb" run --config "$work/$prefix.textproto" --brokers "$brokers"
      --group "ebb-$tag" --from-beginning --exit-when-idle 3s) ;;
    kstreams) cmd=(java ${JAVA_OPTS:-} -cp "$ks_cp" dev.ebb.peers.kstreams.DrawdownApp
      --brokers "$brokers" --input "$prefix.prices" --output "$prefix.kstreams.alerts"
      --application-id "kstreams-$tag" --state-dir "$work/state/kstreams-$tag" --store "$store"
      --exit-when-idle 3) ;;
    quix) cmd=("$venv/bin/python" "$peers/quix/drawdown_app.py" --brokers "$brokers"
      --input "$prefix.prices" --output "$prefix.quix.alerts" --group "quix-$tag"
      --state-dir "$work/state/quix-$tag" --exit-when-idle 3) ;;
  esac
  cpu_time "$work/time.txt" "${cmd[@]}" >"$log" 2>&1 ||
    { tail -n 20 "$log" >&2; die "$tool failed (log: $log)"; }
  rm -rf "$work/state/$tool-$tag"
  local user sys wall before alerts
  read -r user sys wall <"$work/time.txt"
  if [[ $tool == ebb ]]; then
    before=0
    alerts=$(sed -n 's/^ *alerts *\([0-9,]*\) published.*/\1/p' "$log" | tr -d ,)
  else
    before=$(sed -n 's/.*process CPU [0-9.]* s, \([0-9.]*\) s of it before the first event.*/\1/p' "$log")
    alerts=$(sed -n 's/.* \([0-9]*\) alerts; process CPU.*/\1/p' "$log")
  fi
  [[ -n $alerts && -n $before ]] || { tail -n 20 "$log" >&2; die "no summary from $tool (log: $log)"; }
  echo "$tool $user $sys $before $alerts $wall"
}

create_topic "peers.$run_id.news" 1

# --- 1. Check --------------------------------------------------------------------------------
expected_alerts=""
if ((!skip_check)); then
  prefix=peers.$run_id.check
  feed "$prefix" "$check_symbols"
  say "check: ebb replay, ebb run, Kafka Streams, Quix on $events events"
  "$ebb" replay --prices "$work/$prefix.binpb" --alerts-out "$work/check.replay.jsonl" \
    --quiet --no-progress
  for tool in ebb kstreams quix; do
    read -r _ _ _ _ n _ < <(run "$tool" "$prefix" "$run_id-check")
    topic=$prefix.$tool.alerts
    [[ $tool == ebb ]] && topic=$prefix.ebb.alerts
    "$ebb" tail --brokers "$brokers" --topic "$topic" --from-beginning --idle-exit 3 \
      >"$work/check.$tool.jsonl" 2>/dev/null
    say "check: $tool: $n alerts published, $(wc -l <"$work/check.$tool.jsonl") read back"
  done
  python3 "$peers/compare_alerts.py" ebb-run="$work/check.ebb.jsonl" \
    ebb-replay="$work/check.replay.jsonl" kstreams="$work/check.kstreams.jsonl" \
    quix="$work/check.quix.jsonl" || die "the peers' alerts differ from ebb's: no benchmark"
  [[ -s $work/check.ebb.jsonl ]] || die "the check feed produced no alert"
fi

# --- 2. Measure ------------------------------------------------------------------------------
prefix=peers.$run_id.bench
feed "$prefix" "$symbols"
bench_events=$events
results=$work/results.txt
: >"$results"
for ((r = 1; r <= rounds; ++r)); do
  for tool in ebb kstreams quix; do
    line=$(run "$tool" "$prefix" "$run_id-$r")
    echo "$r $line" >>"$results"
    read -r _ user sys before alerts wall <<<"$line"
    say "round $r: $tool: user $user s, sys $sys s (${before} s before the first event), wall $wall s, $alerts alerts"
  done
done

python3 - "$results" "$bench_events" "$store" <<'EOF'
import statistics, sys
path, events, store = sys.argv[1], int(sys.argv[2]), sys.argv[3]
runs = {}
for line in open(path):
    r, tool, user, sys_, before, alerts, wall = line.split()
    cpu = float(user) + float(sys_)
    runs.setdefault(tool, []).append((cpu, cpu - float(before), int(alerts), float(wall)))
counts = {a for rs in runs.values() for _, _, a, _ in rs}
if len(counts) != 1:
    sys.exit(f"bench_peers: the runs published different alert counts: {sorted(counts)}")
names = {"ebb": "ebb run", "kstreams": f"Kafka Streams ({store} store)", "quix": "Quix Streams"}
print(f"\n{events:,} events, {counts.pop():,} alerts per run; {len(runs['ebb'])} rounds, interleaved")
print(f"{'':28} {'CPU s (median)':>15} {'events/CPU-s':>14} {'range':>21} {'after start-up':>15}")
rate = {}
for tool in ("ebb", "kstreams", "quix"):
    whole = [events / c for c, _, _, _ in runs[tool]]
    steady = [events / s for _, s, _, _ in runs[tool]]
    rate[tool] = (whole, steady)
    cpu = statistics.median(c for c, _, _, _ in runs[tool])
    print(f"{names[tool]:28} {cpu:15.2f} {statistics.median(whole):14,.0f} "
          f"{min(whole):10,.0f}-{max(whole):<10,.0f} {statistics.median(steady):15,.0f}")
for peer, target in (("kstreams", 10), ("quix", 50)):
    whole = sorted(e / p for e, p in zip(rate["ebb"][0], rate[peer][0]))
    steady = sorted(e / p for e, p in zip(rate["ebb"][1], rate[peer][1]))
    verdict = "meets" if statistics.median(whole) >= target else "MISSES"
    print(f"ebb / {names[peer]}: {statistics.median(whole):.1f}x (rounds {whole[0]:.1f}-{whole[-1]:.1f}), "
          f"after start-up {statistics.median(steady):.1f}x; target >= {target}x: {verdict}")
EOF
