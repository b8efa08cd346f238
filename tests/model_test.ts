// Copyright 2026 the locco authors. MIT license.
// Model check of the adapters (fast-check model-based testing): random
// sequences of createLock / releaseLock / extendLock / isValidLock by three
// owners on two keys, with time advancing, against a reference model of a
// lease lock. The in-memory adapter runs on a clock the test moves, so every
// outcome is exact. Redis and the MongoDB stand-in run in real time with short
// TTLs: the model keeps each lock's expiry as an interval (the server applies
// a call somewhere between sending it and getting the reply), and outcomes
// within MARGIN_MS of an expiry are accepted either way. A divergence fails
// with the shrunk command sequence.

import assert from "node:assert/strict";
import fc from "fast-check";
import { MongoClient } from "mongodb";
import { Redis } from "ioredis";
import {
  type ILockAdapter,
  InMemoryAdapter,
  IoRedisAdapter,
  isLoccoError,
  MongoAdapter,
  type MongoLikeClient,
} from "@kontsedal/locco";
import { delay, ManualClock, uniqueKey } from "./_helpers.ts";
import { DenoKvAdapter } from "@kontsedal/locco/kv";
import { openTestKv, tempKvPath } from "./_kv.ts";
import { assertRedisReachable, REDIS_URL } from "./_redis_server.ts";
import { startJongodb } from "./_jongodb.ts";
import { PostgresAdapter } from "@kontsedal/locco/postgres";
import { adminClient, CLIENT_KINDS, dropTable, uniqueTable } from "./_postgres.ts";

const OWNERS = ["a", "b", "c"] as const;
const KEYS = [0, 1] as const;
const MARGIN_MS = 25;

interface Held {
  owner: string;
  /** Earliest and latest instant the lock can expire at. */
  lo: number;
  hi: number;
}

interface Model {
  locks: Map<number, Held>;
  /** The last release of each key by its holder: who, and when it was sent. */
  released: Map<number, { owner: string; at: number }>;
}

interface Real {
  adapter: ILockAdapter;
  keys: string[];
  now(): number;
  advance(ms: number): Promise<void>;
  /** Extra wait after expiry before createLock may take a key over (MongoAdapter's clockDriftMargin). */
  takeover: number;
  margin: number;
  /**
   * How long a key remembers who released it last (IoRedisAdapter's release
   * record), so that the releaser's resent or retried release succeeds; 0
   * where a second release always fails.
   */
  releaseRecordMs: number;
}

type Verdict = "yes" | "no" | "maybe";

/** Whether the lock is still live at every instant of [s, r] (yes), at none (no), or it depends. */
function live(held: Held | undefined, s: number, r: number, margin: number, extra = 0): Verdict {
  if (held === undefined) return "no";
  if (r < held.lo + extra - margin) return "yes";
  if (s >= held.hi + extra + margin) return "no";
  return "maybe";
}

async function outcome(call: () => Promise<unknown>): Promise<{ ok: boolean; code?: string }> {
  try {
    await call();
    return { ok: true };
  } catch (error) {
    if (!isLoccoError(error)) throw error;
    return { ok: false, code: error.code };
  }
}

function expect(verdict: Verdict, ok: boolean, what: string): void {
  if (verdict === "maybe") return;
  assert.equal(
    ok,
    verdict === "yes",
    `${what}: expected ${verdict === "yes" ? "success" : "failure"}`,
  );
}

class Create implements fc.AsyncCommand<Model, Real> {
  constructor(readonly owner: string, readonly key: number, readonly ttl: number) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const held = model.locks.get(this.key);
    const s = real.now();
    const result = await outcome(() =>
      real.adapter.createLock({ key: real.keys[this.key]!, uniqueValue: this.owner, ttl: this.ttl })
    );
    const r = real.now();
    const free = live(held, s, r, real.margin, real.takeover);
    expect(free === "yes" ? "no" : free === "no" ? "yes" : "maybe", result.ok, this.toString());
    if (!result.ok) assert.equal(result.code, "LOCK_CREATE_FAILED", this.toString());
    if (result.ok) {
      model.locks.set(this.key, { owner: this.owner, lo: s + this.ttl, hi: r + this.ttl });
    }
  }
  toString(): string {
    return `createLock(${this.owner}, k${this.key}, ttl ${this.ttl})`;
  }
}

class Release implements fc.AsyncCommand<Model, Real> {
  constructor(readonly owner: string, readonly key: number) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const held = model.locks.get(this.key);
    const s = real.now();
    const result = await outcome(() =>
      real.adapter.releaseLock({ key: real.keys[this.key]!, uniqueValue: this.owner })
    );
    const r = real.now();
    const mine = held?.owner === this.owner ? held : undefined;
    let verdict = live(mine, s, r, real.margin);
    const last = model.released.get(this.key);
    if (verdict === "no" && last?.owner === this.owner && s - last.at < real.releaseRecordMs) {
      verdict = "maybe"; // a release by the key's last releaser, within the record's life
    }
    expect(verdict, result.ok, this.toString());
    if (!result.ok) assert.equal(result.code, "LOCK_RELEASE_FAILED", this.toString());
    if (result.ok && mine !== undefined) {
      model.locks.delete(this.key);
      model.released.set(this.key, { owner: this.owner, at: s });
    }
  }
  toString(): string {
    return `releaseLock(${this.owner}, k${this.key})`;
  }
}

class Extend implements fc.AsyncCommand<Model, Real> {
  constructor(readonly owner: string, readonly key: number, readonly ttl: number) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const held = model.locks.get(this.key);
    const s = real.now();
    const result = await outcome(() =>
      real.adapter.extendLock({ key: real.keys[this.key]!, uniqueValue: this.owner, ttl: this.ttl })
    );
    const r = real.now();
    const mine = held?.owner === this.owner ? held : undefined;
    expect(live(mine, s, r, real.margin), result.ok, this.toString());
    if (!result.ok) assert.equal(result.code, "LOCK_EXTEND_FAILED", this.toString());
    if (result.ok) {
      model.locks.set(this.key, { owner: this.owner, lo: s + this.ttl, hi: r + this.ttl });
    }
  }
  toString(): string {
    return `extendLock(${this.owner}, k${this.key}, ttl ${this.ttl})`;
  }
}

class IsValid implements fc.AsyncCommand<Model, Real> {
  constructor(readonly owner: string, readonly key: number) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const held = model.locks.get(this.key);
    const s = real.now();
    const valid = await real.adapter.isValidLock({
      key: real.keys[this.key]!,
      uniqueValue: this.owner,
    });
    const r = real.now();
    const mine = held?.owner === this.owner ? held : undefined;
    expect(live(mine, s, r, real.margin), valid, this.toString());
  }
  toString(): string {
    return `isValidLock(${this.owner}, k${this.key})`;
  }
}

class Advance implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check(): boolean {
    return true;
  }
  async run(_model: Model, real: Real): Promise<void> {
    await real.advance(this.ms);
  }
  toString(): string {
    return `advance(${this.ms} ms)`;
  }
}

function commands(ttl: fc.Arbitrary<number>, step: fc.Arbitrary<number>, maxCommands: number) {
  const owner = fc.constantFrom(...OWNERS);
  const key = fc.constantFrom(...KEYS);
  return fc.commands([
    fc.tuple(owner, key, ttl).map(([o, k, t]) => new Create(o, k, t)),
    fc.tuple(owner, key).map(([o, k]) => new Release(o, k)),
    fc.tuple(owner, key, ttl).map(([o, k, t]) => new Extend(o, k, t)),
    fc.tuple(owner, key).map(([o, k]) => new IsValid(o, k)),
    step.map((ms) => new Advance(ms)),
  ], { maxCommands });
}

Deno.test("InMemoryAdapter matches the lease model on a controlled clock", async () => {
  await fc.assert(
    fc.asyncProperty(
      commands(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 0, max: 120 }), 40),
      async (cmds) => {
        const clock = new ManualClock();
        const real: Real = {
          adapter: new InMemoryAdapter({ now: clock.now }),
          keys: ["k0", "k1"],
          now: clock.now,
          advance: (ms) => Promise.resolve(clock.advance(ms)),
          takeover: 0,
          margin: 0,
          releaseRecordMs: 0,
        };
        await fc.asyncModelRun(
          () => ({ model: { locks: new Map(), released: new Map() }, real }),
          cmds,
        );
      },
    ),
    { numRuns: 300 },
  );
});

interface Store {
  adapter(): ILockAdapter;
  takeover: number;
  close(): Promise<void>;
  /** See Real.releaseRecordMs (0 when absent). */
  releaseRecordMs?: number;
}

function realTimeModel(name: string, open: () => Promise<Store>): void {
  Deno.test(`${name} matches the lease model in real time with short TTLs`, async () => {
    const store = await open();
    try {
      await fc.assert(
        fc.asyncProperty(
          commands(
            fc.integer({ min: 60, max: 250 }),
            fc.constantFrom(0, 30, 100, 200),
            12,
          ),
          async (cmds) => {
            const prefix = uniqueKey("locco-model");
            const real: Real = {
              adapter: store.adapter(),
              keys: [`${prefix}:0`, `${prefix}:1`],
              now: () => performance.now(),
              advance: (ms) => delay(ms),
              takeover: store.takeover,
              releaseRecordMs: store.releaseRecordMs ?? 0,
              margin: MARGIN_MS,
            };
            await fc.asyncModelRun(
              () => ({ model: { locks: new Map(), released: new Map() }, real }),
              cmds,
            );
          },
        ),
        { numRuns: 12 },
      );
    } finally {
      await store.close();
    }
  });
}

realTimeModel("IoRedisAdapter", async () => {
  await assertRedisReachable();
  const client = new Redis(REDIS_URL);
  return {
    adapter: () => new IoRedisAdapter({ client }),
    takeover: 0,
    // A release by the key's last releaser succeeds for 10 s (a resent or retried release).
    releaseRecordMs: 10_000,
    close: async () => void await client.quit(),
  };
});

realTimeModel("MongoAdapter on the stand-in", async () => {
  const server = await startJongodb();
  const client = new MongoClient(server.uri, { directConnection: true, maxPoolSize: 2 });
  return {
    adapter: () => new MongoAdapter({ client: client as unknown as MongoLikeClient }),
    // The default clockDriftMargin: an expired lock is taken over 50 ms late.
    takeover: 50,
    close: async () => {
      await client.close();
      await server.stop();
    },
  };
});

for (const kind of CLIENT_KINDS) {
  realTimeModel(`PostgresAdapter (${kind.name})`, async () => {
    const admin = await adminClient();
    const tableName = uniqueTable("locco_model");
    const { client, close } = await kind.open();
    const adapters: PostgresAdapter[] = [];
    return {
      adapter: () => {
        const adapter = new PostgresAdapter({ client, tableName });
        adapters.push(adapter);
        return adapter;
      },
      takeover: 0,
      close: async () => {
        await Promise.all(adapters.map((adapter) => adapter.close()));
        await close();
        await dropTable(admin, tableName);
        await admin.end();
      },
    };
  });
}
realTimeModel("DenoKvAdapter on a file database", async () => {
  const { path, remove } = tempKvPath();
  const kv = await openTestKv(path);
  const adapters: DenoKvAdapter[] = [];
  return {
    adapter: () => {
      const adapter = new DenoKvAdapter({ kv });
      adapters.push(adapter);
      return adapter;
    },
    // The default clockDriftMargin: an expired lock is taken over 50 ms late.
    takeover: 50,
    close: async () => {
      await Promise.all(adapters.map((adapter) => adapter.close()));
      kv.close();
      remove();
    },
  };
});
