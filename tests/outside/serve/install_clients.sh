#!/usr/bin/env bash
# Installs the outside PostgreSQL clients the serve checks use, only those missing: psql, unixODBC's isql
# with the PostgreSQL ODBC driver, the PostgreSQL JDBC driver and a JDK (Debian packages). The Python
# clients (psycopg, SQLAlchemy, pandas) come from tests/outside/requirements.txt.
set -euo pipefail
missing=()
command -v psql >/dev/null || missing+=(postgresql-client)
command -v isql >/dev/null || missing+=(unixodbc)
[ -e /usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so ] || ls /usr/lib/*/odbc/psqlodbcw.so >/dev/null 2>&1 || missing+=(odbc-postgresql)
[ -e /usr/share/java/postgresql.jar ] || missing+=(libpostgresql-jdbc-java)
command -v javac >/dev/null || missing+=(default-jdk-headless)
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
