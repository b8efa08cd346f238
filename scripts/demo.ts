// Copyright 2026 the locco authors. MIT license.
// The demo: concurrent workers increment a shared counter with a non-atomic
// read-modify-write (read, think, write). Under the lock no update is lost;
// without it, most are. Exits non-zero if the locked run loses an update.
//
//   deno task demo [--workers 8] [--iterations 25] [--hold 2]
//                  [--redis URL [--client ioredis|node-redis] | --mongodb URL | --postgres URL
//                   | --kv PATH]

// deno-lint-ignore-file no-console

import { parseArgs } from "node:util";
import process from "node:process";
import { type ILockAdapter, InMemoryAdapter, Locker } from "@kontsedal/locco";

/** A shared counter in the backend: a plain read and a plain write, no atomic increment. */
export interface DemoCounter {
  get(): Promise<number>;
  set(value: number): Promise<void>;
}

/** One backend for the demo: an adapter per worker, the shared counter, and cleanup. */
export interface DemoBackend {
  name: string;
  adapter(): ILockAdapter | Promise<ILockAdapter>;
  counter: DemoCounter;
  close(): Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function memoryBackend(): DemoBackend {
  const adapter = new InMemoryAdapter();
  let value = 0;
  return {
    name: "in-memory (embedded default)",
    adapter: () => adapter,
    counter: {
      // A tick of latency on each access, as a network store would have.
      get: async () => {
        await sleep(0);
        return value;
      },
      set: async (next) => {
        await sleep(0);
        value = next;
      },
    },
    close: () => Promise.resolve(),
  };
}

interface RunResult {
  final: number;
  expected: number;
  elapsedMs: number;
  waits: number[];
}

async function run(
  backend: DemoBackend,
  { workers, iterations, hold, locked }: {
    workers: number;
    iterations: number;
    hold: number;
    locked: boolean;
  },
): Promise<RunResult> {
  const key = `locco-demo:${crypto.randomUUID()}`;
  await backend.counter.set(0);
  const waits: number[] = [];
  const started = performance.now();
  const increment = async () => {
    const value = await backend.counter.get();
    await sleep(hold);
    await backend.counter.set(value + 1);
  };
  await Promise.all(Array.from({ length: workers }, async () => {
    const locker = new Locker({
      adapter: await backend.adapter(),
      retrySettings: { retryDelay: 2, retryTimes: 100_000, totalTime: 120_000 },
    });
    for (let i = 0; i < iterations; i++) {
      if (!locked) {
        await increment();
        continue;
      }
      const asked = performance.now();
      await locker.lock(key, 5_000).acquire(async () => {
        waits.push(performance.now() - asked);
        await increment();
      });
    }
  }));
  return {
    final: await backend.counter.get(),
    expected: workers * iterations,
    elapsedMs: performance.now() - started,
    waits,
  };
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function openBackend(
  values: { redis?: string; mongodb?: string; postgres?: string; kv?: string; client?: string },
): Promise<DemoBackend> {
  if (values.postgres !== undefined) {
    const { postgresBackend } = await import("./_demo_postgres.ts");
    return await postgresBackend(values.postgres);
  }
  if (values.kv !== undefined) {
    const { kvBackend } = await import("./_demo_kv.ts");
    return await kvBackend(values.kv === "" ? undefined : values.kv);
  }
  if (values.redis !== undefined) {
    const { redisBackend } = await import("./_demo_redis.ts");
    const client = values.client === "node-redis" ? "node-redis" : "ioredis";
    return await redisBackend(values.redis, { client });
  }
  if (values.mongodb !== undefined) {
    const { mongoBackend } = await import("./_demo_mongodb.ts");
    return await mongoBackend(values.mongodb === "" ? undefined : values.mongodb);
  }
  return memoryBackend();
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      workers: { type: "string", default: "8" },
      iterations: { type: "string", default: "25" },
      hold: { type: "string", default: "2" },
      redis: { type: "string" },
      client: { type: "string" },
      mongodb: { type: "string" },
      postgres: { type: "string" },
      kv: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(
      "usage: deno task demo [--workers N] [--iterations N] [--hold MS] " +
        "[--redis URL | --mongodb URL | --postgres URL | --kv PATH]\n" +
        "  --client node-redis  with --redis: lock through NodeRedisAdapter (default: ioredis)\n" +
        "  --mongodb ''  starts the bundled MongoDB stand-in\n" +
        "  --kv ''       uses a temporary Deno KV file database",
    );
    return 0;
  }
  const options = {
    workers: Number(values.workers),
    iterations: Number(values.iterations),
    hold: Number(values.hold),
  };
  for (const [name, value] of Object.entries(options)) {
    if (!Number.isInteger(value) || value < (name === "hold" ? 0 : 1)) {
      console.error(`--${name} should be a whole number: got ${JSON.stringify(value)}`);
      return 2;
    }
  }

  if (values.client !== undefined) {
    if (values.client !== "ioredis" && values.client !== "node-redis") {
      console.error(
        `--client should be ioredis or node-redis: got ${JSON.stringify(values.client)}`,
      );
      return 2;
    }
    if (values.redis === undefined) {
      console.error("--client goes with --redis URL");
      return 2;
    }
  }
  const backend = await openBackend(values);
  try {
    console.log(`locco demo on ${backend.name}`);
    console.log(
      `${options.workers} workers x ${options.iterations} increments; each one reads the counter, ` +
        `waits ${options.hold} ms, writes it back\n`,
    );
    const withLock = await run(backend, { ...options, locked: true });
    const withoutLock = await run(backend, { ...options, locked: false });
    const rows: Array<[string, string, string]> = [
      ["", "with the lock", "without a lock"],
      ["final counter", String(withLock.final), String(withoutLock.final)],
      ["expected", String(withLock.expected), String(withoutLock.expected)],
      [
        "lost updates",
        String(withLock.expected - withLock.final),
        String(withoutLock.expected - withoutLock.final),
      ],
      ["acquisitions", String(withLock.waits.length), "-"],
      [
        "wait p50 / p99 / max",
        [50, 99, 100].map((p) => `${percentile(withLock.waits, p).toFixed(1)}`).join(" / ") + " ms",
        "-",
      ],
      ["elapsed", `${withLock.elapsedMs.toFixed(0)} ms`, `${withoutLock.elapsedMs.toFixed(0)} ms`],
    ];
    for (const [a, b, c] of rows) console.log(`${a.padEnd(22)}${b.padEnd(26)}${c}`);
    const ok = withLock.final === withLock.expected;
    console.log(
      ok
        ? "\nOK: under the lock every increment landed; without it, concurrent read-modify-writes overwrote each other."
        : "\nFAIL: updates were lost under the lock",
    );
    return ok ? 0 : 1;
  } finally {
    await backend.close();
  }
}

process.exitCode = await main();
