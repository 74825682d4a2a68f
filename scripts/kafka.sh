#!/usr/bin/env bash
# A real Apache Kafka broker for trying ebb without Docker: one process in KRaft mode (broker and
# controller) on 127.0.0.1, built from the official artifacts on Maven Central and run on Debian's
# OpenJDK 17. Nothing of Kafka is in the repository: the first start fetches the jars listed in
# scripts/kafka/pom.xml with Debian's `mvn` into a cache, later starts reuse it.
#
#   scripts/kafka.sh start [--dir DIR] [--sasl] [KEY=VALUE ...]  # prints the bootstrap servers last
#   scripts/kafka.sh start [--dir DIR] --keep       # again after `kill`: same data, ports, config
#   scripts/kafka.sh create-topic [--dir DIR] NAME PARTITIONS [KEY=VALUE ...]
#   scripts/kafka.sh status [--dir DIR]             # exit 0 running, 1 not answering, 3 stopped
#   scripts/kafka.sh stop [--dir DIR]               # clean shutdown, kill after a timeout
#   scripts/kafka.sh kill [--dir DIR]               # SIGKILL, as a crash: data and config kept
#
# DIR (default build/kafka in the repository) holds server.properties, the data (removed by
# stop), the logs (logs/server.log, logs/kafka.out; kept by stop) and the pid. KEY=VALUE
# arguments of start are broker settings added to server.properties (later ones win). --sasl adds a
# SASL_PLAINTEXT listener with SCRAM-SHA-512 and a user created at start; DIR/sasl.properties
# holds its librdkafka client properties (bootstrap, mechanism, user, password), for `kcat -F`.
# The listener also accepts PLAIN for the same user: librdkafka before 2.6.1 (Debian 12 has
# 2.0.2) answers SCRAM with a nonce that Kafka 4 rejects (librdkafka#4895), so its clients,
# ebb and kcat included, authenticate with `-X sasl.mechanisms=PLAIN` there.
#
# Environment: EBB_KAFKA_VERSION (default: the pom's kafka.version), EBB_KAFKA_CACHE (default
# ${XDG_CACHE_HOME:-~/.cache}/ebb/kafka-VERSION), EBB_KAFKA_HEAP_OPTS (default -Xms256m
# -Xmx512m), EBB_KAFKA_START_TIMEOUT and EBB_KAFKA_STOP_TIMEOUT (seconds; 120 and 30),
# EBB_KAFKA_SASL_USER (ebb) and EBB_KAFKA_SASL_PASSWORD (default: random).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
pom=$repo/scripts/kafka/pom.xml
version=${EBB_KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")}
cache=${EBB_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ebb/kafka-$version}
heap_opts=${EBB_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
start_timeout=${EBB_KAFKA_START_TIMEOUT:-120}
stop_timeout=${EBB_KAFKA_STOP_TIMEOUT:-30}

die() {
  echo "kafka.sh: $*" >&2
  exit 1
}
say() { echo "kafka.sh: $*" >&2; }

usage() {
  sed -n 's/^#   \(scripts\/kafka.sh .*\)/\1/p' "$0" >&2
  exit 2
}

# The broker's pid if the process recorded in DIR/kafka.pid is alive and is this DIR's broker
# (a pid can be reused after a crash), else nothing.
broker_pid() {
  local pid
  [[ -f $dir/kafka.pid ]] || return 0
  pid=$(<"$dir/kafka.pid")
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "kafka.Kafka $dir/server.properties" && echo "$pid"
  return 0
}

require_java() {
  command -v java >/dev/null ||
    die "java not found; scripts/setup.sh installs Debian's default-jre-headless (OpenJDK 17)"
  local major
  major=$(java -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p')
  ((${major:-0} >= 17)) || die "Kafka $version needs Java 17 or newer; $(command -v java) is Java ${major:-unknown}"
}

# Fetches the broker's jars into $cache/lib once (Maven Central, through Debian's mvn, with a
# Maven repository of its own inside the cache); a lock serialises concurrent first starts.
fetch_jars() {
  [[ -f $cache/lib/.complete ]] && return 0
  command -v mvn >/dev/null || die "mvn not found; scripts/setup.sh installs Debian's maven"
  mkdir -p "$cache"
  exec 8>"$cache/.lock"
  flock 8
  if [[ ! -f $cache/lib/.complete ]]; then
    say "fetching Apache Kafka $version and its dependencies from Maven Central into $cache"
    local t0=$SECONDS
    rm -rf "$cache/lib" "$cache/lib.tmp"
    cp "$pom" "$cache/pom.xml"
    if ! mvn -B -q -f "$cache/pom.xml" -Dkafka.version="$version" -Dmaven.repo.local="$cache/m2" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$cache/lib.tmp" \
      >"$cache/mvn.log" 2>&1; then
      tail -n 30 "$cache/mvn.log" >&2
      if grep -q 'PKIX path building failed' "$cache/mvn.log"; then
        say "Java does not trust the certificate Maven Central was reached with: a network that" \
          "intercepts TLS (a corporate proxy) needs its CA in /usr/local/share/ca-certificates," \
          "then run update-ca-certificates (which also updates Java's keystore)"
      fi
      die "mvn could not fetch Kafka $version (full log: $cache/mvn.log)"
    fi
    ls "$cache/lib.tmp"/kafka_2.13-"$version".jar >/dev/null
    touch "$cache/lib.tmp/.complete"
    mv "$cache/lib.tmp" "$cache/lib"
    rm -rf "$cache/m2"  # the jars are in lib; Maven's own copy would double the cache
    say "fetched $(ls "$cache/lib" | wc -l) jars ($(du -sh "$cache/lib" | cut -f1)) in $((SECONDS - t0)) s"
  fi
  exec 8>&-
}

# Short-lived JVMs (storage format, topic commands) start faster with C1 only and a serial GC.
tool() {
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$cache/lib/*" \
    -Dlog4j2.configurationFile="$dir/log4j2-tools.properties" "$@"
}

# N free TCP ports on 127.0.0.1, held together while chosen so they differ.
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (Uuid.toString), not
# starting with '-' (Uuid.randomUuid avoids those).
cluster_id() {
  python3 -c '
import base64, os
while True:
    s = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    if not s.startswith("-"):
        print(s)
        break'
}

metadata_ok() {  # the broker answers a metadata request and lists itself
  kcat -L -b "$1" -m 3 2>/dev/null | grep -q '^ *1 brokers:'
}

write_configs() {
  local port=$1 controller_port=$2 sasl_port=${3:-}
  local listeners="PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port"
  local advertised="PLAINTEXT://127.0.0.1:$port"
  if [[ -n $sasl_port ]]; then
    listeners+=",SASL_PLAINTEXT://127.0.0.1:$sasl_port"
    advertised+=",SASL_PLAINTEXT://127.0.0.1:$sasl_port"
  fi
  cat >"$dir/server.properties" <<EOF
# Written by scripts/kafka.sh: a single-node KRaft broker and controller for development.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$controller_port
controller.listener.names=CONTROLLER
listeners=$listeners
advertised.listeners=$advertised
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
log.dirs=$dir/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
  if [[ -n $sasl_port ]]; then
    # SCRAM-SHA-512 credentials are in the metadata log (StorageTool --add-scram); PLAIN, for
    # librdkafka before 2.6.1, whose SCRAM Kafka 4 rejects, has the same user in its JAAS line.
    chmod 600 "$dir/server.properties"
    cat >>"$dir/server.properties" <<EOF
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$sasl_user="$sasl_password";
EOF
  fi

  # The broker logs to DIR/logs/server.log (rolled at 100 MB); the tools log warnings only.
  cat >"$dir/log4j2.properties" <<EOF
status = warn
appender.server.type = RollingFile
appender.server.name = server
appender.server.fileName = $dir/logs/server.log
appender.server.filePattern = $dir/logs/server.log.%i
appender.server.layout.type = PatternLayout
appender.server.layout.pattern = [%d] %p %m (%c)%n
appender.server.policies.type = Policies
appender.server.policies.size.type = SizeBasedTriggeringPolicy
appender.server.policies.size.size = 100MB
appender.server.strategy.type = DefaultRolloverStrategy
appender.server.strategy.max = 2
rootLogger.level = INFO
rootLogger.appenderRef.server.ref = server
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
  cat >"$dir/log4j2-tools.properties" <<'EOF'
status = warn
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = err
EOF
}

cmd_start() {
  local sasl=0 keep=0 settings=()
  while (($#)); do
    case $1 in
      --sasl) sasl=1 ;;
      --keep) keep=1 ;;
      ?*=*) settings+=("$1") ;;
      *) usage ;;
    esac
    shift
  done
  ((keep && (sasl || ${#settings[@]}))) && die "start --keep reuses $dir/server.properties as it is; give no other options"
  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  flock -n 9 || die "another kafka.sh command is working on $dir"
  local pid
  pid=$(broker_pid)
  [[ -z $pid ]] || die "a broker already runs in $dir (pid $pid, bootstrap $(cat "$dir/bootstrap" 2>/dev/null)); stop it first: scripts/kafka.sh stop --dir $dir"

  require_java
  fetch_jars
  local t0=$SECONDS
  if ((keep)); then
    restart_kept
    return
  fi
  rm -rf "$dir/data" "$dir/logs" "$dir/kafka.pid" "$dir/bootstrap" "$dir/sasl.properties"
  mkdir -p "$dir/data" "$dir/logs"

  sasl_user=${EBB_KAFKA_SASL_USER:-ebb}
  sasl_password=${EBB_KAFKA_SASL_PASSWORD:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}
  [[ $sasl_user =~ ^[A-Za-z0-9._-]+$ && $sasl_password =~ ^[A-Za-z0-9._-]+$ ]] ||
    die "EBB_KAFKA_SASL_USER and EBB_KAFKA_SASL_PASSWORD may hold only letters, digits, '.', '_' and '-'"
  local ports port controller_port sasl_port=""
  ports=$(free_ports $((2 + sasl)))
  read -r port controller_port sasl_port <<<"$ports"
  write_configs "$port" "$controller_port" "$sasl_port"

  local format_args=(format --standalone -t "$(cluster_id)" -c "$dir/server.properties")
  if ((sasl)); then
    format_args+=(--add-scram "SCRAM-SHA-512=[name=$sasl_user,password=$sasl_password]")
    (
      umask 077
      cat >"$dir/sasl.properties" <<EOF
bootstrap.servers=127.0.0.1:$sasl_port
security.protocol=SASL_PLAINTEXT
sasl.mechanisms=SCRAM-SHA-512
sasl.username=$sasl_user
sasl.password=$sasl_password
EOF
    )
  fi
  if ((${#settings[@]})); then
    echo "# Given to scripts/kafka.sh start." >>"$dir/server.properties"
    printf '%s\n' "${settings[@]}" >>"$dir/server.properties"
  fi
  tool kafka.tools.StorageTool "${format_args[@]}" >"$dir/logs/format.log" 2>&1 ||
    { cat "$dir/logs/format.log" >&2; die "formatting the storage in $dir/data failed"; }
  launch "$t0" 127.0.0.1:$port
  ((sasl)) && say "SASL_PLAINTEXT (SCRAM-SHA-512, PLAIN) on 127.0.0.1:$sasl_port, user $sasl_user; client properties in $dir/sasl.properties"
  cat "$dir/bootstrap"
}

# start --keep: the broker of DIR again, after `kill` (or a crash), on its data and ports.
restart_kept() {
  [[ -f $dir/server.properties && -f $dir/data/meta.properties ]] ||
    die "nothing to restart in $dir (no server.properties or formatted data); start it without --keep"
  local port
  port=$(sed -n 's/^advertised.listeners=PLAINTEXT:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$dir/server.properties")
  [[ -n $port ]] || die "no PLAINTEXT listener in $dir/server.properties"
  launch "$t0" 127.0.0.1:$port
  cat "$dir/bootstrap"
}

# Starts the broker of DIR and waits until it answers on $2 (t0: when start began).
launch() {
  local t0=$1 bootstrap=$2 pid

  # setsid: the broker leads its own session and process group, which stop signals as a
  # whole. The pid is written by the process that becomes the JVM (setsid may have forked).
  # shellcheck disable=SC2016,SC2086
  setsid bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$dir/kafka.pid" \
    java $heap_opts -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExplicitGCInvokesConcurrent \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$dir/log4j2.properties" \
    -Dkafka.logs.dir="$dir/logs" -cp "$cache/lib/*" kafka.Kafka "$dir/server.properties" \
    </dev/null >>"$dir/logs/kafka.out" 2>&1 9>&- &
  local waited=0
  until [[ -s $dir/kafka.pid ]]; do
    ((waited++ < 100)) || die "the broker's launcher wrote no pid to $dir/kafka.pid"
    sleep 0.05
  done
  pid=$(<"$dir/kafka.pid")

  until metadata_ok "$bootstrap"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$dir/logs/kafka.out" "$dir/logs/server.log" >&2 2>/dev/null || true
      rm -f "$dir/kafka.pid"
      die "the broker exited during start-up (logs in $dir/logs)"
    fi
    if ((SECONDS - t0 > start_timeout)); then
      tail -n 40 "$dir/logs/server.log" >&2 2>/dev/null || true
      kill -KILL -- "-$pid" 2>/dev/null || true
      rm -f "$dir/kafka.pid"
      die "the broker did not answer metadata requests on $bootstrap within $start_timeout s (logs in $dir/logs)"
    fi
    sleep 0.2
  done
  echo "$bootstrap" >"$dir/bootstrap"
  say "Apache Kafka $version (KRaft, broker and controller) ready in $((SECONDS - t0)) s: pid $pid, logs in $dir/logs"
}

cmd_create_topic() {
  (($# >= 2)) || usage
  local name=$1 partitions=$2
  shift 2
  [[ $partitions =~ ^[1-9][0-9]*$ ]] || die "PARTITIONS must be a positive number, not '$partitions'"
  [[ -n $(broker_pid) ]] || die "no broker runs in $dir; start one: scripts/kafka.sh start --dir $dir"
  local configs=()
  for kv in "$@"; do
    [[ $kv == ?*=* ]] || die "topic configs are KEY=VALUE, not '$kv'"
    configs+=(--config "$kv")
  done
  tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$(<"$dir/bootstrap")" --create \
    --topic "$name" --partitions "$partitions" --replication-factor 1 "${configs[@]}" >&2
}

cmd_status() {
  (($# == 0)) || usage
  local pid
  pid=$(broker_pid)
  if [[ -z $pid ]]; then
    echo "stopped ($dir)"
    return 3
  fi
  local bootstrap sasl=""
  bootstrap=$(cat "$dir/bootstrap" 2>/dev/null || true)
  [[ -f $dir/sasl.properties ]] && sasl=", SASL_PLAINTEXT $(sed -n 's/^bootstrap.servers=//p' "$dir/sasl.properties")"
  local rss
  rss=$(ps -o rss= -p "$pid" | tr -d ' ')
  if [[ -n $bootstrap ]] && metadata_ok "$bootstrap"; then
    echo "running: pid $pid, bootstrap $bootstrap$sasl, RSS $((rss / 1024)) MiB ($dir)"
  else
    echo "not answering: pid $pid, bootstrap ${bootstrap:-unknown} ($dir; logs in $dir/logs)"
    return 1
  fi
}

cmd_stop() {
  (($# == 0)) || usage
  [[ -d $dir ]] || { say "nothing in $dir"; return 0; }
  exec 9>"$dir/.lock"
  flock -w "$stop_timeout" 9 || die "another kafka.sh command is working on $dir"
  local pid
  pid=$(broker_pid)
  if [[ -n $pid ]]; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    local deadline=$((SECONDS + stop_timeout))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      say "the broker (pid $pid) did not stop within $stop_timeout s; killing it"
      kill -KILL -- "-$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    say "stopped the broker (pid $pid); logs kept in $dir/logs"
  else
    say "no broker runs in $dir"
  fi
  rm -rf "$dir/data" "$dir/kafka.pid" "$dir/bootstrap" "$dir/sasl.properties"
}

cmd_kill() {
  (($# == 0)) || usage
  local pid
  pid=$(broker_pid)
  [[ -n $pid ]] || die "no broker runs in $dir"
  kill -KILL -- "-$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  rm -f "$dir/kafka.pid"
  say "killed the broker (pid $pid); its data is kept: scripts/kafka.sh start --keep --dir $dir"
}

(($# >= 1)) || usage
command=$1
shift
dir=$repo/build/kafka
args=()
while (($#)); do
  case $1 in
    --dir)
      (($# >= 2)) || usage
      dir=$2
      shift 2
      ;;
    --dir=*)
      dir=${1#--dir=}
      shift
      ;;
    *)
      args+=("$1")
      shift
      ;;
  esac
done
dir=$(realpath -m "$dir")

case $command in
  start) cmd_start "${args[@]+"${args[@]}"}" ;;
  create-topic) cmd_create_topic "${args[@]+"${args[@]}"}" ;;
  status) cmd_status "${args[@]+"${args[@]}"}" ;;
  stop) cmd_stop "${args[@]+"${args[@]}"}" ;;
  kill) cmd_kill "${args[@]+"${args[@]}"}" ;;
  -h | --help | help) usage ;;
  *) usage ;;
esac
