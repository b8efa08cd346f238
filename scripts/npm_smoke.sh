#!/usr/bin/env bash
# Copyright 2026 the locco authors. MIT license.
# Smoke tests of the packed npm package: npm pack dist/, install the tarball
# into the scratch consumer .npm-smoke/, then for each runtime given (node, bun) run the ESM
# and CJS consumers in tests/npm/ (every subpath of the packed exports map, acquire/release,
# the 0.1.0 README example, root vs subpath identity, isLoccoError across the two builds;
# the README's node-redis example against a real Redis),
# and type-check a TypeScript consumer under moduleResolution node16 (.mts and .cts) and
# bundler with skipLibCheck off. Works offline. Needs dist/ (deno task build:npm).
# Usage: scripts/npm_smoke.sh [node] [bun]      (default: node bun)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
source scripts/_npm_consumer.sh

runtimes=("$@")
[[ ${#runtimes[@]} -gt 0 ]] || runtimes=(node bun)
for rt in "${runtimes[@]}"; do
  [[ $rt == node || $rt == bun ]] || { echo "unknown runtime: $rt (expected node or bun)" >&2; exit 2; }
done

npm_consumer_install
mapfile -t subpaths < <(npm_consumer_subpaths)
echo "packed exports: ${subpaths[*]}"

work="$SMOKE_DIR/smoke"
rm -rf "$work"
cp -R tests/npm "$work"

# One import per exported subpath, so the type check covers entries added later.
spec() { if [[ $1 == . ]]; then echo "@kontsedal/locco"; else echo "@kontsedal/locco${1#.}"; fi; }
{
  i=0
  for sub in "${subpaths[@]}"; do echo "import * as m$i from \"$(spec "$sub")\";"; i=$((i + 1)); done
  echo "export const modules: object[] = [$(seq -s, -f 'm%g' 0 $((i - 1)))];"
} >"$work/subpaths.gen.mts"
cp "$work/subpaths.gen.mts" "$work/subpaths.gen.cts"
cp "$work/subpaths.gen.mts" "$work/subpaths.gen.ts"
cp "$work/types_check.mts" "$work/types_check_bundler.ts"

# The README's node-redis and GLIDE examples, pasted into an ES module and a CommonJS script; it needs
# a real Redis (REDIS_URL, else 127.0.0.1:6379; scripts/with_redis.sh provides one) and
# fails loudly without one.
node tests/npm/readme_examples.mjs README.md "$work"

for rt in "${runtimes[@]}"; do
  for file in smoke.mjs smoke.cjs readme_node_redis.mjs readme_node_redis.cjs \
    readme_glide.mjs readme_glide.cjs; do
    echo "--- $rt $file"
    (cd "$work" && "$rt" "$file")
  done
done

# One tsc -b process for both configs: it parses the lib files once.
echo "--- tsc $(tsc --version | cut -d' ' -f2): moduleResolution node16 (.mts + .cts), then bundler"
tsc -b "$work/tsconfig.node16.json" "$work/tsconfig.bundler.json"
echo "npm smoke: ok (${runtimes[*]}; ${#subpaths[@]} subpaths)"
