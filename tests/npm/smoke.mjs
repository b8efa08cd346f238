// Copyright 2026 the locco authors. MIT license.
// ESM consumer of the packed package: `node smoke.mjs` / `bun smoke.mjs` (scripts/npm_smoke.sh).

import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { runChecks } from "./checks.mjs";

const NAME = "@kontsedal/locco";
const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(require.resolve(`${NAME}/package.json`), "utf8"));
const subpaths = Object.keys(pkg.exports).filter((sub) => sub !== "./package.json");
const specifier = (sub) => sub === "." ? NAME : `${NAME}${sub.slice(1)}`;

const own = new Map();
const other = new Map();
for (const sub of subpaths) {
  own.set(sub, await import(specifier(sub)));
  other.set(sub, require(specifier(sub)));
}
await runChecks({ label: "esm", own, other: { label: "cjs", own: other } });
