// Copyright 2026 the locco authors. MIT license.
// `deno task bench:breakdown`: where one sequential, uncontended acquire +
// release cycle goes, for locco and the floors, on a private Redis (it resets
// the server's statistics and turns on SLOWLOG for every command).
//
// For each contender, in interleaved rounds:
// 1. timing pass: SLOWLOG off, CONFIG RESETSTAT, BENCH_SECONDS (default 2) of
//    cycles on one key; then INFO commandstats: calls and usec of every
//    command, those run inside scripts included;
// 2. attribution pass: SLOWLOG with a zero threshold over BENCH_CYCLES
//    (default 2000) cycles: the commands the client sent (scripts named by
//    their SHA-1; Redis 7 also logs the commands a script runs, with no
//    client address, which are left out) and the time Redis spent executing
//    each.
// Per cycle: Redis-side µs = the top-level commands' usec (a script's usec
// includes the commands it runs), round trips = top-level commands, and
// client-side µs = cycle µs - Redis-side µs - round trips x RTT (the median
// PING through the same client, which holds the kernel, the event loops and
// Redis's reading and writing of one small command), measured just before
// each timing pass.
// Options (env): BENCH_ROUNDS (default 3), BENCH_SECONDS, BENCH_CYCLES,
// BENCH_LIBRARIES (comma-separated names; default the two floors and locco
// over both clients; "all" for every contender of the benchmark).

import process from "node:process";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { RedisServer } from "../../tests/_redis_server.ts";
import * as loccoScripts from "../../src/adapters/_redis_scripts.ts";
import {
  COMPARE_AND_DELETE,
  type Contender,
  LIBRARIES,
  type Library,
  SET_NX,
} from "./libraries.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const CYCLES = Number(process.env.BENCH_CYCLES ?? 2000);
const TTL = 10_000;
const DEFAULT_LIBRARIES = [
  "raw floor",
  "script floor (SET NX in Lua)",
  "locco (this)",
  "locco (this, node-redis)",
];
const ADMIN = "bench-breakdown-admin";
/** Commands of the harness itself, never of a cycle. */
const HARNESS = /^(info|config\||slowlog\||client\||ping|hello|select|script\||quit|command\|)/;

/** One command's statistics over a timing pass. */
interface CommandStat {
  calls: number;
  usec: number;
}

/** One top-level command (a script by name) over an attribution pass. */
interface SlowStat {
  calls: number;
  usec: number;
}

/** The breakdown of one contender's cycle (medians over the rounds). */
export interface Breakdown {
  library: string;
  cycleUs: number;
  roundTrips: number;
  rttUs: number;
  redisUs: number;
  redisSlowlogUs: number;
  clientUs: number;
  /** Per command (inner ones included): calls and µs per cycle, µs per call. */
  commands: Array<{ command: string; perCycle: number; usecPerCall: number; usPerCycle: number }>;
  /** Per top-level command: calls per cycle and µs per call. */
  topLevel: Array<{ command: string; perCycle: number; usecPerCall: number }>;
  /** Per command run by a script ("evalsha <script> > <command>"): the same. */
  inScripts: Array<{ command: string; perCycle: number; usecPerCall: number }>;
}

async function sha1(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function scriptNames(): Promise<Map<string, string>> {
  const named: Array<[string, string]> = [
    ["floor compare-and-delete", COMPARE_AND_DELETE],
    ["floor SET NX", SET_NX],
  ];
  // Each of locco's scripts opens with a comment naming it ("-- locco acquire").
  for (const value of Object.values(loccoScripts)) {
    if (typeof value === "string" && value.startsWith("-- locco")) {
      named.push([value.slice(3, value.indexOf("\n")), value]);
    }
  }
  const names = new Map<string, string>();
  for (const [name, source] of named) names.set(await sha1(source), name);
  return names;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function commandStats(admin: Redis): Promise<Map<string, CommandStat>> {
  const stats = new Map<string, CommandStat>();
  for (const line of (await admin.info("commandstats")).split("\n")) {
    const match = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line.trim());
    if (!match || HARNESS.test(match[1]!)) continue;
    stats.set(match[1]!, { calls: Number(match[2]), usec: Number(match[3]) });
  }
  return stats;
}

async function cycles(contender: Contender, key: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const release = await contender.acquire(key, TTL, 10);
    await release();
  }
}

async function timedCycles(contender: Contender, key: string): Promise<number> {
  let done = 0;
  const started = performance.now();
  const endAt = started + SECONDS * 1000;
  while (performance.now() < endAt) {
    const release = await contender.acquire(key, TTL, 10);
    await release();
    done++;
  }
  return ((performance.now() - started) * 1000) / done;
}

type SlowlogEntry = [number, number, number, string[], string, string];

/** One round of one contender: a timing pass and an attribution pass. */
async function measure(
  library: Library,
  url: string,
  admin: Redis,
  names: Map<string, string>,
  rtt: () => Promise<number>,
): Promise<{
  cycleUs: number;
  rttUs: number;
  stats: Map<string, CommandStat>;
  timedCycles: number;
  slow: Map<string, SlowStat>;
  inside: Map<string, SlowStat>;
}> {
  const contender = library.open(url);
  const key = `bench:breakdown:${crypto.randomUUID()}`;
  try {
    await cycles(contender, key, 200);
    const rttUs = await rtt();
    await admin.config("SET", "slowlog-log-slower-than", "-1");
    await admin.config("RESETSTAT");
    const cycleUs = await timedCycles(contender, key);
    const stats = await commandStats(admin);
    const timed = Math.round((SECONDS * 1e6) / cycleUs);

    await admin.config("SET", "slowlog-max-len", String(CYCLES * 32 + 100));
    await admin.slowlog("RESET");
    await admin.config("SET", "slowlog-log-slower-than", "0");
    await cycles(contender, key, CYCLES);
    await admin.config("SET", "slowlog-log-slower-than", "-1");
    const entries = await admin.call("SLOWLOG", "GET", "-1") as SlowlogEntry[];
    const slow = new Map<string, SlowStat>();
    const inside = new Map<string, SlowStat>();
    const add = (map: Map<string, SlowStat>, name: string, usec: number) => {
      const stat = map.get(name) ?? { calls: 0, usec: 0 };
      stat.calls++;
      stat.usec += usec;
      map.set(name, stat);
    };
    // Oldest first: the commands a script runs are logged just before it.
    let pending: Array<[string, number]> = [];
    for (const [, , duration, args, address, clientName] of entries.reverse()) {
      const command = args[0]!.toLowerCase();
      // Commands run by a script are logged too, with no client ("?:0").
      if (address === "?:0") {
        pending.push([command, duration]);
        continue;
      }
      if (clientName === ADMIN || HARNESS.test(command)) {
        pending = [];
        continue;
      }
      const name = command === "evalsha"
        ? `evalsha ${names.get(args[1]!) ?? args[1]!.slice(0, 8)}`
        : command;
      add(slow, name, duration);
      for (const [inner, usec] of pending) add(inside, `${name} > ${inner}`, usec);
      pending = [];
    }
    return { cycleUs, rttUs, stats, timedCycles: timed, slow, inside };
  } finally {
    await contender.close();
  }
}

async function pingRtt(ping: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 100; i++) await ping();
  const samples: number[] = [];
  for (let i = 0; i < 500; i++) {
    const t = performance.now();
    await ping();
    samples.push((performance.now() - t) * 1000);
  }
  return median(samples);
}

/** Runs the breakdown on a fresh private Redis and returns one row per contender. */
export async function runBreakdown(
  only: string[] = DEFAULT_LIBRARIES,
  log: (line: string) => void = () => {},
): Promise<{ rttUs: { ioredis: number; nodeRedis: number }; rows: Breakdown[] }> {
  const server = await RedisServer.start();
  const admin = new Redis(server.url, { connectionName: ADMIN });
  const nodeRedis = createClient({ url: server.url, name: ADMIN });
  nodeRedis.on("error", () => {});
  await nodeRedis.connect();
  const names = await scriptNames();
  const libraries = only.includes("all")
    ? LIBRARIES
    : LIBRARIES.filter((library) => only.includes(library.name));
  try {
    const rttUs = {
      ioredis: await pingRtt(() => admin.ping()),
      nodeRedis: await pingRtt(() => nodeRedis.ping()),
    };
    const results = new Map<string, Array<Awaited<ReturnType<typeof measure>>>>();
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < libraries.length; i++) {
        const library = libraries[(i + round) % libraries.length]!;
        const nodeRedisClient = library.name.includes("node-redis");
        const result = await measure(
          library,
          server.url,
          admin,
          names,
          () => pingRtt(nodeRedisClient ? () => nodeRedis.ping() : () => admin.ping()),
        );
        results.set(library.name, [...(results.get(library.name) ?? []), result]);
        log(`round ${round + 1} ${library.name}: ${result.cycleUs.toFixed(1)} µs/cycle`);
      }
    }
    const rows: Breakdown[] = [];
    for (const library of libraries) {
      const runs = results.get(library.name) ?? [];
      const rtt = median(runs.map((run) => run.rttUs));
      const topNames = [...new Set(runs.flatMap((run) => [...run.slow.keys()]))].sort();
      const perCall =
        (pick: (run: Awaited<ReturnType<typeof measure>>) => Map<string, SlowStat>) =>
        (command: string) => ({
          command,
          perCycle: median(runs.map((run) => (pick(run).get(command)?.calls ?? 0) / CYCLES)),
          usecPerCall: median(
            runs.map((run) => {
              const stat = pick(run).get(command);
              return stat ? stat.usec / stat.calls : 0;
            }),
          ),
        });
      const topLevel = topNames.map(perCall((run) => run.slow));
      const inScripts = [...new Set(runs.flatMap((run) => [...run.inside.keys()]))].sort().map(
        perCall((run) => run.inside),
      );
      // The commandstats names of the commands the client sent ("evalsha" for any script).
      const topCommands = new Set(topNames.map((name) => name.split(" ")[0]!));
      const commandNames = [...new Set(runs.flatMap((run) => [...run.stats.keys()]))].sort();
      const commands = commandNames.map((command) => {
        const perRun = runs.map((run) => {
          const stat = run.stats.get(command) ?? { calls: 0, usec: 0 };
          return {
            perCycle: stat.calls / run.timedCycles,
            usecPerCall: stat.calls ? stat.usec / stat.calls : 0,
            usPerCycle: stat.usec / run.timedCycles,
          };
        });
        return {
          command: topCommands.has(command) ? command : `  ${command} (in scripts)`,
          perCycle: median(perRun.map((r) => r.perCycle)),
          usecPerCall: median(perRun.map((r) => r.usecPerCall)),
          usPerCycle: median(perRun.map((r) => r.usPerCycle)),
        };
      });
      const cycleUs = median(runs.map((run) => run.cycleUs));
      const redisUs = median(runs.map((run) => {
        let usec = 0;
        for (const command of topCommands) usec += run.stats.get(command)?.usec ?? 0;
        return usec / run.timedCycles;
      }));
      const redisSlowlogUs = median(runs.map((run) => {
        let usec = 0;
        for (const stat of run.slow.values()) usec += stat.usec;
        return usec / CYCLES;
      }));
      const roundTrips = topLevel.reduce((sum, row) => sum + row.perCycle, 0);
      rows.push({
        library: library.name,
        cycleUs,
        roundTrips,
        rttUs: rtt,
        redisUs,
        redisSlowlogUs,
        clientUs: cycleUs - redisUs - roundTrips * rtt,
        commands,
        topLevel,
        inScripts,
      });
    }
    return { rttUs, rows };
  } finally {
    await nodeRedis.close();
    await admin.quit();
    await server.stop();
  }
}

function fixed(value: number, digits: number, width: number): string {
  return value.toFixed(digits).padStart(width);
}

/** The breakdown as plain-text tables. */
export function formatBreakdown(
  result: Awaited<ReturnType<typeof runBreakdown>>,
): string {
  const lines = [
    `Sequential, uncontended acquire + release on a private Redis; ${ROUNDS} rounds, medians. ` +
    `PING round trip at the start: ioredis ${result.rttUs.ioredis.toFixed(1)} µs, node-redis ${
      result.rttUs.nodeRedis.toFixed(1)
    } µs (each row: its own, median).`,
    "",
    `  ${"library".padEnd(32)}${"cycle µs".padStart(10)}${"trips".padStart(7)}${
      "RTT µs".padStart(8)
    }${"× trips".padStart(9)}${"Redis µs".padStart(10)}${"(slowlog)".padStart(10)}${
      "client µs".padStart(11)
    }${"cmds".padStart(6)}`,
  ];
  for (const row of result.rows) {
    const commands = row.commands.reduce((sum, c) => sum + c.perCycle, 0);
    lines.push(
      `  ${row.library.padEnd(32)}${fixed(row.cycleUs, 1, 10)}${fixed(row.roundTrips, 2, 7)}${
        fixed(row.rttUs, 1, 8)
      }${fixed(row.roundTrips * row.rttUs, 1, 9)}${fixed(row.redisUs, 1, 10)}${
        fixed(row.redisSlowlogUs, 1, 10)
      }${fixed(row.clientUs, 1, 11)}${fixed(commands, 1, 6)}`,
    );
  }
  for (const row of result.rows) {
    lines.push("");
    lines.push(`${row.library}: commands per cycle (INFO commandstats)`);
    lines.push(
      `  ${"command".padEnd(36)}${"per cycle".padStart(10)}${"µs/call".padStart(9)}${
        "µs/cycle".padStart(10)
      }`,
    );
    for (const c of row.commands) {
      lines.push(
        `  ${c.command.padEnd(36)}${fixed(c.perCycle, 2, 10)}${fixed(c.usecPerCall, 2, 9)}${
          fixed(c.usPerCycle, 2, 10)
        }`,
      );
    }
    lines.push(`  sent by the client (SLOWLOG, zero threshold):`);
    for (const t of row.topLevel) {
      lines.push(
        `  ${t.command.padEnd(36)}${fixed(t.perCycle, 2, 10)}${fixed(t.usecPerCall, 2, 9)}${
          fixed(t.perCycle * t.usecPerCall, 2, 10)
        }`,
      );
      for (const i of row.inScripts.filter((i) => i.command.startsWith(`${t.command} > `))) {
        lines.push(
          `    ${i.command.slice(t.command.length + 3).padEnd(34)}${fixed(i.perCycle, 2, 10)}${
            fixed(i.usecPerCall, 2, 9)
          }${fixed(i.perCycle * i.usecPerCall, 2, 10)}`,
        );
      }
    }
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const only = process.env.BENCH_LIBRARIES?.split(",") ?? DEFAULT_LIBRARIES;
  runBreakdown(only, (line) => process.stderr.write(`${line}\n`))
    .then((result) => process.stdout.write(`${formatBreakdown(result)}\n`))
    .catch((error) => {
      process.stderr.write(`${error?.stack ?? error}\n`);
      process.exitCode = 1;
    });
}
