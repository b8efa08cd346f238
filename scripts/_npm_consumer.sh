# Copyright 2026 the locco authors. MIT license.
# Sourced by scripts/npm_smoke.sh and scripts/test_npm.sh (bash, from the repo root).
# Packs dist/ with `npm pack` and installs the tarball into the scratch consumer
# .npm-smoke/ (git-ignored, inside the repo so that packages such as ioredis, mongodb,
# tsx and @deno/shim-deno-test resolve from the repo's node_modules). Offline: the
# tarball has no dependencies. Reinstalls only when the packed bytes change.

SMOKE_DIR="$PWD/.npm-smoke"

npm_consumer_install() {
  if [[ ! -f dist/package.json ]]; then
    echo "dist/package.json is missing: run 'deno task build:npm' (or node scripts/build_npm.mjs) first" >&2
    return 1
  fi
  mkdir -p "$SMOKE_DIR/pack"
  rm -f "$SMOKE_DIR"/pack/*.tgz
  local tarball
  tarball=$(npm pack ./dist --pack-destination "$SMOKE_DIR/pack" --silent --offline | tail -n 1)
  [[ -f "$SMOKE_DIR/pack/$tarball" ]] || { echo "npm pack produced no tarball" >&2; return 1; }
  local sum
  sum=$(sha256sum "$SMOKE_DIR/pack/$tarball" | cut -d' ' -f1)
  if [[ -f "$SMOKE_DIR/.installed" && "$(cat "$SMOKE_DIR/.installed")" == "$sum" &&
    -f "$SMOKE_DIR/node_modules/@kontsedal/locco/package.json" ]]; then
    return 0
  fi
  cat >"$SMOKE_DIR/package.json" <<JSON
{
  "name": "locco-npm-consumer",
  "private": true,
  "description": "Scratch consumer of the packed @kontsedal/locco tarball (scripts/_npm_consumer.sh)",
  "dependencies": { "@kontsedal/locco": "file:pack/$tarball" }
}
JSON
  rm -rf "$SMOKE_DIR/node_modules" "$SMOKE_DIR/package-lock.json"
  (cd "$SMOKE_DIR" && npm install --offline --no-audit --no-fund --no-package-lock \
    --ignore-scripts --loglevel=error >/dev/null)
  echo "$sum" >"$SMOKE_DIR/.installed"
  echo "installed $tarball into .npm-smoke/"
}

# The subpaths the packed package exports (".", "./memory", ...), one per line, from its package.json.
npm_consumer_subpaths() {
  node -e '
    const pkg = require(process.argv[1]);
    for (const sub of Object.keys(pkg.exports)) if (sub !== "./package.json") console.log(sub);
  ' "$SMOKE_DIR/node_modules/@kontsedal/locco/package.json"
}
