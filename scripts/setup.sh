#!/usr/bin/env bash
# Installs what ebb needs from Debian 12's packages (only the missing ones), then configures
# and builds the optimised build in build/release. Safe to run again: it does only what is left.
#
#   scripts/setup.sh            # packages + configure + build
#   scripts/setup.sh --asan     # also the ASan+UBSan build in build/asan
#   scripts/setup.sh --bench    # also pandas (scripts/compare.sh)
#   scripts/setup.sh --fuzz     # also clang, and the libFuzzer harnesses in build/fuzz (tests/fuzz/)
set -euo pipefail
cd "$(dirname "$0")/.."

# kcat, python3-kafka, python3-confluent-kafka and python3-protobuf are the independent Kafka
# clients of the integration tests. OpenJDK 17 and maven run and fetch the real Kafka broker of
# scripts/kafka.sh (its jars come from Maven Central at its first start, into ~/.cache/ebb).
packages=(g++ make cmake pkg-config protobuf-compiler libprotobuf-dev libabsl-dev librdkafka-dev
          libgtest-dev libgmock-dev libbenchmark-dev clang-format kcat python3 python3-kafka
          python3-confluent-kafka python3-protobuf openjdk-17-jre-headless maven)
presets=(release)
for arg in "$@"; do
  case $arg in
    --asan) presets+=(asan) ;;
    --bench) packages+=(python3-pandas) ;;
    --fuzz) packages+=(clang) presets+=(fuzz) ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "setup.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    echo "setup.sh: installing ${missing[*]} with sudo"
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup.sh: these Debian packages are missing: ${missing[*]}" >&2
    echo "Install them as root, then run this script again:" >&2
    echo "  sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

jobs=$(nproc 2>/dev/null || echo 2)
for preset in "${presets[@]}"; do
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
done
