#!/usr/bin/env bash
# The whole CI run, from a fresh clone after `npm ci`: every check, then the
# same test files on Deno (sources), Node (CJS and ESM builds) and Bun (the
# packed npm package). It runs every step even after a failure, prints one
# summary line per step, and ends with "N passed, N failed" (tests counted
# from each runner's own summary, each check counted as one). Exit status is
# non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH" DENO_NO_UPDATE_CHECK=1 RUST_BACKTRACE=0 NO_COLOR=1

passed=0
failed=0
summary=()

record() { # name status passed failed
  passed=$((passed + $3))
  failed=$((failed + $4))
  summary+=("$(printf '%-28s %-4s %5s passed, %s failed' "$1" "$2" "$3" "$4")")
}

# A check: one unit, passed or failed by exit status.
check() {
  local name=$1
  shift
  echo "::: $name ($(date +%T))"
  if "$@"; then record "$name" ok 1 0; else record "$name" FAIL 0 1; fi
}

# A test run: counts are read from the runner's summary (Deno, node --test, bun test).
suite() {
  local name=$1
  shift
  echo "::: $name ($(date +%T))"
  local out status p f
  out=$(mktemp)
  "$@" 2>&1 | tee "$out"
  status=${PIPESTATUS[0]}
  # deno: "ok | 92 passed (74 steps) | 0 failed"; node: "ℹ pass 92" / "ℹ fail 0"; bun: " 92 pass" / " 0 fail"
  p=$(grep -aoE '(^|\| )[0-9]+ passed' "$out" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')
  f=$(grep -aoE '\| [0-9]+ failed' "$out" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')
  p=$((p + $(grep -aE '^ℹ pass [0-9]+' "$out" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')))
  f=$((f + $(grep -aE '^ℹ fail [0-9]+' "$out" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')))
  p=$((p + $(grep -aE '^ *[0-9]+ pass$' "$out" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')))
  f=$((f + $(grep -aE '^ *[0-9]+ fail$' "$out" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')))
  rm -f "$out"
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi # crashed before its summary
  if [ "$status" -eq 0 ] && [ "$p" -eq 0 ]; then f=1; fi  # ran no test: not a pass
  if [ "$status" -eq 0 ] && [ "$f" -eq 0 ]; then record "$name" ok "$p" 0; else record "$name" FAIL "$p" "$f"; fi
}

check "deno fmt" deno task fmt
check "deno lint" deno task lint
check "deno check" deno task check
check "doc lint + examples" deno task doc
suite "deno test (+ doc examples)" scripts/with_redis.sh deno task test
check "jsr publish dry run" deno task publish:dry
check "demo" deno task demo --workers 4 --iterations 10

echo
echo "::: summary"
printf '%s\n' "${summary[@]}"
echo
echo "ci: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
