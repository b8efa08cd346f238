// Copyright 2026 the locco authors. MIT license.
// Writes the README's node-redis and GLIDE examples as a consumer would paste them: an ES
// module (top-level await) and a CommonJS script (imports turned into
// require(), the body in an async function). The Redis URL becomes REDIS_URL
// when set. Run by scripts/npm_smoke.sh from the scratch consumer, which then
// runs both on Node and Bun against the packed package and a real Redis.
// Usage: node readme_examples.mjs README.md OUT_DIR

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [readmePath, outDir] = process.argv.slice(2);
const readme = readFileSync(readmePath, "utf8");
const url = process.env.REDIS_URL;

// Writes OUT_DIR/NAME.mjs and NAME.cjs from the first ts block after `intro`;
// `address` puts REDIS_URL into the code.
function writeExample(intro, name, label, address) {
  const start = readme.indexOf(intro);
  if (start < 0) throw new Error(`README: no "${intro}" paragraph`);
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(start));
  if (block === null) throw new Error(`README: no ts block after "${intro}"`);
  let code = block[1];
  if (url !== undefined) code = address(code, url);
  const done = `process.stdout.write("README ${label} example: done\\n");\n`;

  const lines = code.split("\n");
  const imports = lines.filter((line) => line.startsWith("import "));
  const body = lines.filter((line) => !line.startsWith("import ")).join("\n");
  if (imports.length === 0) throw new Error(`README: the ${label} example imports nothing`);
  const requires = imports.map((line) => {
    const match = /^import (\{[^}]*\}) from ("[^"]+");$/.exec(line);
    if (match === null) throw new Error(`README: cannot turn into require(): ${line}`);
    return `const ${match[1]} = require(${match[2]});`;
  });

  writeFileSync(join(outDir, `${name}.mjs`), code + done);
  writeFileSync(
    join(outDir, `${name}.cjs`),
    `${requires.join("\n")}\n(async () => {\n${body}${done}})().catch((error) => {\n` +
      "  process.stderr.write(`${error?.stack ?? error}\\n`);\n  process.exitCode = 1;\n});\n",
  );
}

writeExample(
  "The same with [node-redis]",
  "readme_node_redis",
  "node-redis",
  (code, to) => code.replaceAll("redis://127.0.0.1:6379", to),
);
writeExample("#### `GlideAdapter`", "readme_glide", "GLIDE", (code, to) => {
  const { hostname, port } = new URL(to);
  return code.replaceAll(
    '{ host: "127.0.0.1", port: 6379 }',
    `{ host: ${JSON.stringify(hostname)}, port: ${Number(port || 6379)} }`,
  );
});
