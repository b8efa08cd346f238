#!/usr/bin/env bash
# Copyright 2026 the locco authors. MIT license.
# Makes sure the PostgreSQL the tests use (POSTGRES_URL, default
# postgres://postgres@127.0.0.1:5432/test) accepts connections: if it does not,
# starts the machine's cluster (pg_ctlcluster) and waits up to 30 s for it.
# Fails loudly, never skips: the PostgreSQL tests need a real server.
set -uo pipefail
url=${POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
if pg_isready -q -d "$url"; then
  echo "ensure_postgres: PostgreSQL is accepting connections ($url)"
  exit 0
fi
version=$(ls /etc/postgresql 2>/dev/null | head -n 1)
if [[ -z $version ]]; then
  echo "ensure_postgres: PostgreSQL is not reachable at $url and no cluster is under /etc/postgresql" >&2
  exit 1
fi
echo "ensure_postgres: starting PostgreSQL $version (pg_ctlcluster)"
pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
  echo "ensure_postgres: pg_ctlcluster start failed; waiting in case it is starting anyway" >&2
for _ in $(seq 1 60); do
  if pg_isready -q -d "$url"; then
    echo "ensure_postgres: PostgreSQL $version is accepting connections ($url)"
    exit 0
  fi
  sleep 0.5
done
echo "ensure_postgres: PostgreSQL did not accept connections at $url within 30 s" >&2
exit 1
