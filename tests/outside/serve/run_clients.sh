#!/usr/bin/env bash
# `followup serve` through clients no one here wrote, on a loopback port, over a published warehouse:
# psql (\dt, \d, simple protocol), psycopg + SQLAlchemy + pandas, isql via the PostgreSQL ODBC driver, and
# pgjdbc from a small Java program. Every client connects as a users-file user with SCRAM-SHA-256.
#   tests/outside/serve/run_clients.sh FOLLOWUP_BINARY WAREHOUSE_DIR PYTHON
# Every client must be installed (install_clients.sh); a missing one is a failure, never a skip.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$1"
warehouse="$(cd "$2" && pwd)"
python="$3"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

password="analyst-$RANDOM-$RANDOM"
verifier="$(printf '%s\n' "$password" | "$bin" serve --hash-password)"
printf '[[user]]\nname = "region"\npassword = "%s"\n' "$verifier" > "$work/users.toml"

"$bin" serve --warehouse "$warehouse" --listen 127.0.0.1:0 --users "$work/users.toml" > "$work/serve.out" 2> "$work/serve.err" &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q '^listening on ' "$work/serve.out" 2>/dev/null && break
  sleep 0.1
done
addr="$(sed -n 's/^listening on //p' "$work/serve.out")"
[ -n "$addr" ] || { echo "FAIL: followup serve did not start"; cat "$work/serve.err"; exit 1; }
host="${addr%:*}"
port="${addr##*:}"
echo "== followup serve on $addr"

fail() { echo "FAIL: $*"; tail -20 "$work/serve.err"; exit 1; }
expected_total="$("$bin" query --warehouse "$warehouse" --format csv \
  "select enrolments from regional_overview where project_id = 'jamtland_integrationsprojekt' and level = 'project' and gender = 'total'" | tail -1)"
expected_enrolments="$("$bin" query --warehouse "$warehouse" --format csv "select count(*) from enrolments" | tail -1)"

# psql: catalogue backslash commands and the simple protocol.
export PGPASSWORD="$password"
psqlc() { psql -X -h "$host" -p "$port" -U region -d followup -v ON_ERROR_STOP=1 "$@"; }
out="$(psqlc -c '\dt')" || fail "psql \\dt"
for t in enrolments regional_overview esf_indicators target_followup monthly_active; do
  grep -q " $t " <<<"$out" || fail "psql \\dt lacks $t"
done
out="$(psqlc -c '\d regional_overview')" || fail "psql \\d regional_overview"
grep -q 'share_women' <<<"$out" || fail "psql \\d regional_overview lacks share_women"
got="$(psqlc -A -t -c "select enrolments from regional_overview where project_id = 'jamtland_integrationsprojekt' and level = 'project' and gender = 'total'")"
[ "$got" = "$expected_total" ] || fail "psql answered $got, followup query $expected_total"
if psqlc -c "drop table enrolments" >/dev/null 2>&1; then fail "psql: drop table accepted"; fi
echo "psql: \\dt, \\d regional_overview, simple query, refused DROP OK"
unset PGPASSWORD

# Python: psycopg (server-side parameters), SQLAlchemy inspector, pandas.
"$python" "$here/check_python_clients.py" "$host" "$port" region "$password" "$warehouse"

# ODBC: unixODBC's isql through psqlODBC (the driver Excel and Power BI's ODBC connector use).
driver="$(ls /usr/lib/*/odbc/psqlodbcw.so 2>/dev/null | head -1)"
[ -n "$driver" ] || fail "psqlODBC driver not installed"
cat > "$work/odbc.ini" <<INI
[followup]
Driver = $driver
Servername = $host
Port = $port
Database = followup
SSLMode = disable
INI
export ODBCSYSINI="$work" ODBCINI="$work/odbc.ini"
out="$(echo "select count(*) from enrolments" | isql -b -v followup region "$password" 2>&1)" || fail "isql: $out"
grep -q "| $expected_enrolments " <<<"$out" || fail "isql count: $out"
out="$(echo "help" | isql -b -v followup region "$password" 2>&1)" || fail "isql help: $out"
grep -q "regional_overview" <<<"$out" || fail "isql SQLTables lacks regional_overview"
unset ODBCSYSINI ODBCINI
echo "ODBC (isql + psqlodbcw): SQLTables and a query OK"

# JDBC: pgjdbc from a small Java program.
javac -d "$work" "$here/JdbcCheck.java"
java -cp "/usr/share/java/postgresql.jar:$work" JdbcCheck \
  "jdbc:postgresql://$host:$port/followup" region "$password" "$expected_total" || fail "JDBC"

echo "serve clients: all passed"
