// Copyright 2026 the locco authors. MIT license.
// Prints the SHA-1 of every Lua script in src/adapters/_redis_scripts.ts;
// with --check, exits 1 when a *_SHA constant there differs; with --write,
// rewrites the stale constants in place.
// Usage: deno run -A scripts/redis_script_shas.ts [--check | --write]

import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import * as scripts from "../src/adapters/_redis_scripts.ts";

const SOURCE = new URL("../src/adapters/_redis_scripts.ts", import.meta.url);

let stale = 0;
let text = process.argv.includes("--write") ? readFileSync(SOURCE, "utf8") : "";
for (const [name, value] of Object.entries(scripts)) {
  if (!name.endsWith("_SCRIPT") || typeof value !== "string") continue;
  const sha = createHash("sha1").update(value).digest("hex");
  const recorded = (scripts as Record<string, unknown>)[`${name}_SHA`];
  const ok = recorded === sha;
  if (!ok) stale++;
  text = text.replace(new RegExp(`(${name}_SHA = )"[0-9a-f]*"`), `$1"${sha}"`);
  process.stdout.write(`${name}_SHA = "${sha}"${ok ? "" : `  (recorded: ${String(recorded)})`}\n`);
}
if (process.argv.includes("--write") && stale > 0) writeFileSync(SOURCE, text);
if (process.argv.includes("--check") && stale > 0) process.exitCode = 1;
