#!/usr/bin/env bash
# Copyright 2026 the locco authors. MIT license.
# Runs a command against a private, throw-away redis-server: picks a free
# loopback port, starts redis-server without persistence, waits for +PONG,
# exports REDIS_URL, runs the command and kills the server by pid on exit.
# Keeps the command's exit code; fails if Redis does not start.
set -euo pipefail
port="$(node -e 'const s=require("node:net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 100); do
  if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
    printf 'PING\r\n' >&3
    if IFS= read -r -t 1 reply <&3 && [[ "$reply" == "+PONG"* ]]; then
      exec 3>&-
      export REDIS_URL="redis://127.0.0.1:$port"
      echo "with_redis: redis-server pid $pid at $REDIS_URL" >&2
      status=0
      "$@" || status=$?
      exit "$status"
    fi
    exec 3>&-
  fi
  sleep 0.05
done
echo "with_redis: redis-server did not start on port $port" >&2
exit 1
