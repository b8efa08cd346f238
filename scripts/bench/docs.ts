// Copyright 2026 the locco authors. MIT license.
// Writes a full benchmark run's figures into the generated blocks of
// README.md ("redis", "other") and docs/performance.md ("machine",
// "breakdown", "memory", "mongo"): the prose around them is written by hand.

import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import process from "node:process";
import type { Breakdown } from "./breakdown.ts";
import type { MemoryRow } from "./memory.ts";
import type { MongoRow } from "./mongo.ts";
import { replaceBlock, table } from "./markdown.ts";

type Row = Record<string, string | number>;

/** What one full run measured. */
export interface Results {
  machine: string;
  rows: Row[];
  breakdown: { rows: Breakdown[] } | undefined;
  memory: MemoryRow[];
  mongo: MongoRow[] | undefined;
  cycles: Array<{ name: string; opsPerSec: number }>;
}

const FLOORS = ["raw floor", "script floor (SET NX in Lua)"];

/** The README's table of the Redis scenarios: one column per contender. */
export function redisTable(rows: Row[]): string {
  const libraries = [...new Set(rows.map((r) => String(r.library)))].filter(
    (name) => !FLOORS.includes(name),
  );
  const get = (scenario: string, library: string) =>
    rows.find((r) => r.scenario === scenario && r.library === library);
  const cell = (scenario: string, pick: (row: Row) => string) => (library: string) => {
    const row = get(scenario, library);
    return row ? pick(row) : "";
  };
  const ratio = (row: Row) => Number(row.ratio).toFixed(2);
  const ratioCmds = (row: Row) => `${ratio(row)} (${Number(row.commandsPerOp).toFixed(0)} cmds)`;
  const fairWait = (row: Row) =>
    `${Number(row.fairness).toFixed(2)} / ${Number(row.maxWaitMs).toFixed(0)} ms`;
  const lines: Array<[string, (library: string) => string]> = [
    ["sequential, uncontended (× raw floor)", cell("seq", ratioCmds)],
    ["64 concurrent loops (× raw floor)", cell("c64", ratio)],
    ["8 workers, hold 1 ms: × ideal throughput", cell("w8h1", ratio)],
    ["8 workers, hold 1 ms: fairness / max wait", cell("w8h1", fairWait)],
    ["2 workers, hold 10 ms: fairness / max wait", cell("w2h10", fairWait)],
    [
      "8 workers, hold 50 ms: cmds per critical section",
      cell("w8h50", (row) => Number(row.commandsPerOp).toFixed(0)),
    ],
  ];
  const body = table(
    ["scenario", ...libraries],
    lines.map(([label, of]) => [label, ...libraries.map(of)]),
  );
  const script = FLOORS[1]!;
  const seq = get("seq", script);
  const c64 = get("c64", script);
  const note = seq && c64
    ? `\n\nThe script floor (the raw floor's \`SET NX\` inside a one-line script) measured ${
      ratio(seq)
    } sequential and ${ratio(c64)} with 64 loops in the same run.`
    : "";
  return body + note;
}

function memoryTable(memory: MemoryRow[]): string {
  const names = [...new Set(memory.map((r) => r.contender))];
  const scenarios: Array<[string, string]> = [
    ["seq", "uncontended, one task"],
    ["c8h0", "8 tasks, one key, hold nothing"],
    ["c8h1", "8 tasks, one key, hold a microtask"],
  ];
  return table(
    ["ops/s (× async-mutex acquire/release)", ...names],
    scenarios.map(([id, label]) => [
      label,
      ...names.map((name) => {
        const row = memory.find((r) => r.scenario === id && r.contender === name);
        return row ? `${row.opsPerSec.toFixed(0)} (${row.ratio.toFixed(2)})` : "";
      }),
    ]),
  );
}

function mongoTable(mongo: MongoRow[]): string {
  const names = [...new Set(mongo.map((r) => r.library))];
  const of = (id: string, name: string) =>
    mongo.find((r) => r.scenario === id && r.library === name);
  return table(["scenario", ...names], [
    [
      "sequential, uncontended: ops/s (× floor)",
      ...names.map((name) => {
        const row = of("seq", name);
        return row ? `${row.opsPerSec.toFixed(0)} (${row.ratio.toFixed(2)})` : "";
      }),
    ],
    [
      "4 workers, hold 5 ms: × floor / max wait / fairness",
      ...names.map((name) => {
        const row = of("w4h5", name);
        return row
          ? `${row.ratio.toFixed(2)} / ${row.maxWaitMs.toFixed(0)} ms / ${row.fairness.toFixed(2)}`
          : "";
      }),
    ],
  ]);
}

function breakdownTables(breakdown: { rows: Breakdown[] }): string {
  const us = (value: number) => value.toFixed(1);
  const summary = table(
    [
      "per cycle",
      "cycle µs",
      "round trips × RTT µs",
      "Redis µs",
      "client µs",
      "commands",
    ],
    breakdown.rows.map((row) => [
      row.library,
      us(row.cycleUs),
      `${row.roundTrips.toFixed(0)} × ${us(row.rttUs)}`,
      us(row.redisUs),
      us(row.clientUs),
      row.commands.reduce((sum, c) => sum + c.perCycle, 0).toFixed(0),
    ]),
  );
  const scripts = table(
    ["library", "command sent (SLOWLOG)", "per cycle", "µs per call", "commands it runs"],
    breakdown.rows.flatMap((row) =>
      row.topLevel.map((top) => [
        row.library,
        top.command,
        top.perCycle.toFixed(2),
        top.usecPerCall.toFixed(2),
        row.inScripts.filter((i) => i.command.startsWith(`${top.command} > `)).map((i) =>
          `${i.command.slice(top.command.length + 3).toUpperCase()}${
            i.perCycle > 1.05 ? ` ×${i.perCycle.toFixed(0)}` : ""
          } ${i.usecPerCall.toFixed(2)} µs`
        ).join(", "),
      ])
    ),
  );
  return `${summary}\n\n${scripts}`;
}

function rewrite(url: URL, blocks: Record<string, string>): void {
  let text = readFileSync(url, "utf8");
  for (const [name, content] of Object.entries(blocks)) text = replaceBlock(text, name, content);
  writeFileSync(url, text);
}

/** Rewrites the generated blocks of README.md and docs/performance.md under `root` (the repo). */
export function writeDocs(results: Results, root = new URL("../../", import.meta.url)): void {
  const other: string[] = [`In-process (${results.machine}):`, "", memoryTable(results.memory)];
  if (results.mongo) other.push("", "MongoDB stand-in:", "", mongoTable(results.mongo));
  if (results.cycles.length > 0) {
    other.push(
      "",
      `Deno KV, uncontended cycles per second: ${
        results.cycles.map((c) => `${c.name} ${c.opsPerSec.toFixed(0)}`).join("; ")
      }.`,
    );
  }
  const readme = new URL("README.md", root);
  rewrite(readme, {
    redis: `Measured on ${results.machine}:\n\n${redisTable(results.rows)}`,
    other: other.join("\n"),
  });
  // README.md is formatted by `deno fmt` (lines wrapped at 100, tables aligned), as CI checks.
  const fmt = spawnSync(process.execPath, ["fmt", fileURLToPath(readme)], { stdio: "inherit" });
  if (fmt.status !== 0) throw new Error("deno fmt README.md failed");
  rewrite(new URL("docs/performance.md", root), {
    machine: `Figures below: ${results.machine}, one run of \`deno task bench\`.`,
    breakdown: results.breakdown
      ? breakdownTables(results.breakdown)
      : "Not measured in the last run (BENCH_SKIP_BREAKDOWN=1).",
    memory: memoryTable(results.memory),
    mongo: results.mongo
      ? mongoTable(results.mongo)
      : "Not measured in the last run (BENCH_SKIP_MONGO=1).",
  });
}
