// Copyright 2026 the locco authors. MIT license.
// Small async helpers for tests (no @std: it is JSR-only).

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
