#!/usr/bin/env bash
# The test command (README): installs the outside readers (pyarrow and DuckDB, from PyPI) into a
# virtualenv outside the clone, runs the Rust tests, then runs the bundled pipelines on the sample inputs
# and reads the resulting warehouse with pyarrow and DuckDB, checking it against the generator's
# EXPECTED.json ground truth.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/followup-target}"
VENV="${FOLLOWUP_VENV:-$HOME/.cache/followup-venv}"

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/outside/requirements.txt

cargo test --locked

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "== followup run on the bundled pipelines and sample inputs"
status=0
"$CARGO_TARGET_DIR/debug/followup" run --demo-key --warehouse "$tmp/warehouse" || status=$?
echo "== reading the warehouse as an outsider (pyarrow, DuckDB)"
# The checker also verifies the exit code: 1 exactly when EXPECTED.json lists a file that must fail.
"$VENV/bin/python" tests/outside/check_warehouse.py "$tmp/warehouse" sample-inputs --exit-code "$status"
