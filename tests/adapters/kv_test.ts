// Copyright 2026 the locco authors. MIT license.
// DenoKvAdapter: the contract suite on an in-memory database (Deno) and on a
// file database opened by several handles (Deno: Deno.openKv; Node and Bun:
// @deno/kv), then what is particular to KV: the clock drift margin, fencing
// tokens from commit versionstamps, never re-creating a lost lock, foreign
// values and KV failures that are not contention, and bad input.

import assert from "node:assert/strict";
import {
  type ILockAdapter,
  LoccoError,
  LockCreateError,
  Locker,
  LockExtendError,
  ValidationError,
} from "@kontsedal/locco";
import { DenoKvAdapter, type DenoKvAdapterOptions, type DenoKvLike } from "@kontsedal/locco/kv";
import { type AdapterBackend, testAdapterContract } from "../_adapter_contract.ts";
import { delay, uniqueKey } from "../_helpers.ts";
import { ON_DENO, openTestKv, tempKvPath, type TestKv } from "../_kv.ts";

if (!ON_DENO) {
  // deno-lint-ignore no-console
  console.log(
    "DenoKvAdapter on an in-memory database runs on Deno only: @deno/kv has no in-memory " +
      "store shared by several handles; the file database suites run here. The busy-file test " +
      "runs on Deno only: it holds the file's write lock with node:sqlite (not in Node 20 or Bun)",
  );
}

/** Adapters on one database; every `connect()` of a file database opens its own handle. */
class KvStore implements AdapterBackend {
  #handles: TestKv[] = [];
  #adapters: DenoKvAdapter[] = [];
  constructor(readonly path: string, readonly remove: () => void) {}

  static async memory(): Promise<KvStore> {
    const store = new KvStore(":memory:", () => {});
    store.#handles.push(await openTestKv(":memory:"));
    return store;
  }

  static file(): Promise<KvStore> {
    const { path, remove } = tempKvPath();
    return Promise.resolve(new KvStore(path, remove));
  }

  /** A handle of its own on a file database; the one shared handle in memory. */
  async handle(): Promise<TestKv> {
    if (this.path === ":memory:") return this.#handles[0]!;
    const kv = await openTestKv(this.path);
    this.#handles.push(kv);
    return kv;
  }

  async adapter(options: Omit<DenoKvAdapterOptions, "kv"> = {}): Promise<DenoKvAdapter> {
    const adapter = new DenoKvAdapter({ kv: await this.handle(), ...options });
    this.#adapters.push(adapter);
    return adapter;
  }

  connect(): Promise<ILockAdapter> {
    return this.adapter();
  }

  async close(): Promise<void> {
    await Promise.all(this.#adapters.splice(0).map((adapter) => adapter.close()));
    for (const kv of this.#handles.splice(0)) kv.close();
    this.remove();
  }
}

testAdapterContract("DenoKvAdapter (in-memory database)", () => KvStore.memory(), {
  ignore: !ON_DENO,
});
testAdapterContract("DenoKvAdapter (file database, a handle per adapter)", () => KvStore.file());

/** Runs `fn` on a fresh file database and closes everything after. */
async function withStore(fn: (store: KvStore) => Promise<void>): Promise<void> {
  const store = await KvStore.file();
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

const ENTRY = (key: string) => ["locco", key];

Deno.test("DenoKvAdapter takes over an expired lock only after expiry plus clockDriftMargin", async () => {
  await withStore(async (store) => {
    let now = Date.now();
    const clock = { now: () => now };
    const holder = await store.adapter({ clockDriftMargin: 1000, ...clock });
    const taker = await store.adapter({ clockDriftMargin: 1000, ...clock });
    const key = uniqueKey();
    const start = now;
    await holder.createLock({ key, uniqueValue: "holder", ttl: 500 });
    now = start + 499;
    assert.equal(await holder.isValidLock({ key, uniqueValue: "holder" }), true);
    now = start + 500;
    // Expired for its holder at once...
    assert.equal(await holder.isValidLock({ key, uniqueValue: "holder" }), false);
    await assert.rejects(holder.extendLock({ key, uniqueValue: "holder", ttl: 500 }), {
      message: "Lock is already expired",
    });
    // ...but another host may take it only once the margin passed too.
    now = start + 1499;
    await assert.rejects(
      taker.createLock({ key, uniqueValue: "taker", ttl: 500 }),
      LockCreateError,
    );
    now = start + 1500;
    await taker.createLock({ key, uniqueValue: "taker", ttl: 500 });
    assert.equal(await taker.isValidLock({ key, uniqueValue: "taker" }), true);
  });
});

Deno.test("DenoKvAdapter: a host whose clock runs ahead of the holder's by less than the margin cannot take a live lock", async () => {
  await withStore(async (store) => {
    const base = Date.now();
    const holder = await store.adapter({ clockDriftMargin: 300, now: () => base });
    // This host's clock reads 250 ms ahead of the holder's: within the margin.
    const ahead = await store.adapter({ clockDriftMargin: 300, now: () => base + 250 + 200 });
    const key = uniqueKey();
    await holder.createLock({ key, uniqueValue: "holder", ttl: 400 });
    // By the holder's clock 200 ms of its 400 ms lease remain; "ahead" sees it
    // expired by 50 ms, but the margin still keeps it off.
    await assert.rejects(
      ahead.createLock({ key, uniqueValue: "ahead", ttl: 400 }),
      LockCreateError,
    );
    const noMargin = await store.adapter({ clockDriftMargin: 0, now: () => base + 450 });
    await noMargin.createLock({ key, uniqueValue: "no-margin", ttl: 400 });
  });
});

/** The commit version of an entry's versionstamp. */
function versionOf(versionstamp: string | null): number {
  assert.ok(versionstamp !== null);
  return Number(BigInt(`0x${versionstamp.slice(0, 16)}`));
}

Deno.test("DenoKvAdapter fences are the commit versions and grow across release, expiry, takeover and a deleted entry", async () => {
  await withStore(async (store) => {
    const kv = await store.handle();
    const adapter = await store.adapter({ clockDriftMargin: 0 });
    const key = uniqueKey();
    const fences: number[] = [];
    const take = async (owner: string, ttl = 5000) => {
      const { fence } = await adapter.createLock({ key, uniqueValue: owner, ttl });
      assert.ok(Number.isSafeInteger(fence), `fence ${fence}`);
      assert.equal(fence, versionOf((await kv.get(ENTRY(key))).versionstamp));
      fences.push(fence!);
    };
    await take("a");
    await adapter.releaseLock({ key, uniqueValue: "a" });
    await take("b", 50); // left to expire
    await delay(80);
    await take("c", 50); // takes over the expired lock
    await kv.delete(ENTRY(key)); // entry deleted behind the adapter's back
    await take("d");
    // Unrelated writes in between move the version on; fences still only grow.
    await kv.set(["unrelated"], new Uint8Array([1]));
    await adapter.releaseLock({ key, uniqueValue: "d" });
    await take("e");
    for (let i = 1; i < fences.length; i++) {
      assert.ok(fences[i]! > fences[i - 1]!, `fences went backwards: ${fences.join(", ")}`);
    }
  });
});

Deno.test("DenoKvAdapter fences keep growing after the database file is closed and reopened", async () => {
  const { path, remove } = tempKvPath();
  try {
    const key = uniqueKey();
    let kv = await openTestKv(path);
    let adapter = new DenoKvAdapter({ kv });
    const first = (await adapter.createLock({ key, uniqueValue: "a", ttl: 5000 })).fence!;
    await adapter.releaseLock({ key, uniqueValue: "a" });
    await adapter.close();
    kv.close();
    kv = await openTestKv(path);
    try {
      adapter = new DenoKvAdapter({ kv });
      const second = (await adapter.createLock({ key, uniqueValue: "b", ttl: 5000 })).fence!;
      assert.ok(second > first, `${second} after ${first}`);
      await adapter.close();
    } finally {
      kv.close();
    }
  } finally {
    remove();
  }
});

Deno.test("DenoKvAdapter never re-creates a lock that expired, was released or was taken over", async () => {
  await withStore(async (store) => {
    const kv = await store.handle();
    const adapter = await store.adapter({ clockDriftMargin: 0 });
    const key = uniqueKey();
    await adapter.createLock({ key, uniqueValue: "a", ttl: 50 });
    await delay(80);
    await assert.rejects(adapter.extendLock({ key, uniqueValue: "a", ttl: 5000 }), {
      name: "LockExtendError",
      message: "Lock is already expired",
    });
    await adapter.createLock({ key, uniqueValue: "b", ttl: 5000 });
    await assert.rejects(adapter.extendLock({ key, uniqueValue: "a", ttl: 5000 }), {
      name: "LockExtendError",
      message: "Lock is already taken",
    });
    await assert.rejects(adapter.releaseLock({ key, uniqueValue: "a" }), {
      name: "LockReleaseError",
      message: "Lock is already taken",
    });
    await adapter.releaseLock({ key, uniqueValue: "b" });
    assert.equal((await kv.get(ENTRY(key))).versionstamp, null);
    await assert.rejects(adapter.extendLock({ key, uniqueValue: "b", ttl: 5000 }), LockExtendError);
    await assert.rejects(adapter.releaseLock({ key, uniqueValue: "b" }), {
      name: "LockReleaseError",
      message: "Lock is already expired",
    });
    assert.equal((await kv.get(ENTRY(key))).versionstamp, null, "a lost lock was re-created");
  });
});

Deno.test("DenoKvAdapter: of 30 adapters on their own handles racing for a key, exactly one wins", async () => {
  await withStore(async (store) => {
    const adapters = await Promise.all(Array.from({ length: 30 }, () => store.adapter()));
    for (let round = 0; round < 3; round++) {
      const key = uniqueKey();
      const results = await Promise.allSettled(
        adapters.map((adapter, i) =>
          adapter.createLock({ key, uniqueValue: `o${i}`, ttl: 10_000 })
        ),
      );
      const won = results.filter((result) => result.status === "fulfilled");
      assert.equal(won.length, 1);
      for (const result of results) {
        if (result.status === "rejected") assert.ok(result.reason instanceof LockCreateError);
      }
    }
  });
});

Deno.test("DenoKvAdapter stores bytes under [...prefix, key] and keeps prefixes apart", async () => {
  await withStore(async (store) => {
    const kv = await store.handle();
    const a = await store.adapter({ prefix: ["app", 1] });
    const b = await store.adapter({ prefix: ["app", 2] });
    const key = uniqueKey();
    await a.createLock({ key, uniqueValue: "a", ttl: 5000 });
    await b.createLock({ key, uniqueValue: "b", ttl: 5000 });
    const entry = await kv.get(["app", 1, key]);
    assert.ok(entry.value instanceof Uint8Array);
    const record = JSON.parse(new TextDecoder().decode(entry.value));
    assert.equal(record.owner, "a");
    assert.equal(typeof record.expiresAt, "number");
    assert.equal((await kv.get(["locco", key])).versionstamp, null);
  });
});

Deno.test("DenoKvAdapter reports a foreign value at a lock's key as a LoccoError, not contention", async () => {
  await withStore(async (store) => {
    const kv = await store.handle();
    const adapter = await store.adapter();
    const key = uniqueKey();
    await kv.set(ENTRY(key), new Uint8Array([1, 2, 3]));
    for (
      const call of [
        () => adapter.createLock({ key, uniqueValue: "a", ttl: 1000 }),
        () => adapter.releaseLock({ key, uniqueValue: "a" }),
        () => adapter.extendLock({ key, uniqueValue: "a", ttl: 1000 }),
        () => adapter.isValidLock({ key, uniqueValue: "a" }),
      ]
    ) {
      await assert.rejects(call(), (error: unknown) => {
        assert.ok(error instanceof LoccoError);
        assert.equal(error.code, "LOCCO_ERROR");
        return true;
      });
    }
  });
});

/** A KV handle whose every call fails with `failure`. */
function failingKv(failure: Error): DenoKvLike {
  const fail = () => {
    throw failure;
  };
  return {
    get: () => Promise.reject(failure),
    atomic: fail,
    watch: fail,
  };
}

Deno.test("DenoKvAdapter passes a KV failure through unchanged, never as contention", async () => {
  // Not a busy-database error, which is retried first (kv_commit_test.ts).
  const failure = new TypeError("quota exceeded");
  const adapter = new DenoKvAdapter({ kv: failingKv(failure) });
  const lease = { key: "k", uniqueValue: "a", ttl: 1000 };
  for (const method of ["createLock", "releaseLock", "extendLock", "isValidLock"] as const) {
    await assert.rejects(adapter[method](lease), (error) => error === failure);
  }
  await assert.rejects(adapter.inspectLock("k"), (error) => error === failure);
  // A failing commit too.
  await withStore(async (store) => {
    const kv = await store.handle();
    const commitFailure = new Error("commit failed");
    const adapter = new DenoKvAdapter({
      kv: {
        get: (key) => kv.get(key),
        atomic: () => {
          const operation = {
            check: () => operation,
            set: () => operation,
            delete: () => operation,
            commit: () => Promise.reject(commitFailure),
          };
          return operation;
        },
      },
    });
    await assert.rejects(adapter.createLock(lease), (error) => error === commitFailure);
  });
});

Deno.test("DenoKvAdapter rejects bad options and arguments with ValidationError before any I/O", async () => {
  const used: string[] = [];
  const spy: DenoKvLike = {
    get: () => (used.push("get"), Promise.reject(new Error("I/O"))),
    atomic: () => {
      used.push("atomic");
      throw new Error("I/O");
    },
    watch: () => {
      used.push("watch");
      throw new Error("I/O");
    },
  };
  const badOptions: Array<[unknown, string]> = [
    [undefined, "options"],
    [{}, "options.kv"],
    [{ kv: { get() {} } }, "options.kv"],
    [{ kv: spy, prefix: "locco" }, "options.prefix"],
    [{ kv: spy, prefix: [{}] }, "options.prefix"],
    [{ kv: spy, prefix: [NaN] }, "options.prefix"],
    [{ kv: spy, prefix: ["\ud800"] }, "options.prefix"],
    [{ kv: spy, prefix: ["x".repeat(5000)] }, "options.prefix"],
    [{ kv: spy, clockDriftMargin: -1 }, "options.clockDriftMargin"],
    [{ kv: spy, clockDriftMargin: 1.5 }, "options.clockDriftMargin"],
    [{ kv: spy, now: 5 }, "options.now"],
    [{ kv: spy, waitStrategy: "notify" }, "options.waitStrategy"],
    [{ kv: { get() {}, atomic() {} }, waitStrategy: "watch" }, "options.waitStrategy"],
  ];
  for (const [options, parameter] of badOptions) {
    assert.throws(() => new DenoKvAdapter(options as never), (error: unknown) => {
      assert.ok(error instanceof ValidationError, String(error));
      assert.equal(error.parameter, parameter);
      return true;
    });
  }
  const adapter = new DenoKvAdapter({ kv: spy, waitStrategy: "watch" });
  const bad: Array<[string, Record<string, unknown>, string]> = [
    ["createLock", { key: "", uniqueValue: "a", ttl: 1 }, "key"],
    ["createLock", { key: "k".repeat(3000), uniqueValue: "a", ttl: 1 }, "key"],
    ["createLock", { key: "k", uniqueValue: "a".repeat(40_000), ttl: 1 }, "uniqueValue"],
    // JSON writes a control character as 6 bytes and a quote as 2: too large once stored.
    ["createLock", { key: "k", uniqueValue: "\u0001".repeat(16_384), ttl: 1 }, "uniqueValue"],
    ["createLock", { key: "k", uniqueValue: '"'.repeat(32_768), ttl: 1 }, "uniqueValue"],
    ["createLock", { key: "k", uniqueValue: "a", ttl: 0 }, "ttl"],
    ["releaseLock", { key: "k".repeat(3000), uniqueValue: "a" }, "key"],
    ["extendLock", { key: "k", uniqueValue: "", ttl: 1 }, "uniqueValue"],
    ["isValidLock", { key: "k".repeat(3000), uniqueValue: "a" }, "key"],
  ];
  for (const [method, argument, parameter] of bad) {
    await assert.rejects(
      (adapter as unknown as Record<string, (a: unknown) => Promise<unknown>>)[method]!(argument),
      (error: unknown) => error instanceof ValidationError && error.parameter === parameter,
      `${method} ${parameter}`,
    );
  }
  await assert.rejects(
    adapter.inspectLock("k".repeat(3000)),
    (error: unknown) => error instanceof ValidationError && error.parameter === "key",
  );
  await assert.rejects(
    adapter.waitForUnlock(
      { key: "k".repeat(3000), uniqueValue: "a" },
      10,
      new AbortController().signal,
    ),
    (error: unknown) => error instanceof ValidationError && error.parameter === "key",
  );
  const badClock = new DenoKvAdapter({ kv: spy, now: () => NaN });
  await assert.rejects(
    badClock.extendLock({ key: "k", uniqueValue: "a", ttl: 1 }),
    (error: unknown) => error instanceof ValidationError && error.parameter === "options.now",
  );
  assert.deepEqual(used, [], "I/O before validation");
});

Deno.test("DenoKvAdapter never closes the KV handle it is given", async () => {
  await withStore(async (store) => {
    const kv = await store.handle();
    const adapter = new DenoKvAdapter({ kv });
    const locker = new Locker({ adapter, retrySettings: { retryDelay: 10, retryTimes: 2 } });
    await locker.lock(uniqueKey(), 1000).acquire(() => {});
    await adapter.close();
    await kv.set(["still", "open"], new Uint8Array([1]));
    assert.notEqual((await kv.get(["still", "open"])).versionstamp, null);
  });
});

Deno.test("Locker on DenoKvAdapter: a release after the lock was lost rejects with LockReleaseError saying why", async () => {
  await withStore(async (store) => {
    const adapter = await store.adapter({ clockDriftMargin: 0 });
    const locker = new Locker({ adapter, retrySettings: { retryDelay: 10, retryTimes: 2 } });
    const expired = await locker.lock(uniqueKey(), 50).acquire();
    await delay(100);
    await assert.rejects(expired.release({ throwOnFail: true }), {
      name: "LockReleaseError",
      message: "Lock is already expired",
    });
    const key = uniqueKey();
    const lost = await locker.lock(key, 50).acquire();
    await delay(100);
    await adapter.createLock({ key, uniqueValue: "next holder", ttl: 5000 });
    await assert.rejects(lost.release({ throwOnFail: true }), {
      name: "LockReleaseError",
      message: "Lock is already taken",
    });
    assert.equal(await adapter.isValidLock({ key, uniqueValue: "next holder" }), true);
  });
});

Deno.test("DenoKvAdapter accepts the longest key KV stores under its prefix, and refuses one byte more before any I/O", async () => {
  await withStore(async (store) => {
    const adapter = await store.adapter();
    // ["locco", key]: 7 bytes for the prefix, then a tag, the key's bytes and a terminator.
    for (const longest of ["k".repeat(2039), "\0".repeat(1019), "é".repeat(1019) + "k"]) {
      await adapter.createLock({ key: longest, uniqueValue: "a", ttl: 5000 });
      assert.equal(await adapter.isValidLock({ key: longest, uniqueValue: "a" }), true);
      await adapter.releaseLock({ key: longest, uniqueValue: "a" });
    }
    for (const tooLong of ["k".repeat(2040), "\0".repeat(1020), "é".repeat(1020)]) {
      await assert.rejects(
        adapter.createLock({ key: tooLong, uniqueValue: "a", ttl: 5000 }),
        (error: unknown) => error instanceof ValidationError && error.parameter === "key",
      );
    }
    // The largest uniqueValues the adapter accepts (32768 bytes as UTF-8
    // JSON) are stored, extended (the record then holds a fence too) and
    // released; one more character is refused before any I/O.
    for (const [owner, more] of [["é", 16_384], ["\u0001", 5461], ['"', 16_384]] as const) {
      const key = uniqueKey();
      const uniqueValue = owner.repeat(more);
      await adapter.createLock({ key, uniqueValue, ttl: 5000 });
      await adapter.extendLock({ key, uniqueValue, ttl: 5000 });
      assert.equal(await adapter.isValidLock({ key, uniqueValue }), true);
      await adapter.releaseLock({ key, uniqueValue });
      await assert.rejects(
        adapter.createLock({ key, uniqueValue: uniqueValue + owner, ttl: 5000 }),
        (error: unknown) => error instanceof ValidationError && error.parameter === "uniqueValue",
      );
    }
  });
});

Deno.test("DenoKvAdapter.inspectLock() reports the acquisition's fence after extensions rewrote the entry, and the time to takeover", async () => {
  await withStore(async (store) => {
    const kv = await store.handle();
    let now = Date.now();
    const adapter = await store.adapter({ clockDriftMargin: 300, now: () => now });
    const other = await store.adapter({ clockDriftMargin: 300, now: () => now });
    const key = uniqueKey();
    const start = now;
    const { fence } = await adapter.createLock({ key, uniqueValue: "secret", ttl: 1000 });
    assert.ok(Number.isSafeInteger(fence));
    assert.deepEqual(await other.inspectLock(key), { expiresIn: 1300, fence });
    for (const ttl of [2000, 3000]) {
      await adapter.extendLock({ key, uniqueValue: "secret", ttl });
      const entry = await kv.get(ENTRY(key));
      assert.ok(versionOf(entry.versionstamp) > fence!, "an extension rewrites the entry");
      const record = JSON.parse(new TextDecoder().decode(entry.value as Uint8Array));
      assert.equal(record.fence, fence, "the record keeps the acquisition's fence");
      assert.deepEqual(await other.inspectLock(key), { expiresIn: ttl + 300, fence });
    }
    // Free only once expired by the margin too, as for createLock.
    now = start + 3000 + 299;
    assert.deepEqual(await other.inspectLock(key), { expiresIn: 1, fence });
    now = start + 3000 + 300;
    assert.equal(await other.inspectLock(key), undefined);
    const next = await other.createLock({ key, uniqueValue: "next", ttl: 1000 });
    assert.ok(next.fence! > fence!);
    assert.deepEqual(await adapter.inspectLock(key), { expiresIn: 1300, fence: next.fence });
  });
});

Deno.test({
  name:
    'DenoKvAdapter retries "database is locked" while another connection holds the file for 0.5 s, and passes it through, never as contention, after about 2 s',
  // node:sqlite (to hold the file's write lock) is in Deno, not in Node 20 or Bun.
  ignore: !ON_DENO,
  async fn() {
    const { path, remove } = tempKvPath();
    const kv = await openTestKv(path);
    const adapter = new DenoKvAdapter({ kv });
    const sqlite = "node:sqlite";
    const { DatabaseSync } = await import(sqlite);
    const db = new DatabaseSync(path);
    try {
      await kv.set(["written"], new Uint8Array([1]));
      // KV answers a checked commit at once while another connection holds
      // the file: the adapter tries again until the holder is done...
      db.exec("BEGIN EXCLUSIVE");
      const done = delay(500).then(() => db.exec("ROLLBACK"));
      const key = uniqueKey();
      await adapter.createLock({ key, uniqueValue: "a", ttl: 5000 });
      await done;
      assert.equal(await adapter.isValidLock({ key, uniqueValue: "a" }), true);
      // ...and passes the error through, unchanged, once it held on for 2 s.
      db.exec("BEGIN EXCLUSIVE");
      const started = Date.now();
      await assert.rejects(
        adapter.releaseLock({ key, uniqueValue: "a" }),
        (error: unknown) => error instanceof TypeError && /database is locked/.test(error.message),
      );
      const waited = Date.now() - started;
      assert.ok(waited >= 1900, `gave up after ${waited} ms`);
      db.exec("ROLLBACK");
      assert.equal(await adapter.isValidLock({ key, uniqueValue: "a" }), true);
    } finally {
      db.close();
      await adapter.close();
      kv.close();
      remove();
    }
  },
});
