// Copyright 2026 the locco authors. MIT license.
// `deno task bench:postgres`: PostgresAdapter against a raw floor on the
// machine's PostgreSQL (POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test),
// in interleaved rounds, medians. The floor is the least any lease lock on a
// table pays: one `INSERT ... ON CONFLICT DO UPDATE ... WHERE expired`, then
// one `DELETE ... WHERE owner`, polling every retry delay under contention.
// A second floor is PostgreSQL's own session lock: `pg_try_advisory_lock`
// then `pg_advisory_unlock` on one connection (no lease, no fence: a holder
// that hangs holds it until its connection dies). No advisory-lock library
// is installed here, so none is measured.
// Scenarios: a sequential uncontended cycle, and one key shared by 8 workers
// (hold 1 ms) and by 2 workers (hold 10 ms), each worker on its own pool.
// Prints a table only (docs/ is left alone). Options (env): BENCH_ROUNDS
// (default 3), BENCH_SECONDS per run (default 2), BENCH_SCENARIOS.

// deno-lint-ignore-file no-console

import process from "node:process";
import pg from "pg";
import postgres from "postgres";
import { Locker } from "@kontsedal/locco";
import { PostgresAdapter, type PostgresLikeClient } from "@kontsedal/locco/postgres";

const POSTGRES_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ONLY = process.env.BENCH_SCENARIOS?.split(",");
const TTL = 10_000;
const TABLE = `locco_bench_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;

type Release = () => Promise<unknown>;

interface Contender {
  acquire(key: string, retryDelay: number): Promise<Release>;
  close(): Promise<void>;
}

interface Library {
  name: string;
  open(): Contender;
}

interface Scenario {
  id: string;
  title: string;
  workers: number;
  holdMs: number;
  retryDelay: number;
}

const SCENARIOS: Scenario[] = [
  { id: "seq", title: "sequential, uncontended", workers: 1, holdMs: 0, retryDelay: 10 },
  { id: "w8h1", title: "8 workers, one key, hold 1 ms", workers: 8, holdMs: 1, retryDelay: 10 },
  { id: "w2h10", title: "2 workers, one key, hold 10 ms", workers: 2, holdMs: 10, retryDelay: 50 },
];

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function pool(): pg.Pool {
  const client = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
  client.on("error", () => {});
  return client;
}

const floor: Library = {
  name: "raw floor (pg)",
  open() {
    const client = pool();
    return {
      async acquire(key, retryDelay) {
        const owner = crypto.randomUUID();
        for (;;) {
          const { rows } = await client.query(
            `INSERT INTO "${TABLE}_floor" AS l (key, owner, expires_at) VALUES ($1, $2,
               clock_timestamp() + $3::integer * interval '1 millisecond')
             ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
               WHERE l.expires_at <= clock_timestamp()
             RETURNING 1`,
            [key, owner, TTL],
          );
          if (rows.length > 0) break;
          await sleep(retryDelay);
        }
        return () =>
          client.query(`DELETE FROM "${TABLE}_floor" WHERE key = $1 AND owner = $2`, [key, owner]);
      },
      close: () => client.end(),
    };
  },
};

const advisoryFloor: Library = {
  name: "advisory floor (pg)",
  open() {
    // A session lock lives on one connection: a Client, not a pool.
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    client.on("error", () => {});
    const connected = client.connect();
    return {
      async acquire(key, retryDelay) {
        await connected;
        for (;;) {
          const { rows } = await client.query(
            "SELECT pg_try_advisory_lock(hashtext($1)) AS taken",
            [key],
          );
          if (rows[0]?.taken === true) break;
          await sleep(retryDelay);
        }
        return () => client.query("SELECT pg_advisory_unlock(hashtext($1))", [key]);
      },
      close: () => client.end(),
    };
  },
};

function loccoLibrary(
  name: string,
  connect: () => { client: PostgresLikeClient; close(): Promise<void> },
): Library {
  return {
    name,
    open() {
      const { client, close } = connect();
      const adapter = new PostgresAdapter({ client, tableName: TABLE });
      const lockers = new Map<number, Locker>();
      return {
        async acquire(key, retryDelay) {
          let locker = lockers.get(retryDelay);
          if (locker === undefined) {
            locker = new Locker({ adapter, retrySettings: { retryDelay, retryTimes: 1_000_000 } });
            lockers.set(retryDelay, locker);
          }
          const lock = await locker.lock(key, TTL).acquire();
          return () => lock.release({ throwOnFail: true });
        },
        async close() {
          await adapter.close();
          await close();
        },
      };
    },
  };
}

const LIBRARIES: Library[] = [
  floor,
  advisoryFloor,
  loccoLibrary("locco (pg Pool)", () => {
    const client = pool();
    return { client, close: () => client.end() };
  }),
  loccoLibrary("locco (postgres.js)", () => {
    const sql = postgres(POSTGRES_URL, { max: 2, onnotice: () => {} });
    return { client: sql, close: () => sql.end({ timeout: 1 }) };
  }),
];

interface Run {
  opsPerSec: number;
  maxWaitMs: number;
  p99WaitMs: number;
  fairness: number;
}

async function runOnce(library: Library, scenario: Scenario): Promise<Run> {
  const tag = crypto.randomUUID();
  const contenders = Array.from({ length: scenario.workers }, () => library.open());
  const counts = new Array<number>(scenario.workers).fill(0);
  const waits: number[] = [];
  try {
    for (const contender of contenders) await (await contender.acquire(`warm:${tag}`, 10))();
    const started = performance.now();
    const endAt = started + SECONDS * 1000;
    await Promise.all(contenders.map(async (contender, index) => {
      const key = scenario.workers === 1 ? `bench:${tag}:${index}` : `bench:${tag}`;
      while (performance.now() < endAt) {
        const asked = performance.now();
        const release = await contender.acquire(key, scenario.retryDelay);
        waits.push(performance.now() - asked);
        if (scenario.holdMs > 0) await sleep(scenario.holdMs);
        await release();
        counts[index]!++;
      }
    }));
    const ops = counts.reduce((a, b) => a + b, 0);
    waits.sort((a, b) => a - b);
    return {
      opsPerSec: ops / ((performance.now() - started) / 1000),
      maxWaitMs: waits.at(-1) ?? 0,
      p99WaitMs: waits[Math.floor(waits.length * 0.99)] ?? 0,
      fairness: Math.min(...counts) / (ops / scenario.workers),
    };
  } finally {
    await Promise.all(contenders.map((contender) => contender.close()));
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  const admin = pool();
  try {
    const { rows } = await admin.query("SHOW server_version");
    await admin.query(
      `CREATE TABLE "${TABLE}_floor" (key text PRIMARY KEY, owner text NOT NULL,
         expires_at timestamptz NOT NULL)`,
    );
    const runs = new Map<string, Run[]>();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const scenario of SCENARIOS) {
        if (ONLY && !ONLY.includes(scenario.id)) continue;
        const order = LIBRARIES.map((_, i) => LIBRARIES[(i + round) % LIBRARIES.length]!);
        for (const library of order) {
          const run = await runOnce(library, scenario);
          const id = `${scenario.id}|${library.name}`;
          runs.set(id, [...(runs.get(id) ?? []), run]);
          console.error(
            `round ${round} ${scenario.id} ${library.name}: ${run.opsPerSec.toFixed(0)} ops/s`,
          );
        }
      }
    }
    console.log(
      `Machine: ${navigator.hardwareConcurrency} cores, PostgreSQL ${rows[0].server_version} ` +
        `on loopback. ${ROUNDS} rounds x ${SECONDS} s, medians.`,
    );
    for (const scenario of SCENARIOS) {
      if (ONLY && !ONLY.includes(scenario.id)) continue;
      const get = (name: string) => runs.get(`${scenario.id}|${name}`) ?? [];
      const floorOps = median(get(floor.name).map((r) => r.opsPerSec));
      console.log(`\n${scenario.title} (retry delay ${scenario.retryDelay} ms)`);
      console.log("  library                  ops/s  x floor  max wait ms    p99  fairness");
      for (const library of LIBRARIES) {
        const list = get(library.name);
        const ops = median(list.map((r) => r.opsPerSec));
        console.log(
          `  ${library.name.padEnd(22)}${ops.toFixed(0).padStart(8)}${
            (ops / floorOps).toFixed(2).padStart(9)
          }${median(list.map((r) => r.maxWaitMs)).toFixed(1).padStart(13)}${
            median(list.map((r) => r.p99WaitMs)).toFixed(1).padStart(7)
          }${median(list.map((r) => r.fairness)).toFixed(2).padStart(10)}`,
        );
      }
    }
  } finally {
    await admin.query(`DROP TABLE IF EXISTS "${TABLE}", "${TABLE}_floor"`).catch(() => {});
    await admin.query(`DROP SEQUENCE IF EXISTS "${TABLE}_fence"`).catch(() => {});
    await admin.end();
  }
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exitCode = 1;
});
