// Copyright 2026 the locco authors. MIT license.
// MongoAdapter on the jongodb stand-in (always) and on a real MongoDB when
// MONGODB_URL is set, with driver 7 ("mongodb") and driver 6 ("mongodb6").
// On the stand-in, only behaviour it reproduces faithfully is asserted (documents, filters,
// unique indexes, write results); server-side expiry and clocks need a real MongoDB.

import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { MongoClient as MongoClient7 } from "mongodb";
import { MongoClient as MongoClient6 } from "mongodb6";
import {
  LoccoError,
  LockCreateError,
  Locker,
  LockExtendError,
  LockReleaseError,
  ValidationError,
} from "@kontsedal/locco";
import {
  MongoAdapter,
  type MongoAdapterOptions,
  type MongoLikeClient,
  type MongoLikeCollection,
} from "@kontsedal/locco/mongodb";
import { testAdapterContract } from "../_adapter_contract.ts";
import { testReadWriteContract } from "../_read_write_contract.ts";
import { testSemaphoreContract } from "../_semaphore_contract.ts";
import { delay, uniqueKey } from "../_helpers.ts";
import { startJongodb } from "../_jongodb.ts";

const MONGODB_URL = Deno.env.get("MONGODB_URL");
if (!MONGODB_URL) {
  // deno-lint-ignore no-console
  console.log(
    "MongoAdapter tests against a real MongoDB are skipped: MONGODB_URL is not set " +
      "(docker compose up -d mongo; MONGODB_URL=mongodb://127.0.0.1:27017 deno task test)",
  );
}

type TestClient = MongoLikeClient & { close(): Promise<void> };

interface ClientOptions {
  directConnection?: boolean;
  maxPoolSize: number;
  serverSelectionTimeoutMS?: number;
}

interface Driver {
  name: string;
  connect(url: string, options: ClientOptions): TestClient;
}

const DRIVERS: Driver[] = [
  { name: "driver 7", connect: (url, options) => new MongoClient7(url, options) },
  { name: "driver 6", connect: (url, options) => new MongoClient6(url, options) },
];

interface Server {
  url: string;
  real: boolean;
  stop(): Promise<void>;
}

interface Target {
  name: string;
  ignore: boolean;
  start(): Promise<Server>;
}

const TARGETS: Target[] = [
  {
    name: "jongodb",
    ignore: false,
    async start() {
      const server = await startJongodb();
      return { url: server.uri, real: false, stop: () => server.stop() };
    },
  },
  {
    name: "MONGODB_URL",
    ignore: !MONGODB_URL,
    start: () => Promise.resolve({ url: MONGODB_URL!, real: true, stop: () => Promise.resolve() }),
  },
];

const COLLECTION = "locco-locks";

/** The MongoAdapter of the published locco 0.1.0, for mixed-version tests. */
interface Locco010MongoAdapter {
  createLock(lease: { key: string; uniqueValue: string; ttl: number }): Promise<void>;
  releaseLock(identity: { key: string; uniqueValue: string }): Promise<void>;
}

// 0.1.0's ESM build does not load (extensionless imports): use its CJS build.
const locco010 = createRequire(import.meta.url)("locco010") as {
  MongoAdapter: new (options: { client: unknown; dbName?: string }) => Locco010MongoAdapter;
};

/** Whether `error` is 0.1.0's LockCreateError (another copy of the class). */
function isOldLockCreateError(error: unknown): boolean {
  return error instanceof Error && error.name === "LockCreateError";
}

/**
 * A wall clock the test moves forward. Locks "expire" by moving it past a
 * long ttl, so a real server's TTL monitor (which uses the server clock)
 * never deletes a document during a test.
 */
class ShiftedClock {
  shift = 0;
  now = (): number => Date.now() + this.shift;
}

const LONG_TTL = 60_000;
const PAST_LONG_TTL = 120_000;

/** One test's MongoDB: a fresh database, clients that are all closed at the end. */
class MongoEnv {
  readonly dbName = `locco_test_${crypto.randomUUID().replaceAll("-", "")}`;
  readonly inspector: MongoClient7;
  #clients: TestClient[] = [];

  constructor(readonly server: Server, readonly driver: Driver) {
    this.inspector = new MongoClient7(server.url, this.#options());
  }

  #options(): ClientOptions {
    return this.server.real
      ? { maxPoolSize: 2, serverSelectionTimeoutMS: 5000 }
      : { directConnection: true, maxPoolSize: 2 };
  }

  /** A new client of the driver under test. */
  client(): TestClient {
    const client = this.driver.connect(this.server.url, this.#options());
    this.#clients.push(client);
    return client;
  }

  /** A new adapter on a new client, on this test's database. */
  adapter(options: Omit<MongoAdapterOptions, "client"> = {}): MongoAdapter {
    return new MongoAdapter({ client: this.client(), dbName: this.dbName, ...options });
  }

  /** The locks collection, read through driver 7. */
  locks(): ReturnType<ReturnType<MongoClient7["db"]>["collection"]> {
    return this.inspector.db(this.dbName).collection(COLLECTION);
  }

  async close(): Promise<void> {
    try {
      if (this.server.real) await this.inspector.db(this.dbName).dropDatabase();
    } finally {
      await Promise.all([...this.#clients, this.inspector].map((client) => client.close()));
      await this.server.stop();
    }
  }
}

async function openEnv(target: Target, driver: Driver): Promise<MongoEnv> {
  return new MongoEnv(await target.start(), driver);
}

function mongoTest(
  target: Target,
  driver: Driver,
  name: string,
  fn: (env: MongoEnv) => Promise<void>,
): void {
  Deno.test({
    name: `${name} (${driver.name}, ${target.name})`,
    ignore: target.ignore,
    async fn() {
      const env = await openEnv(target, driver);
      try {
        await fn(env);
      } finally {
        await env.close();
      }
    },
  });
}

/** Wraps a collection so a test can count or fail its createIndex calls. */
function wrapClient(
  client: MongoLikeClient,
  createIndex: (
    inner: MongoLikeCollection,
    ...args: Parameters<MongoLikeCollection["createIndex"]>
  ) => Promise<unknown>,
): MongoLikeClient {
  return {
    db(dbName?: string) {
      const db = client.db(dbName);
      return {
        collection(name: string): MongoLikeCollection {
          const inner = db.collection(name);
          return {
            createIndex: (spec, options) => createIndex(inner, spec, options),
            updateOne: (filter, update, options) => inner.updateOne(filter, update, options),
            deleteOne: (filter) => inner.deleteOne(filter),
            findOne: (filter, options) => inner.findOne(filter, options),
          };
        },
      };
    },
  };
}

for (const target of TARGETS) {
  for (const driver of DRIVERS) {
    testAdapterContract(
      `MongoAdapter (${driver.name}, ${target.name})`,
      async () => {
        const env = await openEnv(target, driver);
        return { connect: () => env.adapter(), close: () => env.close() };
      },
      { ignore: target.ignore },
    );

    if (driver === DRIVERS[0]) {
      // Semaphores and read-write locks send the same commands as locks; one driver suffices.
      testAdapterContract(
        `MongoAdapter semaphore(1) (${driver.name}, ${target.name})`,
        async () => {
          const env = await openEnv(target, driver);
          return { connect: () => env.adapter().semaphore(1), close: () => env.close() };
        },
        { ignore: target.ignore },
      );
      testAdapterContract(
        `MongoAdapter readWrite("write") (${driver.name}, ${target.name})`,
        async () => {
          const env = await openEnv(target, driver);
          return { connect: () => env.adapter().readWrite("write"), close: () => env.close() };
        },
        { ignore: target.ignore },
      );
      testReadWriteContract(
        `MongoAdapter (${driver.name}, ${target.name})`,
        async () => {
          const env = await openEnv(target, driver);
          return { connect: () => env.adapter(), close: () => env.close() };
        },
        { ignore: target.ignore },
      );
      testSemaphoreContract(
        `MongoAdapter (${driver.name}, ${target.name})`,
        async () => {
          const env = await openEnv(target, driver);
          return { connect: () => env.adapter(), close: () => env.close() };
        },
        { ignore: target.ignore, notifies: false },
      );
    }

    mongoTest(
      target,
      driver,
      "MongoAdapter.createLock() creates the unique key index and the TTL index once under concurrent first calls",
      async (env) => {
        let calls = 0;
        const client = wrapClient(env.client(), (inner, spec, options) => {
          calls++;
          return inner.createIndex(spec, options);
        });
        const adapter = new MongoAdapter({ client, dbName: env.dbName });
        const keys = Array.from({ length: 10 }, () => uniqueKey());
        await Promise.all(
          keys.map((key) => adapter.createLock({ key, uniqueValue: "a", ttl: 5000 })),
        );
        await adapter.createLock({ key: uniqueKey(), uniqueValue: "a", ttl: 5000 });
        assert.equal(calls, 2);
        const indexes = await env.locks().listIndexes().toArray();
        const keyIndex = indexes.find((index) => JSON.stringify(index.key) === '{"key":1}');
        const ttlIndex = indexes.find((index) => JSON.stringify(index.key) === '{"expireAt":1}');
        assert.equal(keyIndex?.unique, true);
        assert.equal(ttlIndex?.expireAfterSeconds, 0);
        assert.equal(
          indexes.filter((index) => index.name !== "_id_" && index.unique === true).length,
          1,
        );
      },
    );

    mongoTest(
      target,
      driver,
      "MongoAdapter.createLock() rejects with the index error, writes nothing and retries the indexes on the next call",
      async (env) => {
        const failure = new Error("index build failed");
        let calls = 0;
        const client = wrapClient(env.client(), (inner, spec, options) => {
          calls++;
          return calls <= 2 ? Promise.reject(failure) : inner.createIndex(spec, options);
        });
        const adapter = new MongoAdapter({ client, dbName: env.dbName });
        const key = uniqueKey();
        const first = await Promise.allSettled(
          ["a", "b", "c"].map((uniqueValue) => adapter.createLock({ key, uniqueValue, ttl: 5000 })),
        );
        for (const result of first) {
          assert.equal(result.status, "rejected");
          assert.equal(result.status === "rejected" && result.reason, failure);
        }
        assert.equal(calls, 2);
        assert.equal(await env.locks().countDocuments({ key }), 0);
        await adapter.createLock({ key, uniqueValue: "a", ttl: 5000 });
        assert.equal(calls, 4);
        assert.equal(await adapter.isValidLock({ key, uniqueValue: "a" }), true);
      },
    );

    mongoTest(
      target,
      driver,
      "MongoAdapter.createLock() stores one lock document { key, uniqueValue, expireAt, fence, fenceBase } and one fence floor per key",
      async (env) => {
        const adapter = env.adapter({ clockDriftMargin: 0 });
        const key = uniqueKey();
        const before = Date.now();
        await adapter.createLock({ key, uniqueValue: "a", ttl: 5000 });
        const documents = await env.locks().find({ key }).toArray();
        assert.equal(documents.length, 1);
        const [document] = documents;
        assert.deepEqual(
          Object.keys(document!).sort(),
          ["_id", "expireAt", "fence", "fenceBase", "key", "uniqueValue"],
        );
        assert.equal(document!.uniqueValue, "a");
        assert.equal(document!.fence, 1);
        assert.ok(
          document!.fenceBase >= before * 1000 + 1000 &&
            document!.fenceBase <= Date.now() * 1000 + 1000,
        );
        const [floor] = await env.locks().find({ key: { fence: key } }).toArray();
        assert.equal(floor?.fenceFloor, 1000);
        assert.ok(document!.expireAt instanceof Date);
        const expireAt = document!.expireAt.getTime();
        assert.ok(expireAt >= before + 5000 && expireAt <= Date.now() + 5000, String(expireAt));
      },
    );

    mongoTest(
      target,
      driver,
      "MongoAdapter.createLock() takes over an expired lock by updating its document",
      async (env) => {
        const clock = new ShiftedClock();
        const adapter = env.adapter({ now: clock.now });
        const key = uniqueKey();
        await adapter.createLock({ key, uniqueValue: "a", ttl: LONG_TTL });
        await assert.rejects(
          adapter.createLock({ key, uniqueValue: "b", ttl: 5000 }),
          LockCreateError,
        );
        const [held] = await env.locks().find({ key }).toArray();
        clock.shift = PAST_LONG_TTL;
        await adapter.createLock({ key, uniqueValue: "b", ttl: 5000 });
        const documents = await env.locks().find({ key }).toArray();
        assert.equal(documents.length, 1);
        assert.equal(String(documents[0]!._id), String(held!._id));
        assert.equal(documents[0]!.uniqueValue, "b");
        assert.equal(await adapter.isValidLock({ key, uniqueValue: "a" }), false);
        await assert.rejects(adapter.releaseLock({ key, uniqueValue: "a" }), LockReleaseError);
        assert.equal(await adapter.isValidLock({ key, uniqueValue: "b" }), true);
      },
    );

    mongoTest(
      target,
      driver,
      "MongoAdapter.extendLock() of an expired lock rejects and leaves its document unchanged",
      async (env) => {
        const clock = new ShiftedClock();
        const adapter = env.adapter({ now: clock.now });
        const key = uniqueKey();
        await adapter.createLock({ key, uniqueValue: "a", ttl: LONG_TTL });
        const [before] = await env.locks().find({ key }).toArray();
        clock.shift = PAST_LONG_TTL;
        await assert.rejects(
          adapter.extendLock({ key, uniqueValue: "a", ttl: 5000 }),
          LockExtendError,
        );
        const after = await env.locks().find({ key }).toArray();
        assert.equal(after.length, 1);
        assert.equal(after[0]!.expireAt.getTime(), before!.expireAt.getTime());
      },
    );

    mongoTest(
      target,
      driver,
      "MongoAdapter.extendLock() of a released or taken-over lock never inserts a document",
      async (env) => {
        const clock = new ShiftedClock();
        const adapter = env.adapter({ now: clock.now });
        const released = uniqueKey();
        await adapter.createLock({ key: released, uniqueValue: "a", ttl: 5000 });
        await adapter.releaseLock({ key: released, uniqueValue: "a" });
        await assert.rejects(
          adapter.extendLock({ key: released, uniqueValue: "a", ttl: 5000 }),
          LockExtendError,
        );
        const [kept] = await env.locks().find({ key: released }).toArray();
        assert.equal(kept?.uniqueValue, undefined, "the released document keeps no owner");
        assert.equal(await adapter.isValidLock({ key: released, uniqueValue: "a" }), false);

        const taken = uniqueKey();
        await adapter.createLock({ key: taken, uniqueValue: "a", ttl: LONG_TTL });
        clock.shift = PAST_LONG_TTL;
        await adapter.createLock({ key: taken, uniqueValue: "b", ttl: 5000 });
        await assert.rejects(
          adapter.extendLock({ key: taken, uniqueValue: "a", ttl: 5000 }),
          LockExtendError,
        );
        const documents = await env.locks().find({ key: taken }).toArray();
        assert.deepEqual(documents.map((document) => document.uniqueValue), ["b"]);
      },
    );

    mongoTest(
      target,
      driver,
      "MongoAdapter.releaseLock() by a non-owner rejects and leaves the document",
      async (env) => {
        const adapter = env.adapter();
        const key = uniqueKey();
        await adapter.createLock({ key, uniqueValue: "owner", ttl: 5000 });
        const before = await env.locks().find({ key }).toArray();
        await assert.rejects(
          adapter.releaseLock({ key, uniqueValue: "intruder" }),
          LockReleaseError,
        );
        assert.deepEqual(await env.locks().find({ key }).toArray(), before);
      },
    );

    mongoTest(
      target,
      driver,
      "MongoAdapter.createLock() rejects ValidationError before any I/O for a query object as key",
      async (env) => {
        const adapter = env.adapter();
        await adapter.createLock({ key: "victim", uniqueValue: "a", ttl: 5000 });
        const injected = { key: { $gt: "" }, uniqueValue: { $ne: "" } } as unknown as {
          key: string;
          uniqueValue: string;
        };
        await assert.rejects(adapter.releaseLock(injected), ValidationError);
        await assert.rejects(adapter.extendLock({ ...injected, ttl: 10 }), ValidationError);
        assert.equal(await adapter.isValidLock({ key: "victim", uniqueValue: "a" }), true);
      },
    );

    mongoTest(
      target,
      driver,
      "MongoAdapter.createLock() lets exactly one of 40 clients take over an expired lock",
      async (env) => {
        const key = uniqueKey();
        const clock = new ShiftedClock();
        const adapters = Array.from({ length: 40 }, () => env.adapter({ now: clock.now }));
        await adapters[0]!.createLock({ key, uniqueValue: "old", ttl: LONG_TTL });
        await Promise.all(
          adapters.map((adapter) => adapter.isValidLock({ key, uniqueValue: "x" })),
        );
        clock.shift = PAST_LONG_TTL;
        const results = await Promise.allSettled(
          adapters.map((adapter, i) =>
            adapter.createLock({ key, uniqueValue: `r${i}`, ttl: 5000 })
          ),
        );
        const winners = results.flatMap((result, i) => result.status === "fulfilled" ? [i] : []);
        assert.equal(winners.length, 1);
        for (const result of results) {
          if (result.status === "rejected") {
            assert.ok(result.reason instanceof LockCreateError, String(result.reason));
          }
        }
        const documents = await env.locks().find({ key }).toArray();
        assert.deepEqual(documents.map((document) => document.uniqueValue), [`r${winners[0]}`]);
      },
    );

    mongoTest(
      target,
      driver,
      "MongoAdapter.createLock() waits clockDriftMargin past expireAt before taking over",
      async (env) => {
        const start = Date.now();
        let holderNow = start;
        let takerNow = start;
        const holder = env.adapter({ now: () => holderNow });
        const taker = env.adapter({ now: () => takerNow, clockDriftMargin: 200 });
        const key = uniqueKey();
        await holder.createLock({ key, uniqueValue: "holder", ttl: 1000 });
        takerNow = start + 1199;
        await assert.rejects(
          taker.createLock({ key, uniqueValue: "taker", ttl: 1000 }),
          LockCreateError,
        );
        holderNow = start + 999;
        assert.equal(await holder.isValidLock({ key, uniqueValue: "holder" }), true);
        holderNow = start + 1000;
        assert.equal(await holder.isValidLock({ key, uniqueValue: "holder" }), false);
        takerNow = start + 1200;
        await taker.createLock({ key, uniqueValue: "taker", ttl: 1000 });
        assert.equal(await taker.isValidLock({ key, uniqueValue: "taker" }), true);
      },
    );

    mongoTest(
      target,
      driver,
      "MongoAdapter.inspectLock() counts clockDriftMargin in expiresIn, as a takeover waits for it",
      async (env) => {
        const start = Date.now();
        let now = start;
        const adapter = env.adapter({ now: () => now, clockDriftMargin: 200 });
        const key = uniqueKey();
        const { fence } = await adapter.createLock({ key, uniqueValue: "holder", ttl: 1000 });
        assert.deepEqual(await adapter.inspectLock(key), { expiresIn: 1200, fence });
        now = start + 1199;
        assert.deepEqual(await adapter.inspectLock(key), { expiresIn: 1, fence });
        now = start + 1200;
        assert.equal(await adapter.inspectLock(key), undefined);
        await adapter.createLock({ key, uniqueValue: "taker", ttl: 1000 });
      },
    );

    mongoTest(
      target,
      driver,
      "MongoAdapter never lets a host whose clock runs up to clockDriftMargin ahead take a lock its holder sees as valid",
      async (env) => {
        const start = Date.now();
        let holderNow = start;
        const holder = env.adapter({ now: () => holderNow });
        const taker = env.adapter({ now: () => holderNow + 50 });
        const key = uniqueKey();
        await holder.createLock({ key, uniqueValue: "holder", ttl: 500 });
        for (const at of [0, 250, 449, 450, 499]) {
          holderNow = start + at;
          assert.equal(await holder.isValidLock({ key, uniqueValue: "holder" }), true);
          await assert.rejects(
            taker.createLock({ key, uniqueValue: "t", ttl: 500 }),
            LockCreateError,
          );
        }
        holderNow = start + 500;
        assert.equal(await holder.isValidLock({ key, uniqueValue: "holder" }), false);
        await taker.createLock({ key, uniqueValue: "t", ttl: 500 });
      },
    );

    mongoTest(
      target,
      driver,
      "MongoAdapter with the 0.1.0 README's dbName and locksCollectionName writes to that collection",
      async (env) => {
        const adapter = new MongoAdapter({
          client: env.client(),
          dbName: env.dbName,
          locksCollectionName: "my-locks",
        });
        const key = uniqueKey();
        await adapter.createLock({ key, uniqueValue: "a", ttl: 5000 });
        const custom = env.inspector.db(env.dbName).collection("my-locks");
        assert.equal(await custom.countDocuments({ key }), 1);
        assert.equal(await env.locks().countDocuments({ key }), 0);
      },
    );

    mongoTest(
      target,
      driver,
      "MongoAdapter runs the 0.1.0 README's MongoDB example",
      async (env) => {
        const url = env.server.real ? env.server.url : `${env.server.url}?directConnection=true`;
        const MongoClient = driver.name === "driver 6" ? MongoClient6 : MongoClient7;
        const client = new MongoClient(url);
        try {
          const adapter = new MongoAdapter({
            client,
          });
          const locker = new Locker({
            adapter,
            retrySettings: { retryDelay: 200, retryTimes: 10 },
          });
          const result = await locker.lock("user:123", 3000).acquire(async (lock) => {
            // critical section — lock is auto-released when this function returns
            await lock.extend(2000);
            return { success: true };
          });
          assert.deepEqual(result, { success: true });
        } finally {
          await client.close();
        }
      },
    );

    mongoTest(
      target,
      driver,
      "MongoAdapter.releaseLock() frees the key at once for a locco 0.1.0 host on the same collection",
      async (env) => {
        const adapter = env.adapter();
        const old = new locco010.MongoAdapter({ client: env.client(), dbName: env.dbName });
        const key = uniqueKey();
        const first = await adapter.createLock({ key, uniqueValue: "new-1", ttl: LONG_TTL });
        await adapter.releaseLock({ key, uniqueValue: "new-1" });
        await old.createLock({ key, uniqueValue: "old", ttl: LONG_TTL });
        await assert.rejects(
          adapter.createLock({ key, uniqueValue: "new-2", ttl: LONG_TTL }),
          LockCreateError,
        );
        await old.releaseLock({ key, uniqueValue: "old" });
        const second = await adapter.createLock({ key, uniqueValue: "new-2", ttl: LONG_TTL });
        assert.ok(second.fence! > first.fence!, `${first.fence} then ${second.fence}`);
      },
    );

    mongoTest(
      target,
      driver,
      "MongoAdapter and a locco 0.1.0 host on one collection respect each other's lock until it expires",
      async (env) => {
        const adapter = env.adapter();
        const old = new locco010.MongoAdapter({ client: env.client(), dbName: env.dbName });
        const key = uniqueKey();
        await old.createLock({ key, uniqueValue: "old-1", ttl: 300 });
        await assert.rejects(
          adapter.createLock({ key, uniqueValue: "new", ttl: 300 }),
          LockCreateError,
        );
        await delay(400);
        await adapter.createLock({ key, uniqueValue: "new", ttl: 300 });
        await assert.rejects(
          old.createLock({ key, uniqueValue: "old-2", ttl: 300 }),
          isOldLockCreateError,
        );
        await delay(350);
        await old.createLock({ key, uniqueValue: "old-2", ttl: 300 });
      },
    );

    mongoTest(
      target,
      driver,
      "MongoAdapter.createLock() issues a larger fence after the expired lock's document was deleted, to a host whose clock is behind by less than clockDriftMargin",
      async (env) => {
        const start = Date.now();
        const holder = env.adapter({ now: () => start });
        const behind = env.adapter({ now: () => start + 11 - 40 });
        const key = uniqueKey();
        const first = await holder.createLock({ key, uniqueValue: "a", ttl: 10 });
        await env.locks().deleteMany({ key });
        const second = await behind.createLock({ key, uniqueValue: "b", ttl: 10 });
        assert.ok(second.fence! > first.fence!, `${first.fence} then ${second.fence}`);
      },
    );

    mongoTest(
      target,
      driver,
      "MongoAdapter reads with readPreference primary (uniqueness check, fence read-back, isValidLock)",
      async (env) => {
        const seen: unknown[] = [];
        const inner = env.client();
        const client: MongoLikeClient = {
          db(dbName?: string) {
            return {
              collection(name: string): MongoLikeCollection {
                const collection = inner.db(dbName).collection(name);
                return {
                  createIndex: (spec, options) => collection.createIndex(spec, options),
                  updateOne: (filter, update, options) =>
                    collection.updateOne(filter, update, options),
                  deleteOne: (filter) => collection.deleteOne(filter),
                  findOne: (filter, options) => {
                    seen.push(options);
                    return collection.findOne(filter, options);
                  },
                };
              },
            };
          },
        };
        const clock = new ShiftedClock();
        const adapter = new MongoAdapter({ client, dbName: env.dbName, now: clock.now });
        const key = uniqueKey();
        await adapter.createLock({ key, uniqueValue: "a", ttl: LONG_TTL });
        clock.shift = PAST_LONG_TTL;
        await adapter.createLock({ key, uniqueValue: "b", ttl: LONG_TTL });
        assert.equal(await adapter.isValidLock({ key, uniqueValue: "b" }), true);
        assert.ok(seen.length >= 4, `${seen.length} reads`);
        for (const options of seen) {
          assert.equal((options as { readPreference?: unknown }).readPreference, "primary");
        }
      },
    );
  }
}

for (const driver of DRIVERS) {
  const real = TARGETS[1]!;
  mongoTest(
    real,
    driver,
    "MongoAdapter.createLock() passes through a duplicate key error from another unique index",
    async (env) => {
      const adapter = env.adapter();
      await adapter.createLock({ key: uniqueKey(), uniqueValue: "same", ttl: 5000 });
      await env.locks().createIndex({ uniqueValue: 1 }, { unique: true });
      const error = await adapter.createLock({ key: uniqueKey(), uniqueValue: "same", ttl: 5000 })
        .then(() => undefined, (e: unknown) => e);
      assert.ok(!(error instanceof LockCreateError), String(error));
      assert.equal((error as { code?: unknown }).code, 11000);
    },
  );
}

/** A fake collection that records calls and answers with `respond`. */
function fakeClient(
  respond: (method: string, args: unknown[]) => Promise<unknown>,
): { client: MongoLikeClient; calls: string[] } {
  const calls: string[] = [];
  const call = (method: string) => (...args: unknown[]) => {
    calls.push(method);
    return respond(method, args);
  };
  const collection = {
    createIndex: call("createIndex"),
    updateOne: call("updateOne"),
    deleteOne: call("deleteOne"),
    findOne: call("findOne"),
  } as unknown as MongoLikeCollection;
  return { client: { db: () => ({ collection: () => collection }) }, calls };
}

const ok = (method: string): Promise<unknown> =>
  Promise.resolve(
    method === "createIndex"
      ? "index_1"
      : method === "findOne"
      ? null
      : { acknowledged: true, matchedCount: 1, deletedCount: 1 },
  );

Deno.test("MongoAdapter() does no I/O", () => {
  const { client, calls } = fakeClient(ok);
  new MongoAdapter({ client });
  assert.deepEqual(calls, []);
});

Deno.test("MongoAdapter() throws ValidationError naming the invalid option", () => {
  const { client } = fakeClient(ok);
  const bad: Array<[unknown, string]> = [
    [undefined, "options"],
    [null, "options"],
    [{}, "options.client"],
    [{ client: {} }, "options.client"],
    [{ client: { db: () => ({}) } }, "options.client"],
    [{ client: { db: () => ({ collection: () => ({}) }) } }, "options.client"],
    [{ client, dbName: "" }, "options.dbName"],
    [{ client, dbName: 5 }, "options.dbName"],
    [{ client, locksCollectionName: "" }, "options.locksCollectionName"],
    [{ client, locksCollectionName: null }, "options.locksCollectionName"],
    [{ client, clockDriftMargin: -1 }, "options.clockDriftMargin"],
    [{ client, clockDriftMargin: 1.5 }, "options.clockDriftMargin"],
    [{ client, clockDriftMargin: "50" }, "options.clockDriftMargin"],
    [{ client, now: 5 }, "options.now"],
  ];
  for (const [options, parameter] of bad) {
    assert.throws(
      () => new MongoAdapter(options as MongoAdapterOptions),
      (error: unknown) => error instanceof ValidationError && error.parameter === parameter,
      parameter,
    );
  }
});

Deno.test("MongoAdapter() passes dbName and locksCollectionName to the client, defaulting to locco-locks", () => {
  const seen: unknown[] = [];
  const { client } = fakeClient(ok);
  const recording: MongoLikeClient = {
    db(dbName?: string) {
      seen.push(dbName);
      return {
        collection(name: string) {
          seen.push(name);
          return client.db().collection(name);
        },
      };
    },
  };
  new MongoAdapter({ client: recording });
  new MongoAdapter({ client: recording, dbName: "my-app", locksCollectionName: "my-locks" });
  assert.deepEqual(seen, [undefined, "locco-locks", "my-app", "my-locks"]);
});

Deno.test("MongoAdapter methods reject with ValidationError before any I/O", async () => {
  const { client, calls } = fakeClient(ok);
  const adapter = new MongoAdapter({ client });
  const key = { $gt: "" } as unknown as string;
  await assert.rejects(adapter.createLock({ key, uniqueValue: "a", ttl: 1000 }), ValidationError);
  await assert.rejects(adapter.releaseLock({ key, uniqueValue: "a" }), ValidationError);
  await assert.rejects(adapter.extendLock({ key, uniqueValue: "a", ttl: 1000 }), ValidationError);
  await assert.rejects(adapter.isValidLock({ key, uniqueValue: "a" }), ValidationError);
  await assert.rejects(adapter.createLock({ key: "k", uniqueValue: "a", ttl: 0 }), ValidationError);
  assert.deepEqual(calls, []);
});

Deno.test("MongoAdapter methods reject with the driver's own error, never a lock error", async (t) => {
  const failure = Object.assign(new Error("connection reset"), { name: "MongoNetworkError" });
  for (const method of ["updateOne", "findOne"]) {
    await t.step(method, async () => {
      const { client } = fakeClient((m) => m === method ? Promise.reject(failure) : ok(m));
      const adapter = new MongoAdapter({ client });
      const lease = { key: "k", uniqueValue: "a", ttl: 1000 };
      const operations = method === "updateOne"
        ? [adapter.createLock(lease), adapter.extendLock(lease), adapter.releaseLock(lease)]
        : [adapter.isValidLock(lease)];
      for (const operation of operations) {
        await assert.rejects(operation, (error: unknown) => error === failure);
      }
    });
  }
});

Deno.test("MongoAdapter.createLock() maps only code 11000 from the key index to LockCreateError", async (t) => {
  async function createWith(error: unknown): Promise<unknown> {
    const { client } = fakeClient((m) => m === "updateOne" ? Promise.reject(error) : ok(m));
    const adapter = new MongoAdapter({ client });
    return await adapter.createLock({ key: "k", uniqueValue: "a", ttl: 1000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
  }
  await t.step("code 11000 without keyPattern (the stand-in's shape) is contention", async () => {
    const duplicate = Object.assign(new Error("E11000 duplicate key error index: key_1"), {
      code: 11000,
    });
    const error = await createWith(duplicate);
    assert.ok(error instanceof LockCreateError);
    assert.equal(error.cause, duplicate);
  });
  await t.step("code 11000 with keyPattern { key: 1 } is contention", async () => {
    const error = await createWith({ code: 11000, keyPattern: { key: 1 }, keyValue: { key: "k" } });
    assert.ok(error instanceof LockCreateError);
  });
  await t.step("code 11000 from another unique index passes through", async () => {
    const duplicate = { code: 11000, keyPattern: { uniqueValue: 1 } };
    assert.equal(await createWith(duplicate), duplicate);
    const compound = { code: 11000, keyPattern: { key: 1, uniqueValue: 1 } };
    assert.equal(await createWith(compound), compound);
  });
  await t.step("a duplicate key message without code 11000 passes through", async () => {
    const duplicate = Object.assign(new Error("E11000 duplicate key error"), { code: 11001 });
    assert.equal(await createWith(duplicate), duplicate);
    const noCode = new Error("E11000 duplicate key error collection: db.locco-locks index: key_1");
    assert.equal(await createWith(noCode), noCode);
  });
});

Deno.test("MongoAdapter.createLock() passes through a code 11000 index build error unchanged", async () => {
  const failure = Object.assign(new Error("E11000 duplicate key error: cannot build index"), {
    code: 11000,
  });
  const { client, calls } = fakeClient((m) =>
    m === "createIndex" ? Promise.reject(failure) : ok(m)
  );
  const adapter = new MongoAdapter({ client });
  await assert.rejects(
    adapter.createLock({ key: "k", uniqueValue: "a", ttl: 1000 }),
    (error: unknown) => error === failure,
  );
  assert.ok(!calls.includes("updateOne"));
});

Deno.test("MongoAdapter rejects unacknowledged writes (write concern w: 0)", async () => {
  const { client } = fakeClient((m) =>
    m === "createIndex" ? ok(m) : Promise.resolve({ acknowledged: false })
  );
  const adapter = new MongoAdapter({ client });
  const lease = { key: "k", uniqueValue: "a", ttl: 1000 };
  for (
    const operation of [
      adapter.createLock(lease),
      adapter.releaseLock(lease),
      adapter.extendLock(lease),
    ]
  ) {
    await assert.rejects(
      operation,
      (error: unknown) =>
        error instanceof LoccoError && !(error instanceof LockCreateError) &&
        /acknowledged/.test(error.message),
    );
  }
});

Deno.test("MongoAdapter.extendLock() sends no upsert and sets only expireAt", async () => {
  const updates: unknown[][] = [];
  const { client } = fakeClient((m, args) => {
    if (m === "updateOne") updates.push(args);
    return ok(m);
  });
  const adapter = new MongoAdapter({ client, now: () => 1_000_000 });
  await adapter.extendLock({ key: "k", uniqueValue: "a", ttl: 500 });
  assert.deepEqual(updates, [[
    { key: "k", uniqueValue: "a", expireAt: { $gt: new Date(1_000_000) } },
    { $set: { expireAt: new Date(1_000_500) } },
  ]]);
});
