// Copyright 2026 the locco authors. MIT license.
// Property-based tests (fast-check) of every public method with random and
// hostile inputs: wrong types, NaN, ±Infinity, huge numbers, empty and huge
// keys, keys that look like query operators, objects with __proto__ and
// constructor keys, getters and Proxies that throw, signal look-alikes. A call
// may succeed, or fail with a locco error (ValidationError for bad input), or
// with the very error a hostile getter or trap threw; nothing else. Async
// methods never throw synchronously, and no lock is left held.

import assert from "node:assert/strict";
import fc from "fast-check";
import { MongoClient } from "mongodb";
import { Redis } from "ioredis";
import {
  type ILockAdapter,
  InMemoryAdapter,
  IoRedisAdapter,
  isLoccoError,
  Lock,
  Locker,
  MongoAdapter,
  type MongoLikeClient,
} from "@kontsedal/locco";
import { delay, uniqueKey } from "./_helpers.ts";
import { DenoKvAdapter } from "@kontsedal/locco/kv";
import { ON_DENO, openTestKv, tempKvPath } from "./_kv.ts";
import { assertRedisReachable, REDIS_URL } from "./_redis_server.ts";
import { startJongodb } from "./_jongodb.ts";
import { PostgresAdapter } from "@kontsedal/locco/postgres";
import { adminClient, CLIENT_KINDS, dropTable, uniqueTable } from "./_postgres.ts";

/** What hostile getters and Proxy traps throw: allowed to come back out unchanged. */
const HOSTILE = new Error("hostile input threw");

function throwingProxy(): object {
  return new Proxy({}, {
    get() {
      throw HOSTILE;
    },
    has() {
      throw HOSTILE;
    },
    ownKeys() {
      throw HOSTILE;
    },
    getPrototypeOf() {
      throw HOSTILE;
    },
  });
}

function withThrowingGetters(names: string[]): object {
  const target: Record<string, unknown> = {};
  for (const name of names) {
    Object.defineProperty(target, name, {
      enumerable: true,
      get() {
        throw HOSTILE;
      },
    });
  }
  return target;
}

const OPTION_NAMES = [
  "adapter",
  "retrySettings",
  "retryDelay",
  "retryTimes",
  "totalTime",
  "retryDelayFn",
  "key",
  "ttl",
  "uniqueValue",
  "signal",
  "autoExtend",
  "maxHoldTime",
  "throwOnFail",
  "client",
  "prefix",
  "now",
  "dbName",
  "locksCollectionName",
  "clockDriftMargin",
];

/** Scalars and shapes that break naive code. */
const hostileScalar: fc.Arbitrary<unknown> = fc.constantFrom<unknown>(
  undefined,
  null,
  NaN,
  Infinity,
  -Infinity,
  -0,
  0,
  -1,
  0.5,
  1e300,
  2 ** 31,
  2 ** 53,
  Number.MAX_SAFE_INTEGER + 2,
  Number.MIN_VALUE,
  10n,
  "",
  " ",
  "$gt",
  "$where",
  '{"$ne":null}',
  "__proto__",
  "constructor",
  "prototype",
  "a\u0000b",
  "\ud800",
  "x".repeat(70_000),
  true,
  false,
  Symbol("hostile"),
  Symbol.iterator,
  () => {},
  async () => {},
  function () {
    throw HOSTILE;
  },
  [],
  [1, 2],
  new Date(NaN),
  /re/,
  new Map(),
  Object.create(null),
);

/**
 * A hostile value built only inside the property: fast-check itself reads
 * generated values (to clone and print them), and must not trip on them.
 */
class Recipe {
  constructor(readonly name: string, readonly make: () => unknown) {}
  [fc.toStringMethod](): string {
    return this.name;
  }
}

function recipe(name: string, make: () => unknown): fc.Arbitrary<Recipe> {
  return fc.constant(new Recipe(name, make));
}

/** Builds the recipes inside a generated value (one level of plain objects deep). */
function build(value: unknown): unknown {
  if (value instanceof Recipe) return value.make();
  if (
    typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype
  ) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, build(v)]));
  }
  return value;
}

const hostileObject: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...OPTION_NAMES).chain((name) =>
    recipe(`getter ${name} throws`, () => withThrowingGetters([name]))
  ),
  recipe("Proxy whose traps throw", throwingProxy),
  recipe(
    "__proto__ own key",
    () => JSON.parse('{"__proto__": {"retryDelay": 5, "retryTimes": 5}}'),
  ),
  recipe("constructor key", () => ({ constructor: { prototype: { polluted: true } } })),
  recipe("query operators", () => ({ $gt: "", $ne: null })),
  recipe("signal look-alike", () => ({ aborted: false, addEventListener() {} })),
  recipe(
    "aborted signal look-alike",
    () => ({ aborted: true, reason: HOSTILE, addEventListener() {} }),
  ),
  fc.dictionary(fc.constantFrom(...OPTION_NAMES), hostileScalar),
);

const hostile: fc.Arbitrary<unknown> = fc.oneof(
  hostileScalar,
  hostileObject,
  fc.anything({ withObjectString: true, withNullPrototype: true, withBigInt: true }),
);

/** A valid value, or a field-by-field mix of valid and hostile values. */
function sometimes<T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 2, arbitrary: valid }, { weight: 3, arbitrary: hostile });
}

const validRetry = fc.constantFrom({ retryDelay: 5, retryTimes: 2 }, {
  retryDelayFn: () => 5,
  totalTime: 50,
});
const retrySettings: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 2, arbitrary: validRetry },
  {
    weight: 3,
    arbitrary: fc.record({
      retryDelay: sometimes(fc.integer({ min: 1, max: 20 })),
      retryTimes: sometimes(fc.integer({ min: 1, max: 3 })),
      totalTime: sometimes(fc.integer({ min: 1, max: 100 })),
      retryDelayFn: sometimes(fc.constant(() => 5)),
    }, { requiredKeys: [] }),
  },
  { weight: 1, arbitrary: hostile },
);
const ttlArb = sometimes(fc.integer({ min: 1, max: 60_000 }));

/** Strings with at least one unpaired UTF-16 surrogate, between well-formed graphemes. */
const illFormedString: fc.Arbitrary<string> = fc.tuple(
  fc.string({ unit: "grapheme", maxLength: 8 }),
  fc.array(fc.integer({ min: 0xd800, max: 0xdfff }), { minLength: 1, maxLength: 3 }),
  fc.string({ unit: "grapheme", maxLength: 8 }),
).map(([before, halves, after]) =>
  before + halves.map((unit) => String.fromCharCode(unit)).join(String.fromCharCode(0x61)) + after
);

/** Strings that start with IoRedisAdapter's hand-off marker. */
const handoffLikeString: fc.Arbitrary<string> = fc.string({ unit: "binary", maxLength: 20 }).map(
  (rest) => "\0locco-handoff\0" + rest,
);

const keyArb = sometimes(
  fc.oneof(
    { weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 40 }) },
    { weight: 1, arbitrary: illFormedString },
  ),
);
const uniqueValueArb = sometimes(
  fc.oneof(
    { weight: 4, arbitrary: fc.constant("fuzz") },
    { weight: 1, arbitrary: illFormedString },
    { weight: 1, arbitrary: handoffLikeString },
  ),
);

/** Whether `value` has no unpaired surrogate (String.prototype.isWellFormed is not on Node 20). */
function isWellFormed(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    if (unit >= 0xdc00 && unit <= 0xdfff) return false;
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      i++;
    }
  }
  return true;
}

function isValidationOf(parameter: string): (error: unknown) => boolean {
  return (error) =>
    isLoccoError(error, "VALIDATION_FAILED") &&
    (error as { parameter?: unknown }).parameter === parameter;
}

/** Fails unless `error` is a locco error or the hostile input's own error. */
function assertAllowed(error: unknown, what: string): void {
  if (error === HOSTILE || isLoccoError(error)) return;
  assert.fail(`${what} failed with a non-locco error: ${String((error as Error)?.stack ?? error)}`);
}

/** Runs `fn`: a synchronous throw or a rejection must be allowed; returns the result or undefined. */
async function attempt<T>(
  what: string,
  fn: () => T,
  async: boolean,
): Promise<Awaited<T> | undefined> {
  let result: T;
  try {
    result = fn();
  } catch (error) {
    if (async) assert.fail(`${what} threw synchronously: ${String(error)}`);
    assertAllowed(error, what);
    return undefined;
  }
  try {
    return await result;
  } catch (error) {
    assertAllowed(error, what);
    return undefined;
  }
}

interface Backend {
  adapter: ILockAdapter;
  /** Another adapter on its own connection to the same store. */
  probe: ILockAdapter;
  close(): Promise<void>;
}

/**
 * Fails if `key` is held in the store: the probe must be able to take and
 * release it. A fuzzed lock with a ttl of a few ms can expire before its
 * release, and MongoAdapter then keeps the key for its clock drift margin
 * (50 ms by default) past the expiry: one more try after 100 ms covers that,
 * while a lock left held for its full ttl still fails. A key the adapter
 * rejects with a ValidationError (too long for its store) is free by definition.
 */
async function assertFree(backend: Backend, key: unknown): Promise<void> {
  if (typeof key !== "string" || key.length === 0 || !isWellFormed(key)) return;
  const lease = { key, uniqueValue: "fuzz-probe", ttl: 10_000 };
  try {
    await backend.probe.createLock(lease);
  } catch (error) {
    // A key this adapter refuses (too long for its store, say) can be held by nobody.
    if (isValidationOf("key")(error)) return;
    if (!isLoccoError(error, "LOCK_CREATE_FAILED")) throw error;
    await delay(100);
    await backend.probe.createLock(lease);
  }
  await backend.probe.releaseLock(lease);
  assert.equal(await backend.probe.isValidLock(lease), false);
}

function fuzzPublicApi(name: string, open: () => Promise<Backend>, numRuns: number): void {
  Deno.test(`Locker() and Locker.lock() throw only ValidationError for hostile input (${name})`, async () => {
    const backend = await open();
    try {
      await fc.assert(
        fc.asyncProperty(
          sometimes(fc.constant(backend.adapter)),
          retrySettings,
          keyArb,
          ttlArb,
          hostile,
          async (...generated) => {
            const [adapter, retry, key, ttl, other] = generated.map(build);
            const locker = await attempt(
              "new Locker()",
              () => new Locker({ adapter, retrySettings: retry } as never),
              false,
            );
            if (locker === undefined) return;
            await attempt("locker.lock()", () => locker.lock(key as never, ttl as never), false);
            await attempt("new Locker(hostile)", () => new Locker(other as never), false);
          },
        ),
        { numRuns },
      );
    } finally {
      await backend.close();
    }
  });

  Deno.test(`Lock.acquire(), release(), extend(), isLocked(), setRetrySettings() reject only locco errors for hostile input (${name})`, async () => {
    const backend = await open();
    try {
      await fc.assert(
        fc.asyncProperty(
          sometimes(fc.constantFrom(undefined, null, (l: Lock) => l.key)),
          fc.oneof(
            sometimes(fc.constantFrom(undefined, {}, { signal: new AbortController().signal })),
            fc.record({ signal: hostile }),
          ),
          sometimes(
            fc.constantFrom(undefined, null, {}, { throwOnFail: true }, { throwOnFail: false }),
          ),
          ttlArb,
          retrySettings,
          fc.boolean(),
          hostile,
          async (...generated) => {
            const [cb, acquireOptions, releaseOptions, extendTtl, retry, extendFirst, other] =
              generated.map(build);
            const key = uniqueKey("fuzz");
            const locker = new Locker({
              adapter: backend.adapter,
              retrySettings: { retryDelay: 5, retryTimes: 2 },
            });
            const lock = locker.lock(key, 5000);
            await attempt(
              "lock.setRetrySettings()",
              () => lock.setRetrySettings(retry as never),
              false,
            );
            await attempt(
              "lock.extend() before acquire",
              () => lock.extend(extendTtl as never),
              true,
            );
            await attempt(
              "lock.acquire()",
              () => lock.acquire(cb as never, acquireOptions as never),
              true,
            );
            await attempt("lock.isLocked()", () => lock.isLocked(), true);
            assert.ok(lock.remainingTtl() >= 0);
            if (extendFirst) {
              await attempt("lock.extend()", () => lock.extend(extendTtl as never), true);
            }
            await attempt("lock.release()", () => lock.release(releaseOptions as never), true);
            await attempt("lock.release() again", () => lock.release(), true);
            await attempt(
              "lock.setRetrySettings() after",
              () => lock.setRetrySettings(retry as never),
              false,
            );
            await attempt("lock.extend() after", () => lock.extend(extendTtl as never), true);
            await attempt("new Lock(hostile)", () => new Lock(other as never), false);
            // A release that rejected validation leaves the lock held: free it.
            await lock.release().catch(() => {});
            await assertFree(backend, key);
          },
        ),
        { numRuns },
      );
    } finally {
      await backend.close();
    }
  });

  Deno.test(`ILockAdapter methods reject only ValidationError for hostile input (${name})`, async () => {
    const backend = await open();
    try {
      const methods = ["createLock", "releaseLock", "extendLock", "isValidLock"] as const;
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...methods),
          fc.oneof(
            hostile,
            fc.record({ key: keyArb, uniqueValue: uniqueValueArb, ttl: ttlArb }),
          ),
          async (method, generated) => {
            const argument = build(generated);
            let key: unknown;
            let uniqueValue: unknown;
            try {
              ({ key, uniqueValue } = argument as { key?: unknown; uniqueValue?: unknown });
            } catch {
              // null, or a hostile getter
            }
            const owner = typeof uniqueValue === "string" && uniqueValue !== "" ? uniqueValue : "-";
            const held = typeof key === "string" && key.length > 0 ? key : undefined;
            try {
              await attempt(
                `adapter.${method}()`,
                () => (backend.adapter[method] as (a: unknown) => Promise<unknown>)(argument),
                true,
              );
              if (held !== undefined) {
                await backend.adapter.releaseLock({ key: held, uniqueValue: owner }).catch(
                  () => {},
                );
                await assertFree(backend, held);
              }
            } finally {
              if (held !== undefined) {
                await backend.adapter.releaseLock({ key: held, uniqueValue: owner }).catch(
                  () => {},
                );
              }
            }
          },
        ),
        { numRuns },
      );
    } finally {
      await backend.close();
    }
  });

  Deno.test(`ILockAdapter methods, Locker.lock() and new Lock() reject ValidationError for a key or uniqueValue with an unpaired surrogate (${name})`, async () => {
    const backend = await open();
    try {
      const methods = ["createLock", "releaseLock", "extendLock", "isValidLock"] as const;
      const locker = new Locker({
        adapter: backend.adapter,
        retrySettings: { retryDelay: 5, retryTimes: 2 },
      });
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...methods),
          fc.constantFrom("key", "uniqueValue"),
          illFormedString,
          async (method, parameter, bad) => {
            const lease = parameter === "key"
              ? { key: bad, uniqueValue: "fuzz", ttl: 1000 }
              : { key: uniqueKey("fuzz"), uniqueValue: bad, ttl: 1000 };
            await assert.rejects(backend.adapter[method](lease), isValidationOf(parameter));
            if (backend.adapter.waitForUnlock !== undefined) {
              await assert.rejects(
                backend.adapter.waitForUnlock(lease, 10, new AbortController().signal),
                isValidationOf(parameter),
              );
            }
            if (parameter === "key") {
              assert.throws(() => locker.lock(bad, 1000), isValidationOf("key"));
            }
            assert.throws(
              () =>
                new Lock({
                  adapter: backend.adapter,
                  retrySettings: { retryDelay: 5, retryTimes: 2 },
                  ...lease,
                }),
              isValidationOf(parameter),
            );
          },
        ),
        { numRuns },
      );
    } finally {
      await backend.close();
    }
  });
}

fuzzPublicApi("InMemoryAdapter", () => {
  const adapter = new InMemoryAdapter();
  return Promise.resolve({ adapter, probe: adapter, close: () => Promise.resolve() });
}, 300);

fuzzPublicApi("IoRedisAdapter", async () => {
  await assertRedisReachable();
  const clients = [new Redis(REDIS_URL), new Redis(REDIS_URL)];
  return {
    adapter: new IoRedisAdapter({ client: clients[0]!, prefix: "locco-fuzz:" }),
    probe: new IoRedisAdapter({ client: clients[1]!, prefix: "locco-fuzz:" }),
    close: async () => void await Promise.all(clients.map((c) => c.quit())),
  };
}, 40);

fuzzPublicApi("MongoAdapter on the stand-in", async () => {
  const server = await startJongodb();
  const options = { directConnection: true, maxPoolSize: 2 };
  const clients = [new MongoClient(server.uri, options), new MongoClient(server.uri, options)];
  const [adapter, probe] = clients.map((client) =>
    new MongoAdapter({ client: client as unknown as MongoLikeClient })
  );
  return {
    adapter: adapter!,
    probe: probe!,
    close: async () => {
      await Promise.all(clients.map((c) => c.close()));
      await server.stop();
    },
  };
}, 40);

for (const kind of CLIENT_KINDS) {
  fuzzPublicApi(`PostgresAdapter (${kind.name})`, async () => {
    const admin = await adminClient();
    const tableName = uniqueTable("locco_fuzz");
    const clients = [await kind.open(), await kind.open()];
    const [adapter, probe] = clients.map(({ client }) =>
      new PostgresAdapter({ client, tableName })
    );
    return {
      adapter: adapter!,
      probe: probe!,
      close: async () => {
        await Promise.all([adapter!.close(), probe!.close()]);
        await Promise.all(clients.map((c) => c.close()));
        await dropTable(admin, tableName);
        await admin.end();
      },
    };
  }, 40);
}
fuzzPublicApi("DenoKvAdapter", async () => {
  // An in-memory database on Deno; a file database elsewhere (@deno/kv).
  const file = ON_DENO ? undefined : tempKvPath();
  const kv = await openTestKv(file?.path ?? ":memory:");
  const adapter = new DenoKvAdapter({ kv, prefix: ["locco-fuzz"] });
  const probe = new DenoKvAdapter({ kv, prefix: ["locco-fuzz"] });
  return {
    adapter,
    probe,
    close: async () => {
      await Promise.all([adapter.close(), probe.close()]);
      kv.close();
      file?.remove();
    },
  };
}, 40);

Deno.test("Adapter constructors throw only ValidationError for hostile options", async () => {
  const constructors: [string, (options: unknown) => unknown][] = [
    ["InMemoryAdapter", (o) => new InMemoryAdapter(o as never)],
    ["IoRedisAdapter", (o) => new IoRedisAdapter(o as never)],
    ["MongoAdapter", (o) => new MongoAdapter(o as never)],
    ["PostgresAdapter", (o) => new PostgresAdapter(o as never)],
    ["DenoKvAdapter", (o) => new DenoKvAdapter(o as never)],
  ];
  const fakeKv = { get() {}, atomic() {}, watch() {} };
  const fakeRedis = { set() {}, get() {}, evalsha() {}, eval() {} };
  const fakePostgres = { query() {}, unsafe() {} };
  const fakeMongo = {
    db: () => ({
      collection: () => ({ createIndex() {}, updateOne() {}, deleteOne() {}, findOne() {} }),
    }),
  };
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...constructors),
      fc.oneof(
        hostile,
        fc.record({
          client: sometimes(fc.constantFrom(fakeRedis, fakeMongo, fakePostgres)),
          prefix: sometimes(fc.string()),
          now: sometimes(fc.constant(() => 0)),
          dbName: sometimes(fc.string()),
          locksCollectionName: sometimes(fc.string()),
          clockDriftMargin: sometimes(fc.integer({ min: 0, max: 1000 })),
          tableName: sometimes(fc.string()),
          kv: sometimes(fc.constant(fakeKv)),
          waitStrategy: sometimes(
            fc.oneof(fc.constantFrom("watch", "poll", "notify"), fc.string()),
          ),
        }, { requiredKeys: [] }),
      ),
      async ([name, make], options) => {
        await attempt(`new ${name}()`, () => make(build(options)), false);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("InMemoryAdapter never lets two holders take one key, whatever its clock returns", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(hostileScalar, fc.double(), fc.integer()),
      fc.integer({ min: 1, max: 10_000 }),
      async (reading, ttl) => {
        const adapter = new InMemoryAdapter({ now: () => reading as number });
        const first = await attempt(
          "createLock()",
          () => adapter.createLock({ key: "k", uniqueValue: "a", ttl }).then(() => true),
          true,
        );
        if (first !== true) return;
        const second = await attempt(
          "createLock() by another owner",
          () => adapter.createLock({ key: "k", uniqueValue: "b", ttl }).then(() => true),
          true,
        );
        assert.notEqual(
          second,
          true,
          `a second holder took the key with now() = ${String(reading)}`,
        );
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("isLoccoError() returns a boolean and never throws for any value and code", () => {
  fc.assert(
    fc.property(
      fc.oneof(hostileScalar, fc.anything()),
      fc.oneof(hostileScalar, fc.string()),
      (value, code) => {
        assert.equal(typeof isLoccoError(value, code as never), "boolean");
        assert.equal(isLoccoError(value), false);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("Lock.acquire() rejects ValidationError for a signal look-alike without throwIfAborted (fuzz finding)", async () => {
  const locker = new Locker({
    adapter: new InMemoryAdapter(),
    retrySettings: { retryDelay: 5, retryTimes: 2 },
  });
  const signal = { aborted: false, addEventListener() {} } as unknown as AbortSignal;
  await assert.rejects(locker.lock(uniqueKey(), 1000).acquire(undefined, { signal }), {
    name: "ValidationError",
  });
});

Deno.test("InMemoryAdapter.createLock() rejects ValidationError when now() returns NaN (fuzz finding)", async () => {
  const adapter = new InMemoryAdapter({ now: () => NaN });
  await assert.rejects(adapter.createLock({ key: "k", uniqueValue: "a", ttl: 1000 }), {
    name: "ValidationError",
  });
});

Deno.test("IoRedisAdapter methods reject ValidationError, before any I/O, for a uniqueValue that starts with the hand-off marker", async () => {
  const noIo = () => {
    throw new Error("the client was used");
  };
  const adapter = new IoRedisAdapter({
    client: { set: noIo, get: noIo, evalsha: noIo, eval: noIo } as never,
  });
  const methods = ["createLock", "releaseLock", "extendLock", "isValidLock"] as const;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...methods),
      handoffLikeString,
      async (method, uniqueValue) => {
        const lease = { key: "k", uniqueValue, ttl: 1000 };
        await assert.rejects(adapter[method](lease), isValidationOf("uniqueValue"));
        await assert.rejects(
          adapter.waitForUnlock(lease, 10, new AbortController().signal),
          isValidationOf("uniqueValue"),
        );
      },
    ),
    { numRuns: 200 },
  );
});
