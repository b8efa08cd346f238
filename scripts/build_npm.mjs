#!/usr/bin/env node
// Copyright 2026 the locco authors. MIT license.
// Builds the npm package into dist/ from the same sources as the JSR package:
// tsc twice (ESM and CJS, with declarations), then a package.json whose name,
// version and subpath exports all come from deno.json, so JSR and npm cannot drift.
// Usage: node scripts/build_npm.mjs   (TSC=/path/to/tsc to use another compiler)

import { execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = join(ROOT, "dist");
const TSC = process.env.TSC ?? join(ROOT, "node_modules", ".bin", "tsc");
const REPOSITORY_URL = "git+https://github.com/kontsedal/locco.git";

const deno = JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8"));
for (const field of ["name", "version", "license", "exports"]) {
  if (!deno[field]) throw new Error(`deno.json has no "${field}"`);
}
/** @type {Record<string, string>} subpath -> source file, e.g. "./memory" -> "./src/adapters/memory.ts" */
const entries = typeof deno.exports === "string" ? { ".": deno.exports } : deno.exports;
if (!entries["."]) throw new Error('deno.json "exports" has no "." entry');
for (const [sub, src] of Object.entries(entries)) {
  if (typeof src !== "string" || !/^\.\/.+\.ts$/.test(src)) {
    throw new Error(
      `deno.json export "${sub}" must map to a "./….ts" file: got ${JSON.stringify(src)}`,
    );
  }
  if (!existsSync(join(ROOT, src))) {
    throw new Error(`deno.json export "${sub}": ${src} does not exist`);
  }
}

const tsMajor = Number(
  /Version (\d+)/.exec(execFileSync(TSC, ["--version"], { encoding: "utf8" }))?.[1],
);

// tsc cannot take -p and file names together, so the entry points go into a
// throwaway config that extends tsconfig.build.json. It lives in dist/ (not a
// temp dir) so that "types": ["node"] resolves from the repo's node_modules.
rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT);
const project = join(OUT, "tsconfig.generated.json");
writeFileSync(
  project,
  JSON.stringify({
    extends: join(ROOT, "tsconfig.build.json"),
    files: Object.values(entries).map((src) => join(ROOT, src)),
    include: [],
  }),
);

function tsc(...args) {
  execFileSync(TSC, ["-p", project, ...args], { stdio: "inherit", cwd: ROOT });
}

try {
  tsc("--outDir", join(OUT, "esm"));
  tsc(
    "--outDir",
    join(OUT, "cjs"),
    "--module",
    "commonjs",
    // TS 5.9 needs node10 with commonjs; TS 6 deprecates it and TS 7 removed it.
    "--moduleResolution",
    tsMajor >= 6 ? "bundler" : "node10",
  );
} finally {
  rmSync(project, { force: true });
}
writeFileSync(join(OUT, "cjs", "package.json"), '{"type":"commonjs"}\n');

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]
  );
}
// rewriteRelativeImportExtensions leaves declaration files alone: fix ".ts" specifiers there.
const TS_SPECIFIER = /((?:from|import)\s*\(?\s*["'])(\.{1,2}\/[^"']+)\.ts(["'])/g;
for (const file of walk(OUT).filter((f) => f.endsWith(".d.ts"))) {
  const text = readFileSync(file, "utf8");
  const fixed = text.replace(TS_SPECIFIER, "$1$2.js$3");
  if (fixed !== text) writeFileSync(file, fixed);
}

function js(src, format) {
  return src.replace(/^\.\//, `./${format}/`).replace(/\.ts$/, ".js");
}
function dts(src, format) {
  return src.replace(/^\.\//, `./${format}/`).replace(/\.ts$/, ".d.ts");
}
for (const src of Object.values(entries)) {
  for (const format of ["esm", "cjs"]) {
    for (const file of [js(src, format), dts(src, format)]) {
      if (!existsSync(join(OUT, file))) throw new Error(`tsc did not emit dist/${file.slice(2)}`);
    }
  }
}

const exportsMap = {};
for (const [sub, src] of Object.entries(entries)) {
  exportsMap[sub] = {
    import: { types: dts(src, "esm"), default: js(src, "esm") },
    require: { types: dts(src, "cjs"), default: js(src, "cjs") },
  };
}
exportsMap["./package.json"] = "./package.json";

// typesVersions only serves TypeScript's legacy node10 resolution of subpaths.
const typesVersions = Object.fromEntries(
  Object.entries(entries)
    .filter(([sub]) => sub !== ".")
    .map(([sub, src]) => [sub.slice(2), [dts(src, "cjs")]]),
);

const pkg = {
  name: deno.name,
  version: deno.version,
  description:
    "Distributed locks for Deno, Node and Bun on Redis or Valkey (ioredis, node-redis, GLIDE), MongoDB, " +
    "PostgreSQL, Deno KV or memory, " +
    "with zero runtime dependencies.",
  license: deno.license,
  type: "module",
  main: js(entries["."], "cjs"),
  module: js(entries["."], "esm"),
  types: dts(entries["."], "cjs"),
  exports: exportsMap,
  ...(Object.keys(typesVersions).length > 0 ? { typesVersions: { "*": typesVersions } } : {}),
  files: ["esm", "cjs"],
  sideEffects: false,
  engines: { node: ">=20" },
  repository: { type: "git", url: REPOSITORY_URL },
  keywords: [
    "lock",
    "mutex",
    "distributed-lock",
    "redis",
    "ioredis",
    "node-redis",
    "valkey",
    "valkey-glide",
    "mongodb",
    "postgres",
    "postgresql",
    "deno",
    "bun",
  ],
};
writeFileSync(join(OUT, "package.json"), JSON.stringify(pkg, null, 2) + "\n");

for (const file of ["README.md", "LICENSE"]) {
  if (existsSync(join(ROOT, file))) cpSync(join(ROOT, file), join(OUT, file));
  else process.stderr.write(`build_npm: ${file} not found, not copied\n`);
}
process.stdout.write(
  `build_npm: ${pkg.name}@${pkg.version} -> dist/ (tsc ${tsMajor}; ${
    Object.keys(entries).join(", ")
  })\n`,
);
