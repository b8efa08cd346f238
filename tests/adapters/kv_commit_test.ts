// Copyright 2026 the locco authors. MIT license.
// DenoKvAdapter's handling of what a KV call can answer, on a scripted
// handle: a commit that loses a race reads again, a store that stays
// changed is contention only after 8 attempts, "database is locked" (a
// local SQLite file busy with another process) is retried for about 2 s and
// then passed through, and `expireIn` is garbage collection only, set long
// after the lease.

import assert from "node:assert/strict";
import { LockCreateError, LockExtendError, LockReleaseError } from "@kontsedal/locco";
import { DenoKvAdapter, type DenoKvLike, type DenoKvLikeAtomic } from "@kontsedal/locco/kv";

interface Entry {
  value: unknown;
  versionstamp: string | null;
}

/** A one-key store whose commits follow a script; it records every call. */
class ScriptedKv implements DenoKvLike {
  entry: Entry = { value: null, versionstamp: null };
  version = 1;
  calls: string[] = [];
  sets: { expireIn?: number | undefined }[] = [];
  /** Answers for the next get() calls, in order: "busy" rejects, anything else reads. */
  getScript: string[] = [];
  /** Answers for the next commit() calls: "busy" rejects, "lose" is a failed check, "apply" applies. */
  commitScript: string[] = [];

  get(): Promise<Entry> {
    this.calls.push("get");
    if (this.getScript.shift() === "busy") {
      return Promise.reject(new TypeError("database is locked"));
    }
    return Promise.resolve({ ...this.entry });
  }

  atomic(): DenoKvLikeAtomic {
    let write: (() => void) | undefined;
    let expected: string | null | undefined;
    const operation: DenoKvLikeAtomic = {
      check: (check) => ((expected = check.versionstamp), operation),
      set: (_key, value, options) => {
        this.sets.push({ expireIn: options?.expireIn });
        write = () => (this.entry = { value, versionstamp: this.stamp() });
        return operation;
      },
      delete: () => {
        write = () => (this.entry = { value: null, versionstamp: null });
        return operation;
      },
      commit: () => {
        this.calls.push("commit");
        const step = this.commitScript.shift() ?? "apply";
        if (step === "busy") return Promise.reject(new TypeError("database is locked"));
        if (step === "lose" || expected !== this.entry.versionstamp) {
          return Promise.resolve({ ok: false as const });
        }
        write!();
        return Promise.resolve({ ok: true as const, versionstamp: this.stamp(0) });
      },
    };
    return operation;
  }

  stamp(advance = 1): string {
    this.version += advance;
    return this.version.toString(16).padStart(16, "0") + "0000";
  }
}

const LEASE = { key: "k", uniqueValue: "a", ttl: 1000 };

Deno.test("DenoKvAdapter.createLock() reads again after a commit that lost a race, and succeeds", async () => {
  const kv = new ScriptedKv();
  kv.commitScript = ["lose", "lose"];
  const adapter = new DenoKvAdapter({ kv });
  const { fence } = await adapter.createLock(LEASE);
  assert.deepEqual(kv.calls, ["get", "commit", "get", "commit", "get", "commit"]);
  assert.equal(fence, kv.version);
});

Deno.test("DenoKvAdapter.createLock() reports contention after 8 lost races in a row, and only then", async () => {
  const kv = new ScriptedKv();
  kv.commitScript = Array(8).fill("lose");
  const adapter = new DenoKvAdapter({ kv });
  await assert.rejects(adapter.createLock(LEASE), LockCreateError);
  assert.equal(kv.calls.filter((call) => call === "commit").length, 8);
  await adapter.createLock(LEASE); // the 9th commit applies
});

Deno.test("DenoKvAdapter.releaseLock() and extendLock() read again after a lost race and never re-create the lock", async () => {
  const kv = new ScriptedKv();
  const adapter = new DenoKvAdapter({ kv });
  await adapter.createLock(LEASE);
  kv.commitScript = ["lose"];
  await adapter.extendLock({ ...LEASE, ttl: 5000 });
  kv.commitScript = ["lose"];
  await adapter.releaseLock(LEASE);
  assert.equal(kv.entry.versionstamp, null);
  const sets = kv.sets.length;
  await assert.rejects(adapter.extendLock(LEASE), LockExtendError);
  await assert.rejects(adapter.releaseLock(LEASE), LockReleaseError);
  assert.equal(kv.sets.length, sets);
  assert.equal(kv.entry.versionstamp, null);
});

Deno.test('DenoKvAdapter retries "database is locked" and passes it through after about 2 s', async () => {
  const kv = new ScriptedKv();
  kv.getScript = ["busy", "busy"];
  kv.commitScript = ["busy", "busy", "apply"];
  const adapter = new DenoKvAdapter({ kv });
  await adapter.createLock(LEASE);
  assert.deepEqual(kv.calls, ["get", "get", "get", "commit", "commit", "commit"]);

  const busy = new ScriptedKv();
  busy.getScript = Array(10_000).fill("busy");
  const started = Date.now();
  await assert.rejects(
    new DenoKvAdapter({ kv: busy }).isValidLock(LEASE),
    (error: unknown) => error instanceof TypeError && /database is locked/.test(error.message),
  );
  const waited = Date.now() - started;
  assert.ok(waited >= 1900, `gave up after ${waited} ms`);
});

Deno.test("DenoKvAdapter sets expireIn to ttl + clockDriftMargin + 60 s: garbage collection only", async () => {
  const kv = new ScriptedKv();
  const adapter = new DenoKvAdapter({ kv, clockDriftMargin: 250 });
  await adapter.createLock(LEASE);
  await adapter.extendLock({ ...LEASE, ttl: 3000 });
  assert.deepEqual(kv.sets.map((set) => set.expireIn), [1000 + 250 + 60_000, 3000 + 250 + 60_000]);
});

Deno.test("DenoKvAdapter gives no fence, rather than a wrong one, when the commit version is not a safe integer", async () => {
  const kv = new ScriptedKv();
  kv.version = 2 ** 60;
  const adapter = new DenoKvAdapter({ kv });
  const grant = await adapter.createLock(LEASE);
  assert.equal(grant.fence, undefined);
  await adapter.releaseLock(LEASE);
  kv.version = Number.MAX_SAFE_INTEGER - 10;
  const { fence } = await adapter.createLock(LEASE);
  assert.equal(fence, kv.version);
  assert.ok(fence! > Number.MAX_SAFE_INTEGER - 10 && fence! <= Number.MAX_SAFE_INTEGER);
});

Deno.test("DenoKvAdapter polls by default on a handle that is not Deno's own Deno.Kv, even one with watch()", async () => {
  const kv = new ScriptedKv();
  let watched = 0;
  const withWatch = Object.assign(kv, {
    watch: () => {
      watched++;
      return new ReadableStream();
    },
  });
  const adapter = new DenoKvAdapter({ kv: withWatch });
  const session = new AbortController();
  await adapter.waitForUnlock(LEASE, 20, session.signal);
  session.abort();
  assert.equal(watched, 0);
  const watching = new DenoKvAdapter({ kv: withWatch, waitStrategy: "watch" });
  const second = new AbortController();
  await watching.waitForUnlock(LEASE, 20, second.signal);
  second.abort();
  await watching.close();
  assert.equal(watched, 1);
});
