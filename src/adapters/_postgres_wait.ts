// Copyright 2026 the locco authors. MIT license.
// How waiters of one PostgresAdapter wait: first come first served per key
// (the in-memory adapter's queue), woken by the NOTIFY a release sends, which
// arrives on the one listening connection the adapter opens on first wait.
//
// A notification is only ever a hint. Every pause ends after the waiter's
// retry delay (maxWaitMs) whatever happens, so a lost notification, an
// expired lock (which notifies nobody) or a lost listening connection only
// delays a waiter by that much. A notification that arrives while the head
// waiter is not pausing (its attempt is in flight) is remembered: its next
// wait returns at once. When LISTEN takes effect again after a loss,
// releases in between were missed, so every head waiter asks again.

import { describe } from "../_validate.ts";
import { LockCreateError } from "../errors.ts";
import { monotonicNow } from "../_timers.ts";
import { type Waiter, WaitQueue } from "./_wait_queue.ts";
import type { ListenHandlers, Listening } from "./_postgres_client.ts";
import { releasePayload, toHex } from "./_postgres_sql.ts";

interface PgWaiter extends Waiter {
  /** The payload a release of this waiter's key sends. */
  readonly payload: string;
}

type Listen = (
  channel: string,
  handlers: ListenHandlers,
  signal: AbortSignal,
) => Promise<Listening>;

// A LISTEN that failed is not tried again for this long.
const LISTEN_RETRY_MS = 1000;
// Bookkeeping of attempts and releases is swept of entries this old.
const FORGET_AFTER_MS = 10_000;
const SWEEP_SIZE = 1024;

/** The waiting side of one adapter: its queue, its listening connection, its hints. */
export class PostgresWaiting {
  #queue: WaitQueue<PgWaiter> = new WaitQueue((waiter, wasHead) => {
    // A head that gave up (rather than took the key) lets the next one try now.
    if (wasHead && !this.#took.has(waiter)) this.#wakeHead(waiter.key);
  });
  #took: WeakSet<PgWaiter> = new WeakSet();
  #listen: Listen | undefined;
  #channel: string;
  #listening: Listening | undefined;
  #starting: Promise<void> | undefined;
  #generation = 0;
  #retryAt = -Infinity;
  #listenAt = -Infinity;
  #releasedAt: Map<string, number> = new Map();
  #attemptAt: Map<string, number> = new Map();
  #sweepAt = SWEEP_SIZE;
  #closed = false;
  #closing: AbortController = new AbortController();

  constructor(listen: Listen | undefined, channel: string) {
    this.#listen = listen;
    this.#channel = channel;
  }

  /** Refuses an attempt on a key that an earlier waiter of this adapter waits for. */
  admit(key: string, uniqueValue: string): void {
    const head = this.#queue.head(key);
    if (head !== undefined && head.uniqueValue !== uniqueValue) {
      this.#queue.wake(head);
      throw new LockCreateError(`Key ${describe(key)} is promised to an earlier waiter`);
    }
  }

  /** An attempt took the key: its waiter, if any, leaves the queue. */
  took(key: string, uniqueValue: string): void {
    const waiter = this.#queue.find(key, uniqueValue);
    if (waiter === undefined) return;
    this.#took.add(waiter);
    this.#queue.leave(waiter);
  }

  /** The attempt sent at `sentAt` found the key held. */
  contended(key: string, uniqueValue: string, sentAt: number): void {
    this.#attemptAt.set(`${key}\n${uniqueValue}`, sentAt);
    this.#sweep();
  }

  /** Waits, first come first served, for a release of `key` or `maxWaitMs`. */
  async wait(
    key: string,
    uniqueValue: string,
    maxWaitMs: number,
    signal: AbortSignal,
  ): Promise<void> {
    if (signal.aborted) return;
    const waiter = this.#queue.join(
      key,
      signal,
      () => ({ key, uniqueValue, signal, payload: releasePayload(toHex(key)) }),
    );
    this.#startListening();
    const attempt = `${key}\n${uniqueValue}`;
    const sentAt = this.#attemptAt.get(attempt);
    this.#attemptAt.delete(attempt);
    if (sentAt !== undefined && this.#queue.head(key) === waiter) {
      const releasedAt = this.#releasedAt.get(waiter.payload) ?? -Infinity;
      if (releasedAt >= sentAt || this.#listenAt >= sentAt) return;
    }
    await this.#queue.pause(waiter, maxWaitMs);
  }

  /**
   * Stops listening and gives the connection back; waiters go on by polling.
   * A listen still under way (a connection being checked out, a LISTEN in
   * flight, maybe to an unreachable server) is not awaited: it is abandoned,
   * and what it took is given back when it settles.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#closing.abort();
    this.#wakeAll();
    const listening = this.#listening;
    this.#listening = undefined;
    await listening?.close();
  }

  #startListening(): void {
    const listen = this.#listen;
    if (listen === undefined || this.#closed) return;
    if (this.#listening !== undefined || this.#starting !== undefined) return;
    const now = monotonicNow();
    if (now < this.#retryAt) return;
    this.#retryAt = now + LISTEN_RETRY_MS;
    const generation = ++this.#generation;
    let lost = false;
    const handlers: ListenHandlers = {
      notify: (payload) => {
        if (generation !== this.#generation) return;
        this.#releasedAt.set(payload, monotonicNow());
        this.#sweep();
        for (const waiter of this.#queue.all()) {
          if (waiter.payload === payload && this.#queue.head(waiter.key) === waiter) {
            this.#queue.wake(waiter);
          }
        }
      },
      listening: () => {
        if (generation !== this.#generation) return;
        this.#listenAt = monotonicNow();
        this.#wakeAll();
      },
      lost: () => {
        lost = true;
        if (generation !== this.#generation) return;
        this.#listening = undefined;
        this.#wakeAll();
      },
    };
    const starting = listen(this.#channel, handlers, this.#closing.signal).then(
      async (listening) => {
        if (this.#closed || lost) await listening.close();
        else this.#listening = listening;
      },
      () => {},
    );
    this.#starting = starting.finally(() => {
      this.#starting = undefined;
    });
  }

  #wakeHead(key: string): void {
    const head = this.#queue.head(key);
    if (head !== undefined) this.#queue.wake(head);
  }

  #wakeAll(): void {
    for (const waiter of this.#queue.all()) {
      if (this.#queue.head(waiter.key) === waiter) this.#queue.wake(waiter);
    }
  }

  #sweep(): void {
    if (this.#releasedAt.size + this.#attemptAt.size < this.#sweepAt) return;
    const old = monotonicNow() - FORGET_AFTER_MS;
    for (const map of [this.#releasedAt, this.#attemptAt]) {
      for (const [entry, at] of map) if (at < old) map.delete(entry);
    }
    this.#sweepAt = Math.max(SWEEP_SIZE, (this.#releasedAt.size + this.#attemptAt.size) * 2);
  }
}
