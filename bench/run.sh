#!/usr/bin/env bash
# Benchmark followup against DuckDB, Polars and pandas (bench/README.md). Arguments go to bench/bench.py:
#   bench/run.sh                      # full size, 3 repetitions (generates ~10 GB of data once)
#   bench/run.sh --scale 0.05 --reps 1 --workloads a,b --no-scaling
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${FOLLOWUP_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/followup-target}/release/followup}"
data="${FOLLOWUP_BENCH_DATA:-$HOME/.cache/followup-bench-data}"
venv="${FOLLOWUP_BENCH_VENV:-$HOME/.cache/followup-bench-venv}"

if [ ! -x "$bin" ]; then
  echo "no followup release binary at $bin; build it first:" >&2
  echo "  CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/followup-target} cargo build --release --manifest-path $(dirname "$here")/Cargo.toml" >&2
  echo "(or point FOLLOWUP_BIN at one)" >&2
  exit 2
fi
if [ ! -x /usr/bin/time ]; then
  echo "/usr/bin/time is missing (it measures peak memory): apt-get install time" >&2
  exit 2
fi

# The virtualenv is (re)installed when requirements.txt changes.
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  echo "$want" > "$stamp"
fi

export BENCH_COMMAND="bench/run.sh $*"
exec "$venv/bin/python" "$here/bench.py" --bin "$bin" --data "$data" "$@"
