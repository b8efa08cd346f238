// Copyright 2026 the locco authors. MIT license.
// Small async helpers for tests (no @std: it is JSR-only).

import { spawn } from "node:child_process";
import process from "node:process";
import type { ILockAdapter, LockIdentity, LockLease } from "@kontsedal/locco";

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

/**
 * Wraps an adapter, records every call with its time, and can make the next
 * calls of a method fail with a given error (a backend outage, say).
 */
export class RecordingAdapter {
  readonly calls: RecordedCall[] = [];
  #inner: ILockAdapter;
  #failures = new Map<string, unknown[]>();
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
    return run();
  }

  createLock(args: LockLease): Promise<void> {
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

/**
 * The command that runs a TypeScript file on the runtime running this test:
 * Deno, Bun, or Node (through tsx).
 */
export function runtimeCommand(script: string): { command: string; args: string[] } {
  const execPath = process.execPath;
  if ((globalThis as { Deno?: unknown }).Deno !== undefined && !("bun" in process.versions)) {
    return { command: execPath, args: ["run", "-A", script] };
  }
  if ("bun" in process.versions) return { command: execPath, args: [script] };
  return { command: execPath, args: ["--import", "tsx", script] };
}

/** Runs a TypeScript file in a child process; resolves with its exit code and output. */
export function runScript(
  script: string,
  { timeoutMs = 60_000, env = {} }: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  const { command, args } = runtimeCommand(script);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
