#!/bin/sh
# Serves /data on all interfaces; a password is mandatory because the ports are exposed.
set -eu
if [ -z "${PGMKTS_PASSWORD:-}" ]; then
  echo "pgmkts: set PGMKTS_PASSWORD (the server listens on all interfaces and requires a password)" >&2
  exit 2
fi
user="${PGMKTS_USER:-pgmkts}"
cat > /tmp/mkts.yml <<YML
root_directory: /data
listen_host: 0.0.0.0
auth:
  method: scram-sha-256
  users:
    - {name: "$user", password: "$PGMKTS_PASSWORD", role: readwrite}
YML
exec pgmkts start --config /tmp/mkts.yml "$@"
