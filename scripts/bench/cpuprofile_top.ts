// Copyright 2026 the locco authors. MIT license.
// Prints the hottest functions of a V8 .cpuprofile (Deno's or Node's
// --cpu-prof): self time and total time (the share of samples whose stack
// holds the function), grouped by function and file.
// Usage: deno run -A scripts/bench/cpuprofile_top.ts FILE.cpuprofile [ROWS]
//        (ROWS default 30; files whose path holds FILTER only: BENCH_FILTER=FILTER)

import process from "node:process";
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  startTime: number;
  endTime: number;
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.split("/").slice(-2).join("/");
  return `${functionName || "(anonymous)"} ${file ? `${file}:${lineNumber + 1}` : ""}`.trim();
}

const [file, rowsArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write("usage: cpuprofile_top.ts FILE.cpuprofile [ROWS]\n");
  process.exit(2);
}
const rows = Number(rowsArg ?? 30);
const filter = process.env.BENCH_FILTER;
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes) {
  for (const child of node.children ?? []) parent.set(child, node.id);
}

const self = new Map<string, number>();
const total = new Map<string, number>();
let idle = 0;
for (const id of profile.samples) {
  const node = byId.get(id)!;
  const name = label(node);
  if (name.startsWith("(idle)")) {
    idle++;
    continue;
  }
  self.set(name, (self.get(name) ?? 0) + 1);
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const frame = label(byId.get(at)!);
    if (seen.has(frame)) continue;
    seen.add(frame);
    total.set(frame, (total.get(frame) ?? 0) + 1);
  }
}
const busy = profile.samples.length - idle;
const ms = (profile.endTime - profile.startTime) / 1000;
const lines = [
  `${file}: ${profile.samples.length} samples over ${ms.toFixed(0)} ms, ${
    ((100 * busy) / profile.samples.length).toFixed(1)
  }% not idle; shares below are of the non-idle samples.`,
];
for (const [title, map] of [["self", self], ["total", total]] as const) {
  lines.push("", `${title.padStart(7)}  function`);
  const sorted = [...map].filter(([name]) => !filter || name.includes(filter))
    .sort((a, b) => b[1] - a[1]).slice(0, rows);
  for (const [name, count] of sorted) {
    lines.push(`${((100 * count) / busy).toFixed(1).padStart(6)}%  ${name}`);
  }
}
process.stdout.write(lines.join("\n") + "\n");
