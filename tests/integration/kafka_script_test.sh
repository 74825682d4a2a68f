#!/usr/bin/env bash
# scripts/kafka.sh against the real broker it starts: start (with a broker setting, and a second
# start refused), status, a compacted topic, a message through kcat, kill and start --keep (the
# message still there), stop (data removed); then --sasl: SCRAM-SHA-512
# (kafka-python) and PLAIN (kcat, librdkafka 2.0.2) accept the user's password and refuse a
# wrong one. Needs Java 17, maven (the first run fetches Kafka from Maven Central), kcat and
# Debian's python3-kafka. Label kafka-real.
set -euo pipefail

kafka=${EBB_KAFKA_SCRIPT:-$(cd "$(dirname "$0")/../.." && pwd)/scripts/kafka.sh}
python=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/ebb-kafka-test.XXXXXX")
dir=$work/plain
sasl_dir=$work/sasl
cleanup() {
  "$kafka" stop --dir "$dir" >/dev/null 2>&1 || true
  "$kafka" stop --dir "$sasl_dir" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  for log in "$dir/logs/server.log" "$sasl_dir/logs/server.log"; do
    [[ -f $log ]] && { echo "--- tail of $log" >&2; tail -n 20 "$log" >&2; }
  done
  exit 1
}
step() { echo "--- $*"; }

step "start"
t0=$(date +%s%N)
bootstrap=$("$kafka" start --dir "$dir" log.cleaner.backoff.ms=1000 | tail -n 1)
echo "started in $((($(date +%s%N) - t0) / 1000000)) ms: $bootstrap"
[[ $bootstrap =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "start printed '$bootstrap', not host:port"
pid=$(<"$dir/kafka.pid")
kill -0 "$pid" || fail "no process $pid"
grep -qx 'log.cleaner.backoff.ms=1000' "$dir/server.properties" ||
  fail "start did not add its KEY=VALUE setting to server.properties"

step "a second start on the same DIR is refused"
if out=$("$kafka" start --dir "$dir" 2>&1); then fail "second start succeeded: $out"; fi
[[ $out == *"a broker already runs in $dir (pid $pid"* ]] || fail "second start said: $out"
[[ $(<"$dir/kafka.pid") == "$pid" ]] || fail "second start changed the pid file"

step "status"
out=$("$kafka" status --dir "$dir") || fail "status of a running broker exited $?: $out"
[[ $out == "running: pid $pid, bootstrap $bootstrap,"* ]] || fail "status said: $out"

step "create-topic: a compacted topic with 3 partitions"
"$kafka" create-topic --dir "$dir" ebb.test.changelog 3 cleanup.policy=compact min.compaction.lag.ms=0 ||
  fail "create-topic failed"
partitions=$(kcat -L -b "$bootstrap" -t ebb.test.changelog -J | "$python" -c \
  'import json, sys; print(len(json.load(sys.stdin)["topics"][0]["partitions"]))')
[[ $partitions == 3 ]] || fail "ebb.test.changelog has $partitions partitions, not 3"
policy=$("$python" - "$bootstrap" <<'EOF'
import sys
from kafka.admin import KafkaAdminClient, ConfigResource, ConfigResourceType
admin = KafkaAdminClient(bootstrap_servers=sys.argv[1])
response = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "ebb.test.changelog")])
entries = response[0].resources[0][4]
print(dict((e[0], e[1]) for e in entries)["cleanup.policy"])
admin.close()
EOF
)
[[ $policy == compact ]] || fail "cleanup.policy of ebb.test.changelog is '$policy'"
if out=$("$kafka" create-topic --dir "$dir" ebb.test.bad 0 2>&1); then fail "0 partitions accepted"; fi
[[ $out == *"PARTITIONS must be a positive number, not '0'"* ]] || fail "0 partitions said: $out"
if out=$("$kafka" create-topic --dir "$dir" ebb.test.changelog 1 2>&1); then
  fail "creating an existing topic succeeded"
fi
[[ $out == *"already exists"* ]] || fail "an existing topic said: $out"

step "automatic topic creation is off"
echo "x" | timeout 30 kcat -P -b "$bootstrap" -t ebb.test.absent -X message.timeout.ms=3000 \
  >/dev/null 2>&1 || true
kcat -L -b "$bootstrap" -J | grep -q '"topic":"ebb.test.absent"' && fail "producing created ebb.test.absent"

step "a message through kcat"
printf 'BTC-USD\tprice 1\n' | kcat -P -b "$bootstrap" -t ebb.test.changelog -K $'\t' ||
  fail "kcat could not produce"
got=$(kcat -C -b "$bootstrap" -t ebb.test.changelog -e -q -f '%k=%s\n')
[[ $got == "BTC-USD=price 1" ]] || fail "kcat consumed '$got'"

step "kill, then start --keep: the same broker on its data and port"
"$kafka" kill --dir "$dir" || fail "kill failed"
kill -0 "$pid" 2>/dev/null && fail "process $pid still runs after kill"
[[ -d $dir/data ]] || fail "kill removed $dir/data"
set +e
"$kafka" status --dir "$dir" >/dev/null
code=$?
set -e
[[ $code == 3 ]] || fail "status after kill exited $code, not 3"
if out=$("$kafka" start --keep --sasl --dir "$dir" 2>&1); then fail "start --keep --sasl was accepted"; fi
[[ $out == *"start --keep reuses"* ]] || fail "start --keep --sasl said: $out"
again=$("$kafka" start --keep --dir "$dir" | tail -n 1)
[[ $again == "$bootstrap" ]] || fail "start --keep answered on $again, not $bootstrap"
pid=$(<"$dir/kafka.pid")
got=$(kcat -C -b "$bootstrap" -t ebb.test.changelog -e -q -f '%k=%s\n')
[[ $got == "BTC-USD=price 1" ]] || fail "after the restart kcat consumed '$got'"

step "stop"
"$kafka" stop --dir "$dir" || fail "stop failed"
kill -0 "$pid" 2>/dev/null && fail "process $pid still runs after stop"
[[ ! -e $dir/data ]] || fail "stop left $dir/data"
[[ ! -e $dir/kafka.pid ]] || fail "stop left $dir/kafka.pid"
grep -q 'shut down completely\|shutdown completed' "$dir/logs/server.log" ||
  fail "the server log shows no clean shutdown"
set +e
out=$("$kafka" status --dir "$dir")
code=$?
set -e
[[ $code == 3 && $out == "stopped ($dir)" ]] || fail "status after stop exited $code: $out"
"$kafka" stop --dir "$dir" || fail "stop of a stopped broker failed"

step "start --sasl"
"$kafka" start --dir "$sasl_dir" --sasl >/dev/null
props=$sasl_dir/sasl.properties
[[ $(stat -c %a "$props") == 600 ]] || fail "$props is readable by others"
sasl_bootstrap=$(sed -n 's/^bootstrap.servers=//p' "$props")
password=$(sed -n 's/^sasl.password=//p' "$props")
grep -qx 'sasl.mechanisms=SCRAM-SHA-512' "$props" || fail "$props does not name SCRAM-SHA-512"
grep -qx 'sasl.username=ebb' "$props" || fail "$props does not name the user ebb"

scram() {  # lists the topics over SCRAM-SHA-512 with kafka-python; exits 1 if refused
  "$python" - "$sasl_bootstrap" "$1" <<'EOF'
import sys
from kafka import KafkaConsumer
from kafka.errors import KafkaError
try:
    consumer = KafkaConsumer(bootstrap_servers=sys.argv[1], security_protocol="SASL_PLAINTEXT",
                             sasl_mechanism="SCRAM-SHA-512", sasl_plain_username="ebb",
                             sasl_plain_password=sys.argv[2], api_version_auto_timeout_ms=5000,
                             request_timeout_ms=6000)
    consumer.topics()
    consumer.close()
except KafkaError as e:
    print(f"refused: {e!r}", file=sys.stderr)
    sys.exit(1)
EOF
}
scram "$password" 2>/dev/null || fail "SCRAM-SHA-512 with the right password was refused"
scram "wrong-$password" 2>/dev/null && fail "SCRAM-SHA-512 with a wrong password was accepted"

step "PLAIN on the SASL listener (librdkafka 2.0.2)"
kcat -F "$props" -X sasl.mechanisms=PLAIN -L -m 10 2>/dev/null | grep -q '^ *1 brokers:' ||
  fail "kcat with PLAIN and the right password got no metadata"
if kcat -F "$props" -X sasl.mechanisms=PLAIN -X sasl.password="wrong-$password" -L -m 5 \
  >/dev/null 2>&1; then
  fail "kcat with PLAIN and a wrong password got metadata"
fi
"$kafka" stop --dir "$sasl_dir" || fail "stop --dir $sasl_dir failed"
[[ ! -e $sasl_dir/sasl.properties ]] || fail "stop left the password in $props"
echo "PASS"
