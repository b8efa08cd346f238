// Copyright 2026 the locco authors. MIT license.
// Small async helpers for tests (no @std: it is JSR-only).

import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { ILockAdapter, LockGrant, LockIdentity, LockLease } from "@kontsedal/locco";

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A key no other test uses. */
export function uniqueKey(prefix = "locco-test"): string {
  return `${prefix}:${crypto.randomUUID()}`;
}

/** A clock that only moves when the test says so. */
export class ManualClock {
  #now: number;
  constructor(start = 1000) {
    this.#now = start;
  }
  /** The current time in milliseconds. */
  now = (): number => this.#now;
  /** Moves time forward by `ms`. */
  advance(ms: number): void {
    this.#now += ms;
  }
}

/** One call an {@linkcode RecordingAdapter} saw. */
export interface RecordedCall {
  method: "createLock" | "releaseLock" | "extendLock" | "isValidLock";
  args: Record<string, unknown>;
  at: number;
}

/** A call held back by {@linkcode RecordingAdapter.hold}. */
export interface HeldCall {
  /** Resolves once the call has been made (and, for "reply", has reached the store). */
  reached: Promise<void>;
  /** Lets the call go on: sends it to the store ("request") or delivers its reply ("reply"). */
  resume(): void;
}

/**
 * Wraps an adapter, records every call with its time, can make the next
 * calls of a method fail with a given error (a backend outage, say), and can
 * hold a call back to reorder it against others.
 */
export class RecordingAdapter {
  readonly calls: RecordedCall[] = [];
  #inner: ILockAdapter;
  #failures = new Map<string, unknown[]>();
  #holds = new Map<
    string,
    { stage: "request" | "reply"; reached: () => void; gate: Promise<void> }[]
  >();
  #started = performance.now();

  constructor(inner: ILockAdapter) {
    this.#inner = inner;
  }

  /** Makes the next call of `method` reject with `error`. */
  failNext(method: RecordedCall["method"], error: unknown): void {
    const list = this.#failures.get(method) ?? [];
    list.push(error);
    this.#failures.set(method, list);
  }

  /**
   * Holds the next call of `method` until `resume()`: before it reaches the
   * store ("request": it is applied late), or after the store applied it
   * ("reply": its answer arrives late).
   */
  hold(method: RecordedCall["method"], stage: "request" | "reply"): HeldCall {
    let reached!: () => void;
    let resume!: () => void;
    const reachedPromise = new Promise<void>((resolve) => (reached = resolve));
    const gate = new Promise<void>((resolve) => (resume = resolve));
    const list = this.#holds.get(method) ?? [];
    list.push({ stage, reached, gate });
    this.#holds.set(method, list);
    return { reached: reachedPromise, resume };
  }

  count(method: RecordedCall["method"]): number {
    return this.calls.filter((c) => c.method === method).length;
  }

  #record<T>(method: RecordedCall["method"], args: object, run: () => Promise<T>): Promise<T> {
    this.calls.push({
      method,
      args: { ...args } as Record<string, unknown>,
      at: performance.now() - this.#started,
    });
    const failure = this.#failures.get(method)?.shift();
    if (failure !== undefined) return Promise.reject(failure);
    const hold = this.#holds.get(method)?.shift();
    if (hold === undefined) return run();
    if (hold.stage === "request") {
      hold.reached();
      return hold.gate.then(run);
    }
    const reply = run();
    return reply.then(
      async (value) => {
        hold.reached();
        await hold.gate;
        return value;
      },
      async (error) => {
        hold.reached();
        await hold.gate;
        throw error;
      },
    );
  }

  createLock(args: LockLease): Promise<void | LockGrant> {
    return this.#record("createLock", args, () => this.#inner.createLock(args));
  }
  releaseLock(args: LockIdentity): Promise<void> {
    return this.#record("releaseLock", args, () => this.#inner.releaseLock(args));
  }
  extendLock(args: LockLease): Promise<void> {
    return this.#record("extendLock", args, () => this.#inner.extendLock(args));
  }
  isValidLock(args: LockIdentity): Promise<boolean> {
    return this.#record("isValidLock", args, () => this.#inner.isValidLock(args));
  }
}

const DENO_CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));

/**
 * The command that runs a TypeScript file on the runtime running this test:
 * Deno (with the repository's import map), Bun, or Node (through tsx).
 * Runtimes are told apart by `process.versions`, since under Node and Bun the
 * test shim defines a `globalThis.Deno` of its own.
 */
export function runtimeCommand(
  script: string,
  args: string[] = [],
): { command: string; args: string[] } {
  const versions = process.versions as Record<string, string | undefined>;
  if (versions.bun !== undefined) return { command: process.execPath, args: [script, ...args] };
  if (versions.deno !== undefined) {
    return {
      command: process.execPath,
      args: ["run", "-A", `--config=${DENO_CONFIG}`, script, ...args],
    };
  }
  return { command: process.execPath, args: ["--import", "tsx", script, ...args] };
}

/** What {@linkcode runScript} resolves to. */
export interface ScriptResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Runs a TypeScript file in a child process on the current runtime; SIGKILLs it after `timeoutMs`. */
export function runScript(
  script: string,
  { args = [], timeoutMs = 60_000, env = {} }: {
    args?: string[];
    timeoutMs?: number;
    env?: Record<string, string>;
  } = {},
): Promise<ScriptResult> {
  const { command, args: argv } = runtimeCommand(script, args);
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
