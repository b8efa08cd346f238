#!/usr/bin/env bash
# Copyright 2026 the locco authors. MIT license.
# CPU profile of the benchmark's sequential, uncontended scenario for one contender
# (scripts/bench/profile.ts), on a private Redis (scripts/with_redis.sh).
#   deno: deno run --cpu-prof (and --cpu-prof-md: a summary of the hottest functions);
#   node: node --cpu-prof over the packed npm build (.npm-smoke/, built first if dist/ is missing).
# Writes .prof/*.cpuprofile: open it in Chrome DevTools (Performance, "Load profile") or
# https://www.speedscope.app. Compare a floor's profile with locco's to see the client-side cost.
# Usage: scripts/bench/profile.sh deno|node [LIBRARY] (default "locco (this)"; BENCH_SECONDS=10)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/node_modules/.bin:$PATH"

runtime=${1:-}
export BENCH_LIBRARY="${2:-locco (this)}"
mkdir -p .prof
case $runtime in
  deno)
    scripts/with_redis.sh deno run -A --cpu-prof --cpu-prof-dir=.prof --cpu-prof-md \
      scripts/bench/profile.ts
    ;;
  node)
    source scripts/_npm_consumer.sh
    [[ -f dist/package.json ]] || node scripts/build_npm.mjs
    npm_consumer_install
    # .mts: ESM whatever the consumer's package.json says; the packed build stands in for the source.
    mkdir -p .npm-smoke/bench
    sed 's|"./libraries.ts"|"./libraries.mts"|' scripts/bench/profile.ts >.npm-smoke/bench/profile.mts
    cp scripts/bench/libraries.ts .npm-smoke/bench/libraries.mts
    scripts/with_redis.sh node --cpu-prof --cpu-prof-dir=.prof --import tsx .npm-smoke/bench/profile.mts
    ;;
  *)
    echo "usage: $0 deno|node [LIBRARY]" >&2
    exit 2
    ;;
esac
ls -t .prof | head -n 2 | sed 's|^|written: .prof/|'
