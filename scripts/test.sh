#!/usr/bin/env bash
# Sets up and builds if needed, then runs every test tier (ctest) but the real broker's.
# Extra arguments go to ctest, e.g. scripts/test.sh -L unit. With --asan first, runs the suite
# in the ASan+UBSan build.
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
# The real-broker test (label kafka-real: a JVM, and a download from Maven Central at its first
# run) runs only when asked for: scripts/test.sh -L kafka-real.
exclude=(-LE kafka-real)
[[ " $* " == *kafka-real* ]] && exclude=()
ctest --preset "$preset" "${exclude[@]}" "$@"
