#!/usr/bin/env bash
# The whole CI run, after `npm ci`: every check, then the same test files on
# Deno (against the sources), on Bun and on Node (CJS and ESM builds, against
# the packed npm package). Every step runs even after a failure; each check
# counts as one, each test run counts its tests (scripts/test_counts.sh). It
# ends with one line "N passed, N failed", and exits non-zero on any failure.
# Redis-backed tests get a private redis-server (scripts/with_redis.sh); the
# MongoDB tests start their own stand-in. The PostgreSQL tests use the
# machine's PostgreSQL, which the "PostgreSQL running" step starts if it is
# down (and fails, loudly, if it cannot).
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH" DENO_NO_UPDATE_CHECK=1 RUST_BACKTRACE=0 NO_COLOR=1

counts=scripts/test_counts.sh
$counts reset

check() { # LABEL CMD...: one unit, passed or failed by exit status
  local label=$1
  shift
  echo "::: $label ($(date +%T))"
  if "$@"; then $counts record "$label" 1 0; else $counts record "$label" 0 1; fi
}

suite() { # LABEL CMD...: counted from the runner's own summary
  local label=$1
  shift
  echo "::: $label ($(date +%T))"
  $counts run "$label" -- "$@"
}

check "deno fmt" deno task fmt
check "deno lint" deno task lint
check "deno check" deno task check
check "doc lint + titled examples" deno task doc
check "Redis script SHA-1 constants" deno run scripts/redis_script_shas.ts --check
check "PostgreSQL running (started if down)" scripts/ensure_postgres.sh
suite "deno test + doc examples" scripts/with_redis.sh deno task test
check "jsr publish dry run" deno task publish:dry
check "demo (in-memory)" deno task demo --workers 4 --iterations 10
check "demo (PostgreSQL)" deno task demo --workers 4 --iterations 10 \
  --postgres "${POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
check "chaos, Redis (short)" deno task chaos --short
check "chaos, MongoDB stand-in (short)" deno task chaos --short --backend mongo
check "chaos, Redis with keyPrefix (short)" deno task chaos --short --key-prefix app:
check "chaos, Redis Cluster (short)" deno task chaos --short --backend cluster
check "chaos, PostgreSQL (short)" deno task chaos --short --backend postgres --deadline 120
check "chaos, Deno KV (short)" deno task chaos --short --backend kv
check "chaos, Redis via node-redis (short)" deno task chaos --short --client node-redis
check "chaos, Redis Cluster via node-redis (short)" deno task chaos --short --backend cluster --client node-redis
check "chaos analysis on hand-made logs" deno test scripts/chaos/analyze_test.ts
check "chaos, semaphore on MongoDB stand-in (short)" deno task chaos --short --backend mongo --primitive semaphore
check "chaos, read-write lock on MongoDB stand-in (short)" deno task chaos --short --backend mongo --primitive rw
check "chaos, semaphore on Redis (short)" deno task chaos --short --primitive semaphore
check "chaos, read-write lock on Redis (short)" deno task chaos --short --primitive rw
check "chaos, multi-key locks on Redis (short)" deno task chaos --short --primitive multi
check "chaos, multi-key locks on Redis Cluster (short)" deno task chaos --short --primitive multi --backend cluster
check "npm build, publint, attw" deno task build:npm
check "npm smoke (node, bun, tsc)" scripts/with_redis.sh scripts/npm_smoke.sh node bun
# test_npm.sh records its own runs ("bun", "node (commonjs build)", "node (module build)");
# its exit status is one more check, so a run that never started still counts as a failure.
check "tests on bun (runner)" scripts/with_redis.sh scripts/test_npm.sh bun
check "tests on node (runner)" scripts/with_redis.sh scripts/test_npm.sh node

echo
echo "::: summary"
$counts total
