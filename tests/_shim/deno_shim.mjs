// Copyright 2026 the locco authors. MIT license.
// Preload that runs locco's Deno.test files on Node (`node --import ./deno_shim.mjs --test`)
// and Bun (`bun test --preload ./deno_shim.mjs`). It defines just the part of the Deno
// namespace the tests may use: Deno.test (all overloads, ignore, only,
// t.step) and Deno.env. Argument normalisation is @deno/shim-deno-test's; each definition
// is then handed to the runtime's own runner. Deno-only options (sanitizeOps,
// sanitizeResources, sanitizeExit, permissions) have no meaning there and are ignored.
// See scripts/test_npm.sh.

import { test as collect, testDefinitions } from "@deno/shim-deno-test";

const isBun = typeof globalThis.Bun !== "undefined";
const runner = isBun ? await import("bun:test") : await import("node:test");

/** Registers one normalised Deno test definition with the runtime's runner. */
function register(def) {
  const name = def.name;
  if (isBun) {
    const run = () => runWithInlineSteps(def.fn, name);
    if (def.ignore) runner.test.skip(name, run);
    else if (def.only) runner.test.only(name, run);
    else runner.test(name, run);
    return;
  }
  // node:test warns for every test given `only: false` without --test-only: set it only when true.
  const options = def.ignore ? { skip: true } : def.only ? { only: true } : {};
  runner.test(name, options, (t) => def.fn(nodeContext(t, name, undefined)));
}

/** Normalises the three `t.step()` overloads into `{ name, fn, ignore }`. */
function stepDefinition(nameOrDef, fn) {
  if (typeof nameOrDef === "string") {
    if (typeof fn !== "function") throw new TypeError("Expected a step function");
    return { name: nameOrDef, fn, ignore: false };
  }
  if (typeof nameOrDef === "function") {
    if (!nameOrDef.name) throw new TypeError("The step function must have a name");
    return { name: nameOrDef.name, fn: nameOrDef, ignore: false };
  }
  if (nameOrDef && typeof nameOrDef === "object" && typeof nameOrDef.fn === "function") {
    return {
      name: nameOrDef.name ?? nameOrDef.fn.name,
      fn: nameOrDef.fn,
      ignore: !!nameOrDef.ignore,
    };
  }
  throw new TypeError("Unknown step overload");
}

/** A Deno.TestContext over a node:test context: steps become subtests, reported one by one. */
function nodeContext(t, name, parent) {
  const ctx = {
    name,
    origin: "",
    parent,
    async step(nameOrDef, fn) {
      const step = stepDefinition(nameOrDef, fn);
      let passed = false;
      try {
        await t.test(step.name, step.ignore ? { skip: true } : {}, async (st) => {
          await step.fn(nodeContext(st, step.name, ctx));
          passed = true;
        });
      } catch {
        passed = false;
      }
      return passed;
    },
  };
  return ctx;
}

/** Bun has no nested tests: steps run inline; a failed step fails its parent at the end, as in Deno. */
async function runWithInlineSteps(fn, name) {
  const failures = [];
  await fn(bunContext(name, undefined, failures));
  if (failures.length > 0) {
    throw new AggregateError(
      failures.map((f) => f.error),
      `${failures.length} step(s) failed: ${
        failures.map((f) => JSON.stringify(f.name)).join(", ")
      }`,
    );
  }
}

function bunContext(name, parent, failures) {
  const ctx = {
    name,
    origin: "",
    parent,
    async step(nameOrDef, fn) {
      const step = stepDefinition(nameOrDef, fn);
      if (step.ignore) return false;
      const nested = [];
      try {
        await step.fn(bunContext(step.name, ctx, nested));
        if (nested.length > 0) throw nested[0].error;
        return true;
      } catch (error) {
        process.stderr.write(
          `step ${JSON.stringify(step.name)} of ${JSON.stringify(name)} failed\n`,
        );
        failures.push({ name: step.name, error });
        return false;
      }
    },
  };
  return ctx;
}

/** Deno.test: validation and overloads from @deno/shim-deno-test, registration here. */
function denoTest(...args) {
  collect(...args);
  register(testDefinitions.pop());
}
denoTest.ignore = (...args) => {
  collect.ignore(...args);
  register(testDefinitions.pop());
};
denoTest.only = (...args) => {
  collect.only(...args);
  register(testDefinitions.pop());
};

const env = {
  get: (key) => process.env[key],
  set: (key, value) => {
    process.env[key] = String(value);
  },
  has: (key) => Object.hasOwn(process.env, key),
  delete: (key) => {
    delete process.env[key];
  },
  toObject: () => ({ ...process.env }),
};

if (globalThis.Deno === undefined) {
  Object.defineProperty(globalThis, "Deno", {
    value: Object.freeze({ test: denoTest, env: Object.freeze(env) }),
    configurable: true,
    writable: false,
    enumerable: false,
  });
}
