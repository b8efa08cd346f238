#!/usr/bin/env bash
# Copyright 2026 the locco authors. MIT license.
# Runs the same Deno.test files (tests/**/*_test.ts) on Node or Bun against the packed npm
# package. The tests tree is copied, layout kept, into the scratch
# consumer .npm-smoke/, where "@kontsedal/locco" and its subpaths resolve to the installed
# tarball and npm packages (ioredis, mongodb, ...) to the repo's node_modules; the preload
# tests/_shim/deno_shim.mjs provides Deno.test and Deno.env.
#   node: tsx + node --test, twice: in a folder without "type" (tsx compiles the tests to
#         CommonJS, so require() loads the CJS build), then with "type": "module" (ESM build).
#         The multi-process and fault suites run on the CJS build only.
#   bun:  bun test --preload (Bun resolves the ESM build).
# Environment (REDIS_URL, MONGODB_URL, ...) passes through. Each run's counts are recorded
# with scripts/test_counts.sh ("scripts/test_counts.sh total" sums them).
# Usage: scripts/test_npm.sh node|bun [FILTER...]   (FILTER: substrings of test file paths)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
source scripts/_npm_consumer.sh

runtime=${1:-}
[[ $runtime == node || $runtime == bun ]] || { echo "usage: $0 node|bun [FILTER...]" >&2; exit 2; }
shift
filters=("$@")

npm_consumer_install

# tests/cluster/ runs once, on Deno (deno task test): it starts a 6-node Redis Cluster and
# checks the adapter against the server, which the runtime cannot change.
mapfile -t files < <(cd tests && find . -name '*_test.ts' -not -path './npm/*' -not -path './_shim/*' -not -path './cluster/*' | sed 's|^\./||' | sort)
echo "test_npm: tests/cluster/ not run on $runtime: the Redis Cluster suite runs once, on Deno"
# The Sentinel suite of NodeRedisAdapter also runs once, on Deno: a Sentinel client goes through
# the same transport as a single node-redis client (which every runtime runs), and each of its
# tests connects Sentinel clients (about 30 s a run here).
mapfile -t files < <(printf '%s\n' "${files[@]}" | grep -v '_sentinel_test\.ts$')
echo "test_npm: adapters/node_redis_sentinel_test.ts not run on $runtime: the Sentinel suite runs once, on Deno"
if [[ ${#filters[@]} -gt 0 ]]; then
  mapfile -t files < <(printf '%s\n' "${files[@]}" | grep -F "${filters[@]/#/-e}")
fi
[[ ${#files[@]} -gt 0 ]] || { echo "no *_test.ts files found under tests/" >&2; exit 1; }

# Deno runs only the `only` tests and then fails the run; the runners need a flag for the first half.
only_used=0
if grep -qE 'only:[[:space:]]*true|Deno\.test\.only' "${files[@]/#/tests/}"; then only_used=1; fi

prepare() { # DIR PACKAGE_JSON
  local dir="$SMOKE_DIR/$1"
  rm -rf "$dir"
  mkdir -p "$dir"
  rsync -a --exclude=/npm/ --exclude=/_shim/ tests/ "$dir/tests/"
  cp tests/_shim/deno_shim.mjs "$dir/deno_shim.mjs"
  echo "$2" >"$dir/package.json"
  echo "$dir"
}

rc=0
if [[ $runtime == node ]]; then
  node_flags=(--import tsx --import ./deno_shim.mjs --test --test-reporter=spec --test-concurrency=1)
  [[ $only_used == 0 ]] || node_flags+=(--test-only)
  # Multi-process and fault-injection suites run on the CommonJS build only: they check the
  # lock store and the OS processes around the same library code, which the module format of
  # the build cannot change; every other test runs on both builds.
  mapfile -t module_files < <(printf '%s\n' "${files[@]}" | grep -vE '_(process|faults)_test\.ts$')
  echo "test_npm: *_process_test.ts and *_faults_test.ts run on the CommonJS build only on node"
  for format in commonjs module; do
    run_files=("${files[@]}")
    [[ $format == commonjs ]] || run_files=("${module_files[@]}")
    # No "type" field: tsx then compiles the tests to CommonJS, as a CJS consumer would be.
    manifest='{"private": true}'
    [[ $format == commonjs ]] || manifest='{"private": true, "type": "module"}'
    dir=$(prepare "t-$format" "$manifest")
    # Make sure the run really loads the build it is meant to test.
    cat >"$dir/which_build.ts" <<'TS'
const where = typeof require === "function"
  ? require.resolve("@kontsedal/locco")
  : import.meta.resolve("@kontsedal/locco");
process.stdout.write(where);
TS
    where=$(cd "$dir" && node --import tsx which_build.ts)
    expected=$([[ $format == commonjs ]] && echo cjs || echo esm)
    [[ $where == */node_modules/@kontsedal/locco/$expected/* ]] ||
      { echo "expected the $expected build, tsx loads $where" >&2; exit 1; }
    echo "--- node $(node --version) --test, $format build ($where): ${#run_files[@]} files"
    (cd "$dir" && ../../scripts/test_counts.sh run "node ($format build)" -- \
      node "${node_flags[@]}" "${run_files[@]/#/tests/}") || rc=1
  done
else
  dir=$(prepare t-bun '{"private": true, "type": "module"}')
  bun_flags=(--preload ./deno_shim.mjs --timeout=120000)
  [[ $only_used == 0 ]] || bun_flags+=(--only)
  where=$(cd "$dir" && bun -e 'process.stdout.write(import.meta.resolve("@kontsedal/locco"))')
  [[ $where == */node_modules/@kontsedal/locco/esm/* ]] ||
    { echo "expected bun to load the esm build, it loads $where" >&2; exit 1; }
  echo "--- bun $(bun --version) test ($where): ${#files[@]} files"
  (cd "$dir" && ../../scripts/test_counts.sh run "bun" -- bun test "${bun_flags[@]}" "${files[@]/#/./tests/}") || rc=1
fi

if [[ $only_used == 1 ]]; then
  echo 'test_npm: failed because the "only" option was used (as deno test does)' >&2
  rc=1
fi
exit $rc
