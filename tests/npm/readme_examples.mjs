// Copyright 2026 the locco authors. MIT license.
// Writes the README's node-redis example as a consumer would paste it: an ES
// module (top-level await) and a CommonJS script (imports turned into
// require(), the body in an async function). The Redis URL becomes REDIS_URL
// when set. Run by scripts/npm_smoke.sh from the scratch consumer, which then
// runs both on Node and Bun against the packed package and a real Redis.
// Usage: node readme_examples.mjs README.md OUT_DIR

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [readmePath, outDir] = process.argv.slice(2);
const readme = readFileSync(readmePath, "utf8");
const intro = "The same with [node-redis]";
const start = readme.indexOf(intro);
if (start < 0) throw new Error(`README: no "${intro}" paragraph`);
const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(start));
if (block === null) throw new Error("README: no ts block after the node-redis paragraph");
let code = block[1];
const url = process.env.REDIS_URL;
if (url !== undefined) code = code.replaceAll("redis://127.0.0.1:6379", url);
const done = 'process.stdout.write("README node-redis example: done\\n");\n';

const lines = code.split("\n");
const imports = lines.filter((line) => line.startsWith("import "));
const body = lines.filter((line) => !line.startsWith("import ")).join("\n");
if (imports.length === 0) throw new Error("README: the node-redis example imports nothing");
const requires = imports.map((line) => {
  const match = /^import (\{[^}]*\}) from ("[^"]+");$/.exec(line);
  if (match === null) throw new Error(`README: cannot turn into require(): ${line}`);
  return `const ${match[1]} = require(${match[2]});`;
});

writeFileSync(join(outDir, "readme_node_redis.mjs"), code + done);
writeFileSync(
  join(outDir, "readme_node_redis.cjs"),
  `${requires.join("\n")}\n(async () => {\n${body}${done}})().catch((error) => {\n` +
    "  process.stderr.write(`${error?.stack ?? error}\\n`);\n  process.exitCode = 1;\n});\n",
);
