#!/usr/bin/env bash
# Sets up and builds if needed, then runs every test tier (ctest). The tests of label kafka-real
# run on one real Apache Kafka broker that this script starts with scripts/kafka.sh (a JVM, and a
# download from Maven Central at its first run) and stops on exit, whatever the result; its
# bootstrap is EBB_KAFKA_BROKERS and its directory EBB_KAFKA_DIR (for the test that kills and
# restarts it). With EBB_KAFKA_BROKERS already set, that broker is used instead and none is
# started (then the restart test skips unless EBB_KAFKA_DIR names its kafka.sh directory).
# Extra arguments go to ctest, e.g. scripts/test.sh -L unit. With --asan first, runs the suite in
# the ASan+UBSan build.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=release
if [[ ${1:-} == --asan ]]; then
  preset=asan
  shift
  scripts/setup.sh --asan
else
  scripts/setup.sh
fi

if [[ -z ${EBB_KAFKA_BROKERS:-} ]]; then
  kafka_dir=$(pwd)/build/kafka-test
  # A broker left by an interrupted run (its trap did not run) would refuse the start.
  scripts/kafka.sh stop --dir "$kafka_dir" >/dev/null 2>&1 || true
  trap 'scripts/kafka.sh stop --dir "$kafka_dir" >/dev/null 2>&1 || true' EXIT
  # Retention is checked every second (default: 5 minutes), so that the test of a price topic
  # whose retention is shorter than the window sees old segments deleted at once.
  EBB_KAFKA_BROKERS=$(scripts/kafka.sh start --dir "$kafka_dir" \
    log.retention.check.interval.ms=1000 log.initial.task.delay.ms=0 | tail -n 1)
  export EBB_KAFKA_BROKERS EBB_KAFKA_DIR=$kafka_dir
fi
ctest --preset "$preset" "$@"
