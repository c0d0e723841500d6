#!/usr/bin/env bash
# The test command (README): installs the outside readers (pyarrow, DuckDB, openpyxl, pypng from PyPI)
# into a virtualenv outside the clone, runs the Rust tests, then runs the bundled pipelines on the sample
# inputs and reads the resulting warehouse with pyarrow and DuckDB, checking it against the generator's
# EXPECTED.json ground truth; reads its exports with openpyxl and the csv module; renders the run report
# in headless Chromium (installed with apt-get if missing) and checks the screenshot is not blank; and
# serves that warehouse over the PostgreSQL wire protocol and checks it with psql, psycopg, SQLAlchemy,
# pandas, isql (ODBC) and pgjdbc (tests/outside/serve/).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/followup-target}"
VENV="${FOLLOWUP_VENV:-$HOME/.cache/followup-venv}"

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/outside/requirements.txt
# Outside PostgreSQL clients for `followup serve` (psql, ODBC, JDBC), installed only when missing.
bash tests/outside/serve/install_clients.sh

# Serve tests must not skip a missing client here, and the load test runs its full 30 s.
FOLLOWUP_REQUIRE_CLIENTS=1 FOLLOWUP_SERVE_LOAD_SECS=30 cargo test --locked

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
echo "== followup serve through psql, psycopg, SQLAlchemy, pandas, ODBC and JDBC"
bash tests/outside/serve/run_clients.sh "$CARGO_TARGET_DIR/debug/followup" "$tmp/warehouse" "$VENV/bin/python"
