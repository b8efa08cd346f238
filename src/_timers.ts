// Copyright 2026 the locco authors. MIT license.
// Timers that behave the same on Deno, Node and Bun.

/** Lets the process exit while `id` is pending (Node/Bun `.unref()`, Deno `unrefTimer`). */
export function unrefTimer(id: ReturnType<typeof setTimeout>): void {
  const handle = id as unknown as { unref?: () => void };
  if (typeof handle?.unref === "function") {
    handle.unref();
    return;
  }
  const deno = (globalThis as { Deno?: { unrefTimer?: (id: number) => void } }).Deno;
  deno?.unrefTimer?.(id as unknown as number);
}

/**
 * Resolves after `ms` milliseconds, or rejects with `signal.reason` as soon as
 * `signal` aborts. The timer is ref'd on purpose: a caller awaiting a retry
 * sleep must keep the process alive.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(id);
      reject(signal?.reason);
    };
    const id = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** A monotonic clock in milliseconds, unaffected by wall-clock changes. */
export function monotonicNow(): number {
  return performance.now();
}
