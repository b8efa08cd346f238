// Copyright 2026 the locco authors. MIT license.

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import {
  isLoccoError,
  type Lock,
  Locker,
  RetryError,
  type RetrySettings,
  ValidationError,
} from "@kontsedal/locco";
import { IoRedisAdapter, type IoRedisLikeClient } from "@kontsedal/locco/redis";
import { delay, runtimeCommand, uniqueKey } from "../_helpers.ts";
import { freePort, RedisServer } from "../_redis_server.ts";
import {
  GLIDE,
  IOREDIS_5,
  NODE_REDIS_6,
  type RawRedisClient,
  type RedisClientKind,
  type RedisFaultOptions,
  type RedisTestAdapter,
} from "../_redis_clients.ts";

const WORKER = fileURLToPath(new URL("./_redis_waiting_worker.ts", import.meta.url));
const HANDOFF_MARKER = "\0locco-handoff\0";

type Outcome<T> =
  | { ok: true; value: T; at: number }
  | { ok: false; error: unknown; at: number };

function show(outcome: Outcome<unknown>, since: number): string {
  const after = `${Math.round(outcome.at - since)} ms`;
  if (outcome.ok) return `resolved after ${after}`;
  const error = outcome.error as { name?: string; message?: string } | undefined;
  return `rejected after ${after} with ${error?.name}: ${error?.message}`;
}

/** Releases `held` and checks that `waiting` took the key within `boundMs` of the release. */
async function releaseAndExpect(
  held: Lock,
  waiting: Promise<Outcome<Lock>>,
  boundMs: number,
  who: string,
): Promise<void> {
  const releasedAt = performance.now();
  await held.release({ throwOnFail: true });
  const outcome = await waiting;
  assert.ok(
    outcome.ok && outcome.at - releasedAt < boundMs,
    `${who} ${show(outcome, releasedAt)} (since the release)`,
  );
}

async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms: ${what}`);
    await delay(10);
  }
}

class Child {
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  output = "";

  constructor(script: string, args: string[]) {
    const { command, args: argv } = runtimeCommand(script, args);
    const child = spawn(command, argv, { stdio: ["ignore", "pipe", "pipe"] });
    this.#child = child;
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (this.output += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (this.output += d));
    this.#exited = new Promise((resolve) => {
      child.once("error", () => resolve());
      child.once("close", () => resolve());
    });
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  async line(prefix: string, timeoutMs: number): Promise<string> {
    let found: string | undefined;
    await waitFor(`the child to print "${prefix}" (output: ${this.output})`, () => {
      if (!this.running) throw new Error(`The child exited early: ${this.output}`);
      found = this.output.split("\n").find((line) => line.startsWith(prefix));
      return found !== undefined;
    }, timeoutMs);
    return found!;
  }

  async kill(): Promise<void> {
    if (this.running) this.#child.kill("SIGKILL");
    await this.#exited;
  }
}

class DropProxy {
  readonly port: number;
  drops = 0;
  readonly #server: Server;
  readonly #closed: Promise<void>[] = [];
  readonly #sockets = new Set<Socket>();
  #armed = false;

  constructor(server: Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  static async start(targetPort: number): Promise<DropProxy> {
    const port = await freePort();
    const server = createServer();
    const proxy = new DropProxy(server, port);
    server.on("connection", (client) => proxy.#connect(client, targetPort));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  arm(): void {
    this.#armed = true;
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    this.#closed.push(new Promise((resolve) => socket.once("close", () => resolve())));
    socket.on("error", () => {});
    socket.once("close", () => this.#sockets.delete(socket));
  }

  #connect(client: Socket, targetPort: number): void {
    const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
    this.#track(client);
    this.#track(upstream);
    let dropNextReply = false;
    client.on("data", (chunk: Uint8Array) => {
      const text = new TextDecoder("latin1").decode(chunk);
      if (this.#armed && /\r\n(evalsha|eval|fcall)\r\n/i.test(text)) {
        this.#armed = false;
        dropNextReply = true;
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Uint8Array) => {
      if (dropNextReply) {
        dropNextReply = false;
        this.drops++;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    client.once("close", () => upstream.destroy());
    upstream.once("close", () => client.destroy());
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await Promise.all([closed, ...this.#closed]);
  }
}

const NO_IO_METHODS = new Set<PropertyKey>([
  "on",
  "once",
  "off",
  "addListener",
  "prependListener",
  "prependOnceListener",
  "removeListener",
  "removeAllListeners",
  "emit",
  "listeners",
  "rawListeners",
  "listenerCount",
  "eventNames",
  "setMaxListeners",
  "getMaxListeners",
]);

function wrap<T extends object>(
  target: T,
  call: (name: PropertyKey, method: (...args: unknown[]) => unknown) => unknown,
): T {
  return new Proxy(target, {
    get(object, name) {
      const value = Reflect.get(object, name, object);
      if (typeof value !== "function") return value;
      const method = (value as (...args: unknown[]) => unknown).bind(object);
      return call(name, method) ?? method;
    },
  });
}

// Holds back hand-off messages while paused: they reach the adapter through
// the subscriber's "message" listener (ioredis), the listener passed to
// subscribe() (node-redis) or the callback in the configuration GLIDE
// creates the subscriber client with (`client.constructor.createClient`).
function gatedClient(client: RawRedisClient): {
  client: RawRedisClient;
  pause(): void;
  resume(): void;
} {
  let held: Array<() => void> | undefined;
  const gate = (listener: (...args: unknown[]) => void) => (...args: unknown[]) => {
    if (held !== undefined) held.push(() => listener(...args));
    else listener(...args);
  };
  const gatedSubscriber = (subscriber: object) =>
    wrap(subscriber, (name, method) => {
      if (name === "subscribe") {
        return (...args: unknown[]) =>
          method(
            ...args.map((arg) =>
              typeof arg === "function" ? gate(arg as (...args: unknown[]) => void) : arg
            ),
          );
      }
      if (name !== "on" && name !== "addListener" && name !== "once") return undefined;
      return (event: string, listener: (...args: unknown[]) => void) =>
        method(event, /message/i.test(event) ? gate(listener) : listener);
    });
  return {
    client: wrap(client, (name, method) => {
      if (name === "constructor" && typeof client.constructor?.createClient === "function") {
        const glide = client.constructor;
        return {
          createClient: (config: { pubsubSubscriptions?: { callback?: () => void } }) =>
            glide.createClient({
              ...config,
              pubsubSubscriptions: {
                ...config.pubsubSubscriptions,
                callback: gate(config.pubsubSubscriptions!.callback!),
              },
            }),
        };
      }
      if (name !== "duplicate") return undefined;
      return (...args: unknown[]) => gatedSubscriber(method(...args) as object);
    }),
    pause() {
      held ??= [];
    },
    resume() {
      const messages = held ?? [];
      held = undefined;
      for (const deliver of messages) deliver();
    },
  };
}

function countingClient(client: RawRedisClient): { client: RawRedisClient; calls: PropertyKey[] } {
  const calls: PropertyKey[] = [];
  return {
    calls,
    client: wrap(client, (name, method) => {
      if (NO_IO_METHODS.has(name)) return undefined;
      return (...args: unknown[]) => {
        calls.push(name);
        return method(...args);
      };
    }),
  };
}

class Fixture {
  readonly server: RedisServer;
  readonly kind: RedisClientKind;
  readonly admin: Redis;
  proxy: DropProxy | undefined;
  readonly #clients: RawRedisClient[] = [];
  readonly #adapters: RedisTestAdapter[] = [];
  readonly #controllers: AbortController[] = [];
  readonly #pending: Promise<unknown>[] = [];
  readonly #locks: Lock[] = [];
  readonly #children: Child[] = [];

  constructor(server: RedisServer, kind: RedisClientKind) {
    this.server = server;
    this.kind = kind;
    this.admin = new Redis(server.url);
    this.admin.on("error", () => {});
  }

  static async open(kind: RedisClientKind): Promise<Fixture> {
    return new Fixture(await RedisServer.start(), kind);
  }

  async client(
    options: RedisFaultOptions = {},
    url: string = this.server.url,
  ): Promise<RawRedisClient> {
    const client = await this.kind.connect(url, options);
    this.#clients.push(client);
    return client;
  }

  async adapter(client?: RawRedisClient): Promise<RedisTestAdapter> {
    const adapter = this.kind.adapter(client ?? await this.client());
    this.#adapters.push(adapter);
    return adapter;
  }

  async locker(retrySettings: RetrySettings, adapter?: RedisTestAdapter): Promise<Locker> {
    return new Locker({ adapter: adapter ?? await this.adapter(), retrySettings });
  }

  async hold(key: string, ttl: number, adapter?: RedisTestAdapter): Promise<Lock> {
    const locker = await this.locker({ retryDelay: 10, retryTimes: 1 }, adapter);
    const lock = await locker.lock(key, ttl).acquire();
    this.#locks.push(lock);
    return lock;
  }

  acquire(lock: Lock, controller = new AbortController()): Promise<Outcome<Lock>> {
    this.#controllers.push(controller);
    const outcome = lock.acquire(undefined, { signal: controller.signal }).then(
      (held): Outcome<Lock> => {
        this.#locks.push(held);
        return { ok: true, value: held, at: performance.now() };
      },
      (error: unknown): Outcome<Lock> => ({ ok: false, error, at: performance.now() }),
    );
    this.#pending.push(outcome);
    return outcome;
  }

  spawnWaiter(key: string, retryDelay: number): Child {
    const child = new Child(WORKER, [this.server.url, key, String(retryDelay), this.kind.family]);
    this.#children.push(child);
    return child;
  }

  // The waiter queue of `key`, named as the adapter names it: with a client
  // keyPrefix, the companion's hash tag is the whole prefixed key.
  async queue(key: string, keyPrefix = ""): Promise<string[]> {
    return await this.admin.lrange(`${keyPrefix}{${keyPrefix}${key}}:waiters`, 0, -1);
  }

  async waitQueued(key: string, uniqueValue: string, keyPrefix = ""): Promise<void> {
    await waitFor(`the waiter ${uniqueValue} to be queued for ${JSON.stringify(key)}`, async () => {
      const entries = await this.queue(key, keyPrefix);
      return entries.some((entry) => entry.endsWith(`\n${uniqueValue}`));
    }, 2000);
  }

  async close(): Promise<void> {
    for (const controller of this.#controllers) controller.abort(new Error("The test ended"));
    await Promise.all(this.#pending);
    await Promise.all(this.#locks.map((lock) => lock.release().catch(() => {})));
    await Promise.all(this.#adapters.map((adapter) => adapter.close().catch(() => {})));
    await Promise.all(this.#clients.map((client) => this.kind.closeClient(client)));
    await this.proxy?.close();
    await Promise.all(this.#children.map((child) => child.kill()));
    await this.admin.quit().catch(() => this.admin.disconnect());
    await this.server.stop();
  }
}

async function withFixture(
  kind: RedisClientKind,
  fn: (fixture: Fixture) => Promise<void>,
): Promise<void> {
  const fixture = await Fixture.open(kind);
  try {
    await fn(fixture);
  } finally {
    await fixture.close();
  }
}

async function liveWaiterBehindKilledProcess(
  kind: RedisClientKind,
  retryTimes: number,
  boundMs: number,
): Promise<void> {
  await withFixture(kind, async (f) => {
    const key = uniqueKey();
    const held = await f.hold(key, 10_000);
    const child = f.spawnWaiter(key, 100);
    const started = await child.line("started", 30_000);
    await f.waitQueued(key, started.split(" ")[1] ?? "");
    const lock = (await f.locker({ retryDelay: 100, retryTimes })).lock(key, 10_000);
    const live = f.acquire(lock);
    await f.waitQueued(key, lock.uniqueValue);
    await child.kill();
    const releasedAt = performance.now();
    await held.release({ throwOnFail: true });
    const outcome = await live;
    assert.ok(outcome.ok, `the live waiter ${show(outcome, releasedAt)} (since the release)`);
    const waited = outcome.at - releasedAt;
    assert.ok(
      waited < boundMs,
      `the live waiter took the key ${Math.round(waited)} ms after the release`,
    );
  });
}

async function nextWaiterAfterDeparture(
  kind: RedisClientKind,
  depart: (f: Fixture, key: string) => Promise<void>,
): Promise<void> {
  await withFixture(kind, async (f) => {
    const key = uniqueKey();
    const held = await f.hold(key, 30_000);
    await depart(f, key);
    const lock = (await f.locker({ retryDelay: 5000, retryTimes: 3, totalTime: 4000 })).lock(
      key,
      10_000,
    );
    const waiting = f.acquire(lock);
    await f.waitQueued(key, lock.uniqueValue);
    await releaseAndExpect(held, waiting, 1500, "the next waiter");
  });
}

async function departingWaiter(
  f: Fixture,
  key: string,
  client: RawRedisClient,
): Promise<
  { adapter: RedisTestAdapter; controller: AbortController; waiting: Promise<Outcome<Lock>> }
> {
  const adapter = await f.adapter(client);
  const lock = (await f.locker({ retryDelay: 5000, retryTimes: 3, totalTime: 10_000 }, adapter))
    .lock(
      key,
      10_000,
    );
  const controller = new AbortController();
  const waiting = f.acquire(lock, controller);
  await f.waitQueued(key, lock.uniqueValue);
  return { adapter, controller, waiting };
}

async function assertAborted(waiting: Promise<Outcome<Lock>>, reason: Error): Promise<void> {
  const outcome = await waiting;
  assert.ok(
    !outcome.ok && outcome.error === reason,
    `the departing waiter ended with its abort reason: ${show(outcome, 0)}`,
  );
}

// The waiting machinery is one; the fault tests run with each client family.
for (const kind of [IOREDIS_5, NODE_REDIS_6, GLIDE]) {
  Deno.test(`${kind.adapterName}: a live waiter takes a released key within one retry delay plus the claim window when the queued waiter before it was killed (${kind.name})`, async () => {
    await liveWaiterBehindKilledProcess(kind, 60, 1500);
  });

  Deno.test(`${kind.adapterName}: a live waiter with 20 attempts 100 ms apart still takes a released key when the queued waiter before it was killed (${kind.name})`, async () => {
    await liveWaiterBehindKilledProcess(kind, 20, Infinity);
  });

  // node-redis has no keyPrefix.
  if (kind.family === "ioredis") {
    Deno.test(`${kind.adapterName}: a waiter on clients with an ioredis keyPrefix is woken by the release within 1 s (${kind.name})`, async () => {
      await withFixture(kind, async (f) => {
        const key = uniqueKey();
        const options = { keyPrefix: "app:" };
        const held = await f.hold(key, 30_000, await f.adapter(await f.client(options)));
        const lock = (await f.locker(
          { retryDelay: 5000, retryTimes: 3, totalTime: 4000 },
          await f.adapter(await f.client(options)),
        ))
          .lock(key, 10_000);
        const waiting = f.acquire(lock);
        await f.waitQueued(key, lock.uniqueValue, "app:");
        await releaseAndExpect(held, waiting, 1000, "the waiter");
      });
    });
  }

  Deno.test(`${kind.adapterName}: a waiter that gave up after its subscriber connection was killed does not delay the next waiter after the release (${kind.name})`, async () => {
    await nextWaiterAfterDeparture(kind, async (f, key) => {
      const { controller, waiting } = await departingWaiter(
        f,
        key,
        await f.client({ reconnectMs: 1000 }),
      );
      await f.admin.client("KILL", "TYPE", "pubsub");
      await delay(200);
      const reason = new Error("gave up");
      controller.abort(reason);
      await assertAborted(waiting, reason);
    });
  });

  Deno.test(`${kind.adapterName}: a waiter that gave up after its adapter was closed does not delay the next waiter after the release (${kind.name})`, async () => {
    await nextWaiterAfterDeparture(kind, async (f, key) => {
      const { adapter, controller, waiting } = await departingWaiter(f, key, await f.client());
      await adapter.close();
      const reason = new Error("gave up");
      controller.abort(reason);
      await assertAborted(waiting, reason);
    });
  });

  Deno.test(`${kind.adapterName}: a waiter that gave up and at once closed its adapter and quit its client after a script cache flush does not delay the next waiter after the release (${kind.name})`, async () => {
    await nextWaiterAfterDeparture(kind, async (f, key) => {
      const client = await f.client();
      const { adapter, controller, waiting } = await departingWaiter(f, key, client);
      await f.admin.script("FLUSH");
      const reason = new Error("gave up");
      controller.abort(reason);
      await Promise.all([adapter.close(), f.kind.closeClient(client)]);
      await assertAborted(waiting, reason);
    });
  });

  Deno.test(`${kind.adapterName}: acquire() with a retryDelayFn returning 0 still lets timers fire while the key is held (${kind.name})`, async () => {
    await withFixture(kind, async (f) => {
      const key = uniqueKey();
      const held = await f.hold(key, 10_000);
      let releasing: Promise<void> | undefined;
      let firedAfter: number | undefined;
      const scheduledAt = performance.now();
      const releaseTimer = setTimeout(() => releasing = held.release({ throwOnFail: true }), 500);
      const probe = setTimeout(() => firedAfter = performance.now() - scheduledAt, 200);
      try {
        const lock = (await f.locker({ retryDelayFn: () => 0, totalTime: 1500 })).lock(key, 10_000);
        const outcome = await f.acquire(lock);
        assert.ok(
          outcome.ok || outcome.error instanceof RetryError,
          `acquire() ${show(outcome, scheduledAt)}`,
        );
        assert.ok(
          firedAfter !== undefined && firedAfter < 600,
          `a 200 ms timer ${
            firedAfter === undefined ? "had not fired" : `fired after ${Math.round(firedAfter)} ms`
          } when acquire() ${show(outcome, scheduledAt)}`,
        );
      } finally {
        clearTimeout(releaseTimer);
        clearTimeout(probe);
        await releasing?.catch(() => {});
      }
    });
  });

  // Resends are ioredis's; node-redis rejects the command instead (below).
  if (!kind.resends) {
    Deno.test(`${kind.adapterName}: a release whose reply the connection dropped rejects with the driver error, and releasing again succeeds (${kind.name})`, async () => {
      await withFixture(kind, async (f) => {
        const key = uniqueKey();
        f.proxy = await DropProxy.start(f.server.port);
        const client = await f.client({}, f.proxy.url);
        const locker = await f.locker({ retryDelay: 100, retryTimes: 5 }, await f.adapter(client));
        await locker.lock(uniqueKey(), 1000).acquire(() => {}); // caches the scripts
        const lock = await locker.lock(key, 5000).acquire();
        f.proxy.arm();
        await assert.rejects(lock.release({ throwOnFail: true }), (e) => !isLoccoError(e));
        assert.equal(f.proxy.drops, 1, "the proxy dropped one reply");
        assert.equal(await f.admin.exists(key), 0, "the dropped release ran");
        await waitFor("the client to reconnect", () => f.kind.isReady(client));
        await lock.release({ throwOnFail: true });
      });
    });

    Deno.test(`${kind.adapterName}: an acquire whose reply the connection dropped rejects with the driver error, and acquiring the same lock again takes it (${kind.name})`, async () => {
      await withFixture(kind, async (f) => {
        const key = uniqueKey();
        f.proxy = await DropProxy.start(f.server.port);
        const client = await f.client({}, f.proxy.url);
        const locker = await f.locker({ retryDelay: 100, retryTimes: 10 }, await f.adapter(client));
        await locker.lock(uniqueKey(), 1000).acquire(() => {}); // caches the scripts
        const lock = locker.lock(key, 5000);
        f.proxy.arm();
        await assert.rejects(lock.acquire(), (e) => !isLoccoError(e));
        assert.equal(f.proxy.drops, 1, "the proxy dropped one reply");
        assert.equal(await f.admin.get(key), lock.uniqueValue, "the dropped acquire ran");
        await waitFor("the client to reconnect", () => f.kind.isReady(client));
        const held = await lock.acquire();
        assert.ok(Number.isSafeInteger(held.fence));
        const pttl = await f.admin.pttl(key);
        assert.ok(pttl > 4000, `the key lives the ttl from the second acquire: pttl ${pttl}`);
        await held.release({ throwOnFail: true });
      });
    });
  }

  if (kind.resends) {
    Deno.test(`${kind.adapterName}: acquire(cb) resolves when ioredis resends the release whose reply the connection dropped (${kind.name})`, async () => {
      await withFixture(kind, async (f) => {
        const key = uniqueKey();
        f.proxy = await DropProxy.start(f.server.port);
        const client = await f.client({}, f.proxy.url);
        const locker = await f.locker({ retryDelay: 100, retryTimes: 5 }, await f.adapter(client));
        await locker.lock(uniqueKey(), 1000).acquire(() => {});
        const started = performance.now();
        const outcome: Outcome<string> = await locker.lock(key, 2000).acquire(async () => {
          f.proxy!.arm();
          return "done";
        }).then(
          (value) => ({ ok: true as const, value, at: performance.now() }),
          (error: unknown) => ({ ok: false as const, error, at: performance.now() }),
        );
        assert.equal(f.proxy.drops, 1, "the proxy dropped one reply");
        assert.ok(outcome.ok && outcome.value === "done", `acquire(cb) ${show(outcome, started)}`);
      });
    });

    Deno.test(`${kind.adapterName}: acquire() takes the lock when ioredis resends the acquire whose reply the connection dropped (${kind.name})`, async () => {
      await withFixture(kind, async (f) => {
        const key = uniqueKey();
        f.proxy = await DropProxy.start(f.server.port);
        const client = await f.client({}, f.proxy.url);
        const locker = await f.locker({ retryDelay: 100, retryTimes: 10 }, await f.adapter(client));
        await locker.lock(uniqueKey(), 1000).acquire(() => {});
        const lock = locker.lock(key, 5000);
        const started = performance.now();
        f.proxy.arm();
        const outcome = await f.acquire(lock);
        assert.equal(f.proxy.drops, 1, "the proxy dropped one reply");
        assert.ok(outcome.ok, `acquire() ${show(outcome, started)}`);
        assert.equal(await f.admin.get(key), lock.uniqueValue);
      });
    });
  }

  Deno.test(`${kind.adapterName}: a waiter with a 5 s retry delay does not hold up a 100 ms waiter of the same adapter once the lock expires (${kind.name})`, async () => {
    await withFixture(kind, async (f) => {
      const key = uniqueKey();
      const heldAt = performance.now();
      await f.hold(key, 400);
      const expiresAt = heldAt + 400;
      const adapter = await f.adapter();
      const slow = (await f.locker({ retryDelay: 5000, retryTimes: 3, totalTime: 3000 }, adapter))
        .lock(key, 200);
      const fast = (await f.locker({ retryDelay: 100, retryTimes: 100, totalTime: 3000 }, adapter))
        .lock(key, 200);
      const slowWaiting = f.acquire(slow);
      await delay(50);
      const fastWaiting = f.acquire(fast);
      const both = [slowWaiting, fastWaiting];
      const firstTakenAt = await new Promise<number>((resolve) => {
        for (const waiting of both) void waiting.then((o) => o.ok && resolve(o.at));
        void Promise.all(both).then(() => resolve(Infinity));
      });
      if (!(firstTakenAt - expiresAt < 1000)) {
        const [slowOutcome, fastOutcome] = await Promise.all(both);
        assert.fail(
          `the key expired and then: slow waiter ${show(slowOutcome!, expiresAt)}, fast waiter ${
            show(fastOutcome!, expiresAt)
          }`,
        );
      }
    });
  });

  Deno.test(`${kind.adapterName}: a waiter whose queue entry vanished is woken by the next release (${kind.name})`, async () => {
    await withFixture(kind, async (f) => {
      const key = uniqueKey();
      const held = await f.hold(key, 30_000);
      const lock = (await f.locker({
        retryDelayFn: ({ attemptNumber }) => attemptNumber < 3 ? 300 : 5000,
        totalTime: 4000,
      })).lock(key, 10_000);
      const waiting = f.acquire(lock);
      await f.waitQueued(key, lock.uniqueValue);
      await f.admin.del(`{${key}}:waiters`);
      await delay(1200);
      await releaseAndExpect(held, waiting, 1000, "the waiter");
    });
  });

  Deno.test(`${kind.adapterName}: a waiter on a key containing a newline is woken by the release within 1 s while its adapter also waits on the part before the newline (${kind.name})`, async () => {
    await withFixture(kind, async (f) => {
      const base = uniqueKey();
      const key = `${base}\nx`;
      await f.hold(base, 30_000);
      const held = await f.hold(key, 30_000);
      const adapter = await f.adapter();
      const retrySettings = { retryDelay: 5000, retryTimes: 3, totalTime: 4000 };
      const other = (await f.locker(retrySettings, adapter)).lock(base, 10_000);
      f.acquire(other);
      await f.waitQueued(base, other.uniqueValue);
      const lock = (await f.locker(retrySettings, adapter)).lock(key, 10_000);
      const waiting = f.acquire(lock);
      await f.waitQueued(key, lock.uniqueValue);
      await releaseAndExpect(held, waiting, 1000, "the waiter");
    });
  });

  Deno.test(`${kind.adapterName}: a unique value equal to a waiter's hand-off marker can neither release nor extend the key handed off to it (${kind.name})`, async () => {
    await withFixture(kind, async (f) => {
      const key = uniqueKey();
      const held = await f.hold(key, 30_000);
      const gated = gatedClient(await f.client());
      const lock = (await f.locker(
        { retryDelay: 5000, retryTimes: 3, totalTime: 4000 },
        await f.adapter(gated.client),
      ))
        .lock(key, 10_000);
      const waiting = f.acquire(lock);
      await f.waitQueued(key, lock.uniqueValue);
      gated.pause();
      await held.release({ throwOnFail: true });
      const intruder = countingClient(await f.client());
      const adapter = await f.adapter(intruder.client);
      intruder.calls.length = 0;
      const uniqueValue = HANDOFF_MARKER + lock.uniqueValue;
      const settle = async (run: () => Promise<void>): Promise<unknown> => {
        try {
          await run();
          return undefined;
        } catch (error) {
          return error;
        }
      };
      const extendError = await settle(() => adapter.extendLock({ key, uniqueValue, ttl: 10_000 }));
      const releaseError = await settle(() => adapter.releaseLock({ key, uniqueValue }));
      const resumedAt = performance.now();
      gated.resume();
      const outcome = await waiting;
      const rejected = (error: unknown) =>
        error instanceof ValidationError && error.parameter === "uniqueValue";
      assert.ok(
        rejected(extendError) && rejected(releaseError) && intruder.calls.length === 0,
        `extendLock: ${extendError ?? "resolved"}; releaseLock: ${
          releaseError ?? "resolved"
        }; client calls: ${intruder.calls.map(String).join(", ")}`,
      );
      assert.ok(
        outcome.ok && outcome.at - resumedAt < 1000,
        `the waiter ${show(outcome, resumedAt)} (since the hand-off was delivered)`,
      );
      assert.equal(await f.admin.get(key), lock.uniqueValue);
    });
  });
}

Deno.test("IoRedisAdapter: a waiter whose enqueue runs after its own attempt took the key leaves no queue entry behind", async () => {
  const server = await RedisServer.start();
  const a = new Redis(server.url);
  const b = new Redis(server.url);
  const admin = new Redis(server.url);
  let openGate!: () => void;
  const gate = new Promise<void>((resolve) => (openGate = resolve));
  let gateOpen = false;
  // B's subscription completes only once B's attempt has taken the key, so
  // B's enqueue reaches Redis after that attempt.
  const client: IoRedisLikeClient = {
    get: (key) => b.get(key),
    eval: (...args) => b.eval(...(args as [string, number])),
    async evalsha(sha, numkeys, ...rest) {
      const reply = await b.evalsha(sha, numkeys, ...rest);
      if (!gateOpen && typeof reply === "number" && reply > 0) {
        gateOpen = true;
        openGate();
        await delay(20);
      }
      return reply;
    },
    duplicate() {
      const subscriber = b.duplicate();
      return {
        subscribe: (channel: string) =>
          subscriber.subscribe(channel).then(async (reply) => (await gate, reply)),
        // deno-lint-ignore no-explicit-any
        on: (event: string, listener: (...args: any[]) => void) => subscriber.on(event, listener),
        quit: () => subscriber.quit(),
        disconnect: () => subscriber.disconnect(),
      };
    },
  };
  const adapterA = new IoRedisAdapter({ client: a });
  const adapterB = new IoRedisAdapter({ client });
  const retrySettings = { retryDelay: 5, retryTimes: 1000 };
  const key = uniqueKey();
  try {
    const first = await new Locker({ adapter: adapterA, retrySettings }).lock(key, 10_000)
      .acquire();
    const waiting = new Locker({ adapter: adapterB, retrySettings }).lock(key, 10_000).acquire();
    await delay(50);
    await first.release({ throwOnFail: true });
    const second = await waiting;
    await delay(50);
    await second.release({ throwOnFail: true });
    assert.deepEqual(await admin.lrange(`{${key}}:waiters`, 0, -1), []);
    assert.equal(await admin.get(key), null, "released to nobody, not handed to a stale entry");
  } finally {
    openGate();
    await Promise.all([adapterA.close(), adapterB.close()]);
    await Promise.all([a.quit(), b.quit(), admin.quit()]);
    await server.stop();
  }
});
