// Copyright 2026 the locco authors. MIT license.
// Model check (fast-check model-based testing) of the semaphore and
// read-write lock adapters: random sequences of create / release / extend /
// isValid by four owners on one key, with time advancing, against reference
// models. The adapters run on a clock the test moves (MongoAdapter decides
// expiry on the host's clock, here with no drift margin), so every outcome is
// exact, fences included. Redis decides expiry on its own clock, which the
// test cannot move: there time stands still and every lease is long, so the
// run checks everything but expiry. A divergence fails with the shrunk sequence.

import assert from "node:assert/strict";
import fc from "fast-check";
import { MongoClient } from "mongodb";
import {
  type ILockAdapter,
  InMemoryAdapter,
  isLoccoError,
  MongoAdapter,
  type MongoLikeClient,
} from "@kontsedal/locco";
import { Redis } from "ioredis";
import { IoRedisAdapter } from "@kontsedal/locco/redis";
import { ManualClock, uniqueKey } from "./_helpers.ts";
import { assertRedisReachable, REDIS_URL } from "./_redis_server.ts";
import { startJongodb } from "./_jongodb.ts";

const OWNERS = ["a", "b", "c", "d"] as const;
type Side = "read" | "write" | "slot";

interface Holder {
  side: Side;
  expireAt: number;
}

interface Model {
  holders: Map<string, Holder>;
  lastFence: number;
}

interface Real {
  views: { [side in Side]?: ILockAdapter };
  key: string;
  clock: ManualClock;
  /** Whether time stands still (the store's clock cannot be moved). */
  frozen: boolean;
  /** Whether `owner` may take `side` now, per the primitive's rule. */
  may(model: Model, side: Side, owner: string): boolean;
}

function live(model: Model, now: number): Map<string, Holder> {
  for (const [owner, holder] of model.holders) {
    if (now >= holder.expireAt) model.holders.delete(owner);
  }
  return model.holders;
}

/** `{ value }` when the call succeeded, undefined when it failed with the lock error `code`. */
async function ok(
  call: () => Promise<unknown>,
  code: "LOCK_CREATE_FAILED" | "LOCK_RELEASE_FAILED" | "LOCK_EXTEND_FAILED",
): Promise<{ value: unknown } | undefined> {
  try {
    return { value: await call() };
  } catch (error) {
    if (!isLoccoError(error, code)) throw error;
    return undefined;
  }
}

class Create implements fc.AsyncCommand<Model, Real> {
  constructor(readonly side: Side, readonly owner: string, readonly ttl: number) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const now = real.clock.now();
    live(model, now);
    const expected = !model.holders.has(this.owner) && real.may(model, this.side, this.owner);
    const result = await ok(
      () =>
        real.views[this.side]!.createLock({
          key: real.key,
          uniqueValue: this.owner,
          ttl: this.ttl,
        }),
      "LOCK_CREATE_FAILED",
    ) as { value: { fence?: number } } | undefined;
    assert.equal(
      result !== undefined,
      expected,
      `${this} at ${now}: expected ${expected ? "success" : "failure"}`,
    );
    if (result === undefined) return;
    const fence = result.value.fence!;
    assert.ok(fence > model.lastFence, `${this}: fence ${fence} after ${model.lastFence}`);
    model.lastFence = fence;
    model.holders.set(this.owner, { side: this.side, expireAt: now + this.ttl });
  }
  toString(): string {
    return `create(${this.side}, ${this.owner}, ttl ${this.ttl})`;
  }
}

class Act implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly action: "release" | "extend" | "isValid",
    readonly side: Side,
    readonly owner: string,
    readonly ttl: number,
  ) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const now = real.clock.now();
    const holder = live(model, now).get(this.owner);
    const mine = holder?.side === this.side;
    const view = real.views[this.side]!;
    const id = { key: real.key, uniqueValue: this.owner };
    if (this.action === "isValid") {
      assert.equal(await view.isValidLock(id), mine, `${this} at ${now}`);
      return;
    }
    const done = this.action === "release"
      ? await ok(() => view.releaseLock(id), "LOCK_RELEASE_FAILED")
      : await ok(() => view.extendLock({ ...id, ttl: this.ttl }), "LOCK_EXTEND_FAILED");
    assert.equal(done !== undefined, mine, `${this} at ${now}`);
    if (!mine) return;
    if (this.action === "release") model.holders.delete(this.owner);
    else holder!.expireAt = now + this.ttl;
  }
  toString(): string {
    return `${this.action}(${this.side}, ${this.owner}${
      this.action === "extend" ? `, ttl ${this.ttl}` : ""
    })`;
  }
}

class Advance implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check(): boolean {
    return true;
  }
  async run(_: Model, real: Real): Promise<void> {
    if (!real.frozen) real.clock.advance(this.ms);
  }
  toString(): string {
    return `advance(${this.ms})`;
  }
}

function commands(sides: Side[]) {
  const side = fc.constantFrom(...sides);
  const owner = fc.constantFrom(...OWNERS);
  const ttl = fc.integer({ min: 1, max: 100 });
  return fc.commands([
    fc.tuple(side, owner, ttl).map(([s, o, t]) => new Create(s, o, t)),
    fc.tuple(
      fc.constantFrom("release", "extend", "isValid") as fc.Arbitrary<Act["action"]>,
      side,
      owner,
      ttl,
    )
      .map(([a, s, o, t]) => new Act(a, s, o, t)),
    fc.integer({ min: 0, max: 120 }).map((ms) => new Advance(ms)),
  ], { maxCommands: 40 });
}

const LIMIT = 2;

function semaphoreRule(model: Model): boolean {
  return model.holders.size < LIMIT;
}

function readWriteRule(model: Model, side: Side): boolean {
  const holders = [...model.holders.values()];
  if (holders.some((h) => h.side === "write")) return false;
  return side === "read" || holders.length === 0;
}

interface Store {
  adapter(clock: ManualClock): ILockAdapter;
  close(): Promise<void>;
  /** Whether the store keeps its own time, which the test cannot move. */
  frozen?: boolean;
}

async function check(
  store: Store,
  kind: "semaphore" | "readWrite",
  numRuns: number,
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(
      commands(kind === "semaphore" ? ["slot"] : ["read", "write"]),
      async (cmds) => {
        const clock = new ManualClock(Date.now());
        const adapter = store.adapter(clock);
        const real: Real = kind === "semaphore"
          ? {
            views: { slot: adapter.semaphore!(LIMIT) },
            key: uniqueKey(),
            clock,
            frozen: store.frozen === true,
            may: semaphoreRule,
          }
          : {
            views: { read: adapter.readWrite!("read"), write: adapter.readWrite!("write") },
            key: uniqueKey(),
            clock,
            frozen: store.frozen === true,
            may: readWriteRule,
          };
        await fc.asyncModelRun(() => ({ model: { holders: new Map(), lastFence: 0 }, real }), cmds);
      },
    ),
    { numRuns },
  );
}

const memory: Store = {
  adapter: (clock) => new InMemoryAdapter({ now: clock.now }),
  close: () => Promise.resolve(),
};

Deno.test("InMemoryAdapter semaphores match the model: at most limit live holders, growing fences", async () => {
  await check(memory, "semaphore", 300);
});

Deno.test("InMemoryAdapter read-write locks match the model: readers together or one writer", async () => {
  await check(memory, "readWrite", 300);
});

async function mongo(): Promise<Store> {
  const server = await startJongodb();
  const client = new MongoClient(server.uri, { directConnection: true, maxPoolSize: 2 });
  return {
    adapter: (clock) =>
      new MongoAdapter({
        client: client as unknown as MongoLikeClient,
        now: clock.now,
        clockDriftMargin: 0,
      }),
    close: async () => {
      await client.close();
      await server.stop();
    },
  };
}

Deno.test("MongoAdapter semaphores and read-write locks match the models on the stand-in", async () => {
  const store = await mongo();
  try {
    await check(store, "semaphore", 40);
    await check(store, "readWrite", 40);
  } finally {
    await store.close();
  }
});

// Leases 10 000 times as long: 10 s and more, so that none ends during a run.
function lengthened(view: ILockAdapter): ILockAdapter {
  const long = <T extends { ttl: number }>(lease: T): T => ({ ...lease, ttl: lease.ttl * 10_000 });
  return {
    createLock: (lease) => view.createLock(long(lease)),
    releaseLock: (identity) => view.releaseLock(identity),
    extendLock: (lease) => view.extendLock(long(lease)),
    isValidLock: (identity) => view.isValidLock(identity),
  };
}

Deno.test("IoRedisAdapter semaphores and read-write locks match the models, expiry aside", async () => {
  await assertRedisReachable();
  const client = new Redis(REDIS_URL);
  const adapter = new IoRedisAdapter({ client });
  const store: Store = {
    adapter: () => ({
      ...lengthened(adapter),
      semaphore: (limit) => lengthened(adapter.semaphore(limit)),
      readWrite: (mode) => lengthened(adapter.readWrite(mode)),
    }),
    close: async () => {
      await adapter.close();
      await client.quit();
    },
    frozen: true,
  };
  try {
    await check(store, "semaphore", 300);
    await check(store, "readWrite", 300);
  } finally {
    await store.close();
  }
});
