#!/usr/bin/env bash
# Finds or installs what the tests need beyond Python packages, from Debian's packages and npm:
#   PostgreSQL 15 server (correctness oracle) and client (psql, pgbench: real clients);
#   pgjdbc + a JDK, psqlODBC + unixODBC, Go with pgx v4 and lib/pq (GOPATH sources under
#   /usr/share/gocode) (client-compatibility tests); node-postgres (npm).
set -eu
cd "$(dirname "$0")/.."
missing=()
pgbin_ok() { for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
  [ -x "$d/initdb" ] && return 0; done; return 1; }
pgbin_ok || missing+=(postgresql-15)
command -v psql >/dev/null && command -v pgbench >/dev/null || missing+=(postgresql-client-15)
command -v javac >/dev/null || missing+=(default-jdk-headless)
[ -f /usr/share/java/postgresql.jar ] || missing+=(libpostgresql-jdbc-java)
[ -f /usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so ] || ls /usr/lib/*/odbc/psqlodbcw.so >/dev/null 2>&1 \
  || missing+=(odbc-postgresql)
ldconfig -p 2>/dev/null | grep -q 'libodbc.so.2' || missing+=(unixodbc)
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
command -v go >/dev/null || missing+=(golang-go)
[ -d /usr/share/gocode/src/github.com/jackc/pgx/v4 ] || missing+=(golang-github-jackc-pgx-v4-dev)
[ -d /usr/share/gocode/src/github.com/lib/pq ] || missing+=(golang-github-lib-pq-dev)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != "0" ]; then
    echo "missing system packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian may start its own cluster on install; the tests start their own as needed.
  pg_ctlcluster 15 main stop 2>/dev/null || true
fi

# node-postgres for tests/clients/test_tools_node.py
if [ ! -d tests/clients/node/node_modules/pg ]; then
  (cd tests/clients/node && npm install --silent --no-audit --no-fund)
fi
