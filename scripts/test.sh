#!/usr/bin/env bash
# Sets up and builds if needed, then runs every test tier (ctest), the real broker's included
# (label kafka-real: a JVM, and a download from Maven Central at its first run). Extra arguments
# go to ctest, e.g. scripts/test.sh -L unit. With --asan first, runs the suite in the ASan+UBSan
# build.
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
ctest --preset "$preset" "$@"
