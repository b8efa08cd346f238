// Copyright 2026 the locco authors. MIT license.
// Checks on the packed npm package, shared by smoke.mjs (ESM) and smoke.cjs (CJS) and run
// on Node and Bun by scripts/npm_smoke.sh. `own` holds every exported subpath loaded in the
// caller's format, `other` the same subpaths loaded in the other format.

import assert from "node:assert/strict";

const ROOT_NAMES = [
  "Locker",
  "Lock",
  "InMemoryAdapter",
  "isLoccoError",
  "LoccoError",
  "LockCreateError",
  "LockReleaseError",
  "LockExtendError",
  "RetryError",
  "ValidationError",
];

function ok(label, message) {
  process.stdout.write(`ok - [${label}] ${message}\n`);
}

/**
 * @param {{ label: string, own: Map<string, Record<string, unknown>>, other: { label: string, own: Map<string, Record<string, unknown>> } }} args
 */
export async function runChecks({ label, own, other }) {
  const root = own.get(".");
  assert.ok(root, 'the "." export is missing');
  for (const name of ROOT_NAMES) assert.ok(root[name], `"." does not export ${name}`);
  assert.equal(root.default, undefined, "no default export");
  ok(label, `"." exports ${ROOT_NAMES.length} core names and no default`);

  for (const [sub, mod] of own) {
    const names = Object.keys(mod).filter((n) => n !== "__esModule" && n !== "default");
    assert.ok(names.length > 0, `${sub} exports nothing`);
    if (sub === ".") continue;
    for (const name of names) {
      if (name in root) assert.equal(mod[name], root[name], `${sub} ${name} !== "." ${name}`);
    }
    ok(label, `${sub} loads (${names.join(", ")}); shared names are identical to "."`);
  }

  const { InMemoryAdapter, Locker, isLoccoError, LockCreateError, RetryError } = root;
  const MemoryAdapter = own.get("./memory")?.InMemoryAdapter ?? InMemoryAdapter;

  const locker = new Locker({
    adapter: new MemoryAdapter(),
    retrySettings: { retryDelay: 10, retryTimes: 2 },
  });
  const lock = await locker.lock("smoke:1", 1000).acquire();
  assert.equal(await lock.isLocked(), true);
  await lock.extend(2000);
  await lock.release({ throwOnFail: true });
  assert.equal(await lock.isLocked(), false);
  assert.equal(typeof lock[Symbol.asyncDispose], "function");
  ok(label, "acquire, extend, release on InMemoryAdapter");

  {
    // The 0.1.0 README's in-memory example, verbatim apart from the assertion.
    const locker = new Locker({
      adapter: new InMemoryAdapter(),
      retrySettings: { retryDelay: 50, retryTimes: 5 },
    });
    const lock = await locker.lock("resource:1", 1000).acquire();
    // ...
    await lock.release();
    assert.equal(await lock.isLocked(), false);
    const result = await locker.lock("user:123", 3000).acquire(async (lock) => {
      await lock.extend(2000);
      return { success: true };
    });
    assert.deepEqual(result, { success: true });
    ok(label, "0.1.0 README examples on InMemoryAdapter (manual release, callback auto-release)");
  }

  const adapter = new MemoryAdapter();
  await adapter.createLock({ key: "smoke:2", uniqueValue: "a", ttl: 1000 });
  const createError = await adapter.createLock({ key: "smoke:2", uniqueValue: "b", ttl: 1000 })
    .then(
      () => assert.fail("createLock on a held key resolved"),
      (error) => error,
    );
  assert.ok(createError instanceof LockCreateError, "adapter entry error is not the root's class");
  assert.ok(isLoccoError(createError, "LOCK_CREATE_FAILED"));
  const held = new Locker({ adapter, retrySettings: { retryDelay: 5, retryTimes: 1 } });
  const retryError = await held.lock("smoke:2", 1000).acquire().then(
    () => assert.fail("acquire on a held key resolved"),
    (error) => error,
  );
  assert.ok(retryError instanceof RetryError);
  assert.ok(isLoccoError(retryError, "RETRY_FAILED"));
  ok(label, "adapter entry errors are instances of the root's classes");

  const otherRoot = other.own.get(".");
  assert.notEqual(otherRoot.LoccoError, root.LoccoError, "both builds should be loaded");
  const validation = catchSync(() => locker.lock("", 1000));
  const otherValidation = catchSync(() =>
    new otherRoot.Locker({
      adapter: new otherRoot.InMemoryAdapter(),
      retrySettings: { retryDelay: 10, retryTimes: 2 },
    }).lock("k", -1)
  );
  assert.ok(otherRoot.isLoccoError(validation, "VALIDATION_FAILED"));
  assert.ok(otherRoot.isLoccoError(createError, "LOCK_CREATE_FAILED"));
  assert.ok(isLoccoError(otherValidation, "VALIDATION_FAILED"));
  assert.equal(isLoccoError(otherValidation, "RETRY_FAILED"), false);
  assert.equal(isLoccoError(new Error("plain")), false);
  ok(
    label,
    `isLoccoError recognises errors across the ${label} and ${other.label} builds ` +
      `(instanceof across them: ${otherValidation instanceof root.ValidationError})`,
  );
}

function catchSync(fn) {
  try {
    fn();
  } catch (error) {
    return error;
  }
  assert.fail("expected a synchronous throw");
}
