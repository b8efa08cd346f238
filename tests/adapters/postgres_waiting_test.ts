// Copyright 2026 the locco authors. MIT license.
// PostgresAdapter waiting: woken by the release's NOTIFY, not after the retry
// delay; first come first served within one adapter; bounded by abort and
// totalTime; an expired lock is taken by the bounded poll; a terminated
// listening connection only delays a waiter to its retry delay and is opened
// again; close() gives it back; "poll" and a pg Client open none. Times are
// generous upper bounds on behaviour, never latency targets.

import assert from "node:assert/strict";
import { Locker, RetryError } from "@kontsedal/locco";
import { PostgresAdapter, type PostgresLikeClient } from "@kontsedal/locco/postgres";
import { delay, uniqueKey } from "../_helpers.ts";
import {
  CLIENT_KINDS,
  listeningBackends,
  PostgresEnv,
  terminateBackends,
  uniqueApplicationName,
} from "../_postgres.ts";

type PostgresJsUnsafe = (text: string, values: string[]) => PromiseLike<unknown>;
type PgQuery = (text: string, values: string[]) => Promise<unknown>;

function waitingTest(
  name: string,
  fn: (env: PostgresEnv, listens: boolean) => Promise<void>,
): void {
  for (const kind of CLIENT_KINDS) {
    Deno.test(`${name} (${kind.name})`, async () => {
      const env = await PostgresEnv.open(kind);
      try {
        await fn(env, kind.listens);
      } finally {
        await env.close();
      }
    });
  }
}

waitingTest(
  "PostgresAdapter.waitForUnlock() wakes a waiter on release, long before its 3 s retry delay (a pg Client polls)",
  async (env, listens) => {
    const key = uniqueKey();
    const retrySettings = { retryDelay: 3000, retryTimes: 3 };
    const holder = new Locker({ adapter: await env.adapter(), retrySettings });
    const waiter = new Locker({ adapter: await env.adapter(), retrySettings });
    const held = await holder.lock(key, 30_000).acquire();
    const started = performance.now();
    const waiting = waiter.lock(key, 30_000).acquire();
    await delay(200);
    await held.release({ throwOnFail: true });
    const lock = await waiting;
    const waited = performance.now() - started;
    if (listens) assert.ok(waited < 1500, `waited ${waited} ms`);
    else assert.ok(waited >= 2500, `a pg Client cannot listen, yet waited only ${waited} ms`);
    await lock.release({ throwOnFail: true });
  },
);

waitingTest(
  "PostgresAdapter.waitForUnlock() serves the waiters of one adapter first come first served",
  async (env) => {
    const key = uniqueKey();
    const adapter = await env.adapter();
    // Waiters poll every 5 ms: without the queue, a later one would often barge in.
    const locker = new Locker({ adapter, retrySettings: { retryDelay: 5, retryTimes: 2000 } });
    const held = await locker.lock(key, 30_000).acquire();
    const order: number[] = [];
    const waiting: Promise<unknown>[] = [];
    for (let i = 0; i < 5; i++) {
      waiting.push(
        locker.lock(key, 30_000).acquire(async () => {
          order.push(i);
          await delay(5);
        }),
      );
      await delay(30);
    }
    await held.release({ throwOnFail: true });
    await Promise.all(waiting);
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
  },
);

waitingTest(
  "PostgresAdapter.waitForUnlock() still bounds the wait by abort and by totalTime",
  async (env) => {
    const key = uniqueKey();
    const held = await new Locker({
      adapter: await env.adapter(),
      retrySettings: { retryDelay: 10, retryTimes: 1 },
    }).lock(key, 30_000).acquire();
    const waiter = new Locker({
      adapter: await env.adapter(),
      retrySettings: { retryDelay: 5000, retryTimes: 10 },
    });
    const controller = new AbortController();
    const reason = new Error("caller gave up");
    const started = performance.now();
    const aborted = waiter.lock(key, 1000).acquire(undefined, { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 100);
    await assert.rejects(aborted, (e) => e === reason);
    assert.ok(performance.now() - started < 2500);
    const timed = new Locker({
      adapter: await env.adapter(),
      retrySettings: { retryDelay: 5000, retryTimes: 10, totalTime: 200 },
    });
    const before = performance.now();
    await assert.rejects(
      timed.lock(key, 1000).acquire(),
      (e) => e instanceof RetryError && /Total time/.test(e.message),
    );
    assert.ok(performance.now() - before < 2500);
    await held.release({ throwOnFail: true });
    const next = await new Locker({
      adapter: await env.adapter(),
      retrySettings: { retryDelay: 100, retryTimes: 10 },
    }).lock(key, 1000).acquire();
    await next.release({ throwOnFail: true });
  },
);

waitingTest(
  "PostgresAdapter.waitForUnlock() lets the bounded poll take a lock that expired instead of being released",
  async (env) => {
    const key = uniqueKey();
    await new Locker({
      adapter: await env.adapter(),
      retrySettings: { retryDelay: 10, retryTimes: 1 },
    }).lock(key, 300).acquire();
    const started = performance.now();
    const lock = await new Locker({
      adapter: await env.adapter(),
      retrySettings: { retryDelay: 100, retryTimes: 100 },
    }).lock(key, 1000).acquire();
    const waited = performance.now() - started;
    assert.ok(waited >= 250 && waited < 2500, `waited ${waited} ms`);
    await lock.release({ throwOnFail: true });
  },
);

for (const kind of CLIENT_KINDS.filter((kind) => kind.listens)) {
  const test = (name: string, fn: (env: PostgresEnv) => Promise<void>) =>
    Deno.test(`${name} (${kind.name})`, async () => {
      const env = await PostgresEnv.open(kind);
      try {
        await fn(env);
      } finally {
        await env.close();
      }
    });

  test(
    "PostgresAdapter waiter gets the key within its retry delay when the listening connection is terminated, and its adapter listens again",
    async (env) => {
      const app = uniqueApplicationName();
      const key = uniqueKey();
      const holder = new Locker({
        adapter: await env.adapter(),
        retrySettings: { retryDelay: 10, retryTimes: 1 },
      });
      const waiterAdapter = await env.adapter({}, app);
      const waiter = new Locker({
        adapter: waiterAdapter,
        retrySettings: { retryDelay: 700, retryTimes: 100 },
      });
      const held = await holder.lock(key, 30_000).acquire();
      const waiting = waiter.lock(key, 30_000).acquire();
      await delay(300);
      assert.equal(await listeningBackends(env.admin, app), 1);
      assert.equal(await terminateBackends(env.admin, app, true), 1);
      await held.release({ throwOnFail: true });
      const released = performance.now();
      const lock = await waiting;
      const late = performance.now() - released;
      assert.ok(late < 700 + 1500, `taken ${late} ms after the release`);
      // The same adapter listens again on its next wait (a failed or lost
      // LISTEN is retried after a second): the next release wakes a waiter
      // whose retry delay is 5 s at once.
      await delay(1200);
      const slow = new Locker({
        adapter: waiterAdapter,
        retrySettings: { retryDelay: 5000, retryTimes: 5 },
      });
      const again = slow.lock(key, 30_000).acquire();
      again.catch(() => {}); // on a failed assertion below, the test's end stops it
      let listening = 0;
      for (let i = 0; i < 30 && listening === 0; i++) {
        await delay(100);
        listening = await listeningBackends(env.admin, app);
      }
      assert.equal(listening, 1, "the adapter did not listen again");
      const started = performance.now();
      await lock.release({ throwOnFail: true });
      await (await again).release({ throwOnFail: true });
      const woken = performance.now() - started;
      assert.ok(woken < 2500, `woken ${woken} ms after the release`);
    },
  );

  test(
    "PostgresAdapter remembers a release notified while the waiter's attempt was in flight, and tries again at once",
    async (env) => {
      const key = uniqueKey();
      const holder = await env.adapter();
      await holder.createLock({ key, uniqueValue: "holder", ttl: 30_000 });
      const { client } = await env.client();
      // The waiter's second acquire runs on the server (and finds the key
      // held); its reply is held back while the holder releases and the
      // NOTIFY arrives, so the notification reaches nobody who is pausing.
      let acquires = 0;
      let releasedWhileInFlight: Promise<void> | undefined;
      const holdReply = async <T>(text: string, reply: Promise<T>): Promise<T> => {
        const result = await reply;
        if (text.includes("INSERT INTO") && ++acquires === 2) {
          releasedWhileInFlight = holder.releaseLock({ key, uniqueValue: "holder" });
          await releasedWhileInFlight;
          await delay(300);
        }
        return result;
      };
      const source = client as unknown as Record<string, unknown>;
      const wrapped = typeof source.unsafe === "function"
        ? {
          unsafe: (text: string, values: string[]) =>
            holdReply(text, Promise.resolve((source.unsafe as PostgresJsUnsafe)(text, values))),
          listen: (source.listen as (...args: unknown[]) => unknown).bind(client),
        }
        : {
          query: (text: string, values: string[]) =>
            holdReply(text, (source.query as PgQuery).call(client, text, values)),
          connect: (source.connect as () => unknown).bind(client),
          get totalCount() {
            return source.totalCount;
          },
          options: source.options,
        };
      const adapter = new PostgresAdapter({
        client: wrapped as unknown as PostgresLikeClient,
        tableName: env.table,
      });
      try {
        const locker = new Locker({ adapter, retrySettings: { retryDelay: 5000, retryTimes: 5 } });
        const started = performance.now();
        const lock = await locker.lock(key, 30_000).acquire();
        const waited = performance.now() - started;
        assert.equal(acquires, 3);
        assert.ok(releasedWhileInFlight !== undefined);
        assert.ok(waited < 4000, `waited ${waited} ms: the notification was forgotten`);
        await lock.release({ throwOnFail: true });
      } finally {
        await adapter.close();
      }
    },
  );

  test("PostgresAdapter.close() gives back the listening connection it opened", async (env) => {
    const app = uniqueApplicationName();
    const key = uniqueKey();
    const adapter = await env.adapter({}, app);
    const locker = new Locker({ adapter, retrySettings: { retryDelay: 5000, retryTimes: 3 } });
    const held = await locker.lock(key, 30_000).acquire();
    const waiting = locker.lock(key, 1000).acquire();
    await delay(300);
    assert.equal(await listeningBackends(env.admin, app), 1);
    await held.release({ throwOnFail: true });
    await (await waiting).release({ throwOnFail: true });
    await adapter.close();
    await delay(100);
    assert.equal(await listeningBackends(env.admin, app), 0);
  });

  test('PostgresAdapter with waitStrategy "poll" opens no listening connection and still waits', async (env) => {
    const app = uniqueApplicationName();
    const key = uniqueKey();
    const adapter = await env.adapter({ waitStrategy: "poll" }, app);
    const locker = new Locker({ adapter, retrySettings: { retryDelay: 50, retryTimes: 100 } });
    const held = await locker.lock(key, 30_000).acquire();
    const waiting = locker.lock(key, 1000).acquire();
    await delay(200);
    assert.equal(await listeningBackends(env.admin, app), 0);
    await held.release({ throwOnFail: true });
    await (await waiting).release({ throwOnFail: true });
  });
}

waitingTest(
  "PostgresAdapter recovers when the server terminates its connections: the driver's error, then locks again",
  async (env) => {
    const app = uniqueApplicationName();
    const adapter = await env.adapter({}, app);
    const key = uniqueKey();
    await adapter.createLock({ key, uniqueValue: "a", ttl: 30_000 });
    assert.ok(await terminateBackends(env.admin, app) >= 1);
    let recovered = false;
    for (let i = 0; i < 20 && !recovered; i++) {
      try {
        recovered = await adapter.isValidLock({ key, uniqueValue: "a" });
      } catch (error) {
        assert.ok(!(error instanceof RetryError));
        assert.ok(
          !["LOCK_CREATE_FAILED", "LOCK_RELEASE_FAILED"].includes(
            (error as { code?: string }).code ?? "",
          ),
        );
        await delay(100);
      }
    }
    if (!recovered) {
      // A pg Client does not reconnect: the user's own client stays broken.
      assert.equal(env.kind.name, "pg Client");
      return;
    }
    await adapter.releaseLock({ key, uniqueValue: "a" });
  },
);
