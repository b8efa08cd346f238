// Copyright 2026 the locco authors. MIT license.
// A/B of the client-side cost of a cycle: the working tree's locco against
// the one of a git revision, both loaded in this one process, in interleaved
// rounds (the order alternates), on InMemoryAdapter (where the library's own
// work is most of a cycle; one task, and 8 tasks on one key) and, with
// --redis, on IoRedisAdapter against a private Redis (one task, and 64 tasks
// on a key each over one connection, as the benchmark's 64 concurrent loops). Prints each side's median ops/s and the ratio B/A (B = the
// working tree). Options (env): BENCH_ROUNDS (default 15), BENCH_SECONDS
// per run (default 0.5).
// Usage: deno run -A scripts/bench/ab.ts REVISION [--redis]

import process from "node:process";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Redis } from "ioredis";
import { RedisServer } from "../../tests/_redis_server.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 0.5);

interface LockLike {
  release(): Promise<void>;
}
interface LockerLike {
  lock(key: string, ttl: number): { acquire(): Promise<LockLike> };
}
interface Module {
  Locker: new (options: unknown) => LockerLike;
  InMemoryAdapter: new () => unknown;
}
interface RedisModule {
  IoRedisAdapter: new (options: { client: Redis }) => { close?(): Promise<void> };
}

const revision = process.argv[2];
if (!revision || revision.startsWith("-")) {
  process.stderr.write("usage: ab.ts REVISION [--redis]\n");
  process.exit(2);
}
const withRedis = process.argv.includes("--redis");
const root = new URL("../../", import.meta.url);
const dir = mkdtempSync(join(tmpdir(), "locco-ab-"));

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A contention: how many tasks, and whether they share one key or have one each. */
interface Tasks {
  count: number;
  keys: "one" | "each";
}

const ONE_TASK: Tasks = { count: 1, keys: "one" };

async function rate(locker: LockerLike, key: string, tasks: Tasks): Promise<number> {
  let ops = 0;
  const started = performance.now();
  const endAt = started + SECONDS * 1000;
  await Promise.all(Array.from({ length: tasks.count }, async (_, index) => {
    const own = tasks.keys === "one" ? key : `${key}:${index}`;
    while (performance.now() < endAt) {
      const lock = await locker.lock(own, 10_000).acquire();
      await lock.release();
      ops++;
    }
  }));
  return ops / ((performance.now() - started) / 1000);
}

async function compare(
  label: string,
  make: (side: "A" | "B") => LockerLike,
  tasks: Tasks = ONE_TASK,
): Promise<string> {
  const lockers = { A: make("A"), B: make("B") };
  for (const side of ["A", "B"] as const) await rate(lockers[side], `warm:${side}`, tasks);
  const rates: Record<"A" | "B", number[]> = { A: [], B: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 ? (["B", "A"] as const) : (["A", "B"] as const);
    for (const side of order) rates[side].push(await rate(lockers[side], `ab:${side}`, tasks));
  }
  const a = median(rates.A);
  const b = median(rates.B);
  return `${label}: A (${revision}) ${a.toFixed(0)} ops/s, B (working tree) ${
    b.toFixed(0)
  } ops/s, B/A ${(b / a).toFixed(3)}`;
}

async function main(): Promise<void> {
  try {
    const archive = execFileSync("git", ["archive", revision!, "mod.ts", "src"], {
      cwd: root,
      maxBuffer: 1 << 28,
    });
    execFileSync("tar", ["-x", "-C", dir], { input: archive });
    const base = pathToFileURL(`${dir}/`);
    const a = await import(new URL("mod.ts", base).href) as Module;
    const b = await import(new URL("mod.ts", root).href) as Module;
    const settings = { retryDelay: 10, retryTimes: 1_000_000 };
    const memory = (side: "A" | "B") => {
      const module = side === "A" ? a : b;
      return new module.Locker({ adapter: new module.InMemoryAdapter(), retrySettings: settings });
    };
    const lines = [
      `${ROUNDS} interleaved rounds x ${SECONDS} s, medians; acquire + release loops.`,
      await compare("InMemoryAdapter, one task", memory),
      await compare("InMemoryAdapter, 8 tasks on one key", memory, { count: 8, keys: "one" }),
    ];
    if (withRedis) {
      const ra = await import(new URL("src/adapters/redis.ts", base).href) as RedisModule;
      const rb = await import(new URL("src/adapters/redis.ts", root).href) as RedisModule;
      const server = await RedisServer.start();
      const clients: Redis[] = [];
      try {
        const redis = (side: "A" | "B") => {
          const client = new Redis(server.url);
          clients.push(client);
          const module = side === "A" ? a : b;
          const adapter = new (side === "A" ? ra : rb).IoRedisAdapter({ client });
          return new module.Locker({ adapter, retrySettings: settings });
        };
        lines.push(
          await compare("IoRedisAdapter, one task", redis),
          await compare("IoRedisAdapter, 64 tasks on a key each", redis, {
            count: 64,
            keys: "each",
          }),
        );
      } finally {
        for (const client of clients) client.disconnect();
        await server.stop();
      }
    }
    process.stdout.write(lines.join("\n") + "\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exitCode = 1;
});
