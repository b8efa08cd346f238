#!/usr/bin/env bash
# Runs a command with REDIS_URL pointing at a Redis server it can use:
# - REDIS_URL already set: used as is;
# - redis-server on PATH: a private, throwaway server on a free loopback port,
#   stopped by pid when the command ends (so tests never touch shared data);
# - otherwise the machine's Redis at 127.0.0.1:6379 if it answers PING.
# Fails loudly when none is available: Redis-backed tests must not be skipped.
# Usage: scripts/with_redis.sh CMD [ARGS...]
set -euo pipefail

ping_redis() { # host port -> 0 when it answers +PONG
  local reply
  { exec 3<>"/dev/tcp/$1/$2"; } 2>/dev/null || return 1
  printf 'PING\r\n' >&3
  IFS= read -r -t 2 reply <&3 || true
  exec 3<&- 3>&-
  [[ "$reply" == "+PONG"* ]]
}

if [[ -n "${REDIS_URL:-}" ]]; then
  exec "$@"
fi

if command -v redis-server >/dev/null 2>&1; then
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  dir=$(mktemp -d)
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    --daemonize no --loglevel warning >"$dir/redis.log" 2>&1 &
  pid=$!
  cleanup() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$dir"
  }
  trap cleanup EXIT INT TERM
  for _ in $(seq 1 100); do
    ping_redis 127.0.0.1 "$port" && break
    sleep 0.05
  done
  if ! ping_redis 127.0.0.1 "$port"; then
    echo "with_redis.sh: redis-server did not start on port $port:" >&2
    cat "$dir/redis.log" >&2
    exit 1
  fi
  export REDIS_URL="redis://127.0.0.1:$port"
  echo "with_redis.sh: private redis-server (pid $pid) at $REDIS_URL" >&2
  set +e
  "$@"
  status=$?
  set -e
  exit "$status"
fi

if ping_redis 127.0.0.1 6379; then
  export REDIS_URL="redis://127.0.0.1:6379"
  echo "with_redis.sh: using the Redis at $REDIS_URL" >&2
  exec "$@"
fi

echo "with_redis.sh: no Redis available. Install redis-server (Debian: apt-get install redis-server)" >&2
echo "or set REDIS_URL=redis://host:port. The Redis tests are required and are not skipped." >&2
exit 1
