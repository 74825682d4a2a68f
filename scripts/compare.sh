#!/usr/bin/env bash
# Thin wrapper: runs scripts/compare_baselines.py (ebb vs pandas and sqlite3) with Debian's
# /usr/bin/python3, which sees python3-pandas. Arguments are passed through (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-/usr/bin/python3}
[[ -x $PY ]] || PY=$(command -v python3 || true)
if [[ -z $PY ]] || ! "$PY" -c 'import numpy, pandas' 2>/dev/null; then
  echo "compare.sh: needs python3 with numpy and pandas (Debian: apt-get install -y python3-pandas)" >&2
  exit 1
fi
exec "$PY" scripts/compare_baselines.py "$@"
