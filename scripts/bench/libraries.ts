// Copyright 2026 the locco authors. MIT license.
// The contenders of the benchmark, behind one small interface: take a key
// (waiting with the library's own mechanism) and give it back.

import { createRequire } from "node:module";
import { Redis } from "ioredis";
import { Redlock } from "@sesamecare-oss/redlock";
import { Mutex } from "redis-semaphore";
import { Locker } from "@kontsedal/locco";
import { IoRedisAdapter, NodeRedisAdapter } from "@kontsedal/locco/redis";
import { createClient } from "redis";
import {
  createLock,
  IoredisAdapter as UniversalIoredisAdapter,
  type LockHandle,
  NodeRedisAdapter as UniversalNodeRedisAdapter,
  type RedisAdapter as UniversalAdapter,
} from "redlock-universal";

/** One held lock: give it back. */
export type Release = () => Promise<unknown>;

/** A library bound to one connection. */
export interface Contender {
  /** Takes `key` for `ttl` ms, retrying every `retryDelay` ms (or as the library waits). */
  acquire(key: string, ttl: number, retryDelay: number): Promise<Release>;
  close(): Promise<void>;
}

/** A library: opens a contender on a fresh connection to `url`. */
export interface Library {
  name: string;
  /** A reference point, run in the uncontended scenarios only. */
  uncontendedOnly?: boolean;
  open(url: string): Contender;
}

/** The floors' release: compare-and-delete. */
export const COMPARE_AND_DELETE = `if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`;

function connect(url: string): Redis {
  const client = new Redis(url, { enableAutoPipelining: false });
  client.on("error", () => {});
  return client;
}

/** The script floor's acquire: SET NX PX in a script. */
export const SET_NX = `if redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2], "NX") then
  return 1
end
return 0`;

/**
 * The floor: one SET NX PX, one compare-and-delete EVALSHA, on one
 * connection. With `scripted`, the SET NX runs inside a one-line script: what
 * any acquire that must do more than SET NX atomically (issue a fencing
 * token, say) pays at least.
 */
function floorLibrary(name: string, scripted: boolean): Library {
  return {
    name,
    uncontendedOnly: true,
    open(url) {
      const client = connect(url);
      let shas: Promise<[string, string]> | undefined;
      return {
        async acquire(key, ttl, retryDelay) {
          const value = crypto.randomUUID();
          shas ??= Promise.all([
            client.script("LOAD", COMPARE_AND_DELETE) as Promise<string>,
            client.script("LOAD", SET_NX) as Promise<string>,
          ]);
          const [compareAndDelete, setNx] = await shas;
          while (
            scripted
              ? (await client.evalsha(setNx, 1, key, value, ttl)) !== 1
              : (await client.set(key, value, "PX", ttl, "NX")) !== "OK"
          ) {
            await new Promise((resolve) => setTimeout(resolve, retryDelay));
          }
          return () => client.evalsha(compareAndDelete, 1, key, value);
        },
        close: async () => void await client.quit(),
      };
    },
  };
}

const floor = floorLibrary("raw floor", false);
const scriptFloor = floorLibrary("script floor (SET NX in Lua)", true);

/** locco over an adapter whose client connects in `ready` and closes in `quit`. */
function loccoContender(
  adapter: IoRedisAdapter | NodeRedisAdapter,
  ready: Promise<unknown>,
  quit: () => Promise<unknown>,
): Contender {
  const lockers = new Map<number, Locker>();
  return {
    async acquire(key, ttl, retryDelay) {
      await ready;
      let locker = lockers.get(retryDelay);
      if (!locker) {
        locker = new Locker({ adapter, retrySettings: { retryDelay, retryTimes: 1_000_000 } });
        lockers.set(retryDelay, locker);
      }
      const lock = await locker.lock(key, ttl).acquire();
      return () => lock.release({ throwOnFail: true });
    },
    async close() {
      await ready;
      await adapter.close();
      await quit();
    },
  };
}

const locco: Library = {
  name: "locco (this)",
  open(url) {
    const client = connect(url);
    return loccoContender(new IoRedisAdapter({ client }), Promise.resolve(), () => client.quit());
  },
};

/** The name of locco over node-redis in the tables (`--client node-redis`). */
export const LOCCO_NODE_REDIS = "locco (this, node-redis)";

const loccoNodeRedis: Library = {
  name: LOCCO_NODE_REDIS,
  open(url) {
    const client = createClient({ url });
    client.on("error", () => {});
    return loccoContender(new NodeRedisAdapter({ client }), client.connect(), () => client.close());
  },
};

interface Locco010 {
  Locker: new (options: unknown) => {
    lock(key: string, ttl: number): { acquire(): Promise<{ release(): Promise<void> }> };
  };
  IoRedisAdapter: new (options: { client: unknown }) => unknown;
}

// 0.1.0's ESM build does not load in Node: use its CJS build.
const locco010Module = createRequire(import.meta.url)("locco010") as Locco010;

const locco010: Library = {
  name: "locco 0.1.0",
  open(url) {
    const client = connect(url);
    const adapter = new locco010Module.IoRedisAdapter({ client });
    return {
      async acquire(key, ttl, retryDelay) {
        const locker = new locco010Module.Locker({
          adapter,
          retrySettings: { retryDelay, retryTimes: 1_000_000 },
        });
        const lock = await locker.lock(key, ttl).acquire();
        return () => lock.release();
      },
      close: async () => void await client.quit(),
    };
  },
};

const redlock: Library = {
  name: "@sesamecare-oss/redlock",
  open(url) {
    const client = connect(url);
    const instances = new Map<number, Redlock>();
    return {
      async acquire(key, ttl, retryDelay) {
        let instance = instances.get(retryDelay);
        if (!instance) {
          instance = new Redlock([client], { retryCount: 1_000_000, retryDelay, retryJitter: 0 });
          instances.set(retryDelay, instance);
        }
        const lock = await instance.acquire([key], ttl);
        return () => lock.release();
      },
      close: async () => void await client.quit(),
    };
  },
};

const semaphore: Library = {
  name: "redis-semaphore Mutex",
  open(url) {
    const client = connect(url);
    return {
      async acquire(key, ttl, retryDelay) {
        const mutex = new Mutex(client, key, {
          lockTimeout: ttl,
          acquireTimeout: 600_000,
          retryInterval: retryDelay,
          refreshInterval: 0,
        });
        await mutex.acquire();
        return () => mutex.release();
      },
      close: async () => void await client.quit(),
    };
  },
};

/**
 * redlock-universal's single-instance lock (`createLock`, default settings),
 * retrying with its own `retryDelay` loop. One lock object per key and retry
 * delay, reused as its README shows: a fresh one pings Redis for its health
 * check before its first acquire.
 */
function universalLibrary(
  name: string,
  connectAdapter: (url: string) => {
    adapter: UniversalAdapter;
    ready: Promise<unknown>;
    quit(): Promise<unknown>;
  },
): Library {
  return {
    name,
    open(url) {
      const { adapter, ready, quit } = connectAdapter(url);
      const locks = new Map<string, ReturnType<typeof createLock>>();
      return {
        async acquire(key, ttl, retryDelay) {
          await ready;
          const id = `${retryDelay}|${ttl}|${key}`;
          let lock = locks.get(id);
          if (!lock) {
            lock = createLock({ adapter, key, ttl, retryDelay, retryAttempts: 1_000_000 });
            locks.set(id, lock);
          }
          const handle: LockHandle = await lock.acquire();
          return () => lock.release(handle);
        },
        async close() {
          await ready;
          await quit();
        },
      };
    },
  };
}

const universal = universalLibrary("redlock-universal", (url) => {
  const client = connect(url);
  return {
    adapter: new UniversalIoredisAdapter(client),
    ready: Promise.resolve(),
    quit: () => client.quit(),
  };
});

const universalNodeRedis = universalLibrary("redlock-universal (node-redis)", (url) => {
  const client = createClient({ url });
  client.on("error", () => {});
  const ready = client.connect();
  return {
    adapter: new UniversalNodeRedisAdapter(client),
    ready,
    quit: () => client.close(),
  };
});

/** Every contender, the floor first. */
export const LIBRARIES: Library[] = [
  floor,
  scriptFloor,
  locco,
  loccoNodeRedis,
  locco010,
  redlock,
  universal,
  universalNodeRedis,
  semaphore,
];
