#!/usr/bin/env bash
# The test command (README): installs the outside readers (pyarrow, DuckDB, openpyxl, pypng from PyPI)
# into a virtualenv outside the clone, runs the Rust tests, then runs the bundled pipelines on the sample
# inputs and reads the resulting warehouse with pyarrow and DuckDB, checking it against the generator's
# EXPECTED.json ground truth; reads its exports with openpyxl and the csv module; and renders the run
# report in headless Chromium (installed with apt-get if missing) and checks the screenshot is not blank.
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
echo "== exports read as an outsider (openpyxl, csv module)"
"$CARGO_TARGET_DIR/debug/followup" export --warehouse "$tmp/warehouse" --format xlsx --output "$tmp/export/marts.xlsx"
"$CARGO_TARGET_DIR/debug/followup" export --warehouse "$tmp/warehouse" --format csv-sv --output "$tmp/export/csv-sv"
"$VENV/bin/python" tests/outside/check_export.py "$tmp/warehouse" "$tmp/export/marts.xlsx" "$tmp/export/csv-sv"
echo "== run report rendered in headless Chromium"
tests/outside/check_report.sh "$tmp/warehouse/current/report.html" "$VENV/bin/python"
