#!/usr/bin/env bash
# Finds or installs PostgreSQL 15 (server binaries + psql/pgbench) from Debian's packages.
# The tests use the server as a correctness oracle and psql/pgbench as real clients.
set -eu
pgbin() { for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
  [ -x "$d/initdb" ] && { echo "$d"; return 0; }; done; return 1; }
if pgbin >/dev/null && command -v psql >/dev/null && command -v pgbench >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "PostgreSQL 15 is missing; install postgresql-15 and postgresql-client-15 (needs root)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql-15 postgresql-client-15 >/dev/null
# Debian starts a cluster on install where systemd runs; we start our own, so stop theirs.
pg_ctlcluster 15 main stop 2>/dev/null || true
pgbin
