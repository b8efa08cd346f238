// Copyright 2026 the locco authors. MIT license.
// Prints the SHA-1 of every Lua script in src/adapters/_redis_scripts.ts and,
// with --check, exits 1 when a *_SHA constant there differs.
// Usage: deno run scripts/redis_script_shas.ts [--check]

import { createHash } from "node:crypto";
import process from "node:process";
import * as scripts from "../src/adapters/_redis_scripts.ts";

let stale = 0;
for (const [name, value] of Object.entries(scripts)) {
  if (!name.endsWith("_SCRIPT") || typeof value !== "string") continue;
  const sha = createHash("sha1").update(value).digest("hex");
  const recorded = (scripts as Record<string, unknown>)[`${name}_SHA`];
  const ok = recorded === sha;
  if (!ok) stale++;
  process.stdout.write(`${name}_SHA = "${sha}"${ok ? "" : `  (recorded: ${String(recorded)})`}\n`);
}
if (process.argv.includes("--check") && stale > 0) process.exitCode = 1;
