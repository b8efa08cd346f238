// Copyright 2026 the locco authors. MIT license.
// CommonJS consumer of the packed package: `node smoke.cjs` / `bun smoke.cjs` (scripts/npm_smoke.sh).

const { readFileSync } = require("node:fs");

const NAME = "@kontsedal/locco";
const pkg = JSON.parse(readFileSync(require.resolve(`${NAME}/package.json`), "utf8"));
const subpaths = Object.keys(pkg.exports).filter((sub) => sub !== "./package.json");
const specifier = (sub) => sub === "." ? NAME : `${NAME}${sub.slice(1)}`;

async function main() {
  const own = new Map();
  const other = new Map();
  for (const sub of subpaths) {
    own.set(sub, require(specifier(sub)));
    other.set(sub, await import(specifier(sub)));
  }
  const { runChecks } = await import("./checks.mjs");
  await runChecks({ label: "cjs", own, other: { label: "esm", own: other } });
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exitCode = 1;
});
