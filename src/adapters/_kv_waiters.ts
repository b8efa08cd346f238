// Copyright 2026 the locco authors. MIT license.
// The waiters of one DenoKvAdapter: a FIFO per key (first come first served
// among this adapter's waiters), woken by a `kv.watch()` of the key's entry
// when a release or an expiry frees it, and by this adapter's own releases.
// Whatever happens to the watch, a waiter pauses at most its `maxWaitMs`: it
// then asks the store again (the bounded-staleness rule).

import { MAX_TIMER_MS } from "../_validate.ts";
import { type Waiter, WaitQueue } from "./_wait_queue.ts";
import type { KvKeyPart, LockRecord } from "./_kv_record.ts";

/** One entry as a watch reports it. */
export interface WatchedEntry {
  value: unknown;
  versionstamp: string | null;
}

/** Starts a watch of one KV key: the `kv.watch([key])` stream. */
export type StartWatch = (key: KvKeyPart[]) => ReadableStream<readonly WatchedEntry[]>;

interface KvWaiter extends Waiter {
  /** The state sequence this waiter was last let go on while the key looked free. */
  seen: number;
  /** The key's wake count when this waiter last started an attempt (its pause ended). */
  wakes: number;
}

/** What the watch of a key last reported. */
interface KeyState {
  /** Grows with every report, so a waiter is let go once per free state. */
  seq: number;
  /** The lock record, `undefined` when the entry is gone, `null` before the first report. */
  record: LockRecord | undefined | null;
  reader: ReadableStreamDefaultReader<readonly WatchedEntry[]> | undefined;
  done: Promise<void>;
  stopped: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** The options the waiters need from their adapter. */
export interface KvWaitersOptions {
  /** Starts a watch, or `undefined` to poll only. */
  startWatch: StartWatch | undefined;
  /** The KV key of a lock key. */
  kvKey: (key: string) => KvKeyPart[];
  /** Decodes a watched value; throws for a value that is not a lock record. */
  decode: (value: unknown, key: string) => LockRecord | undefined;
  /** Whether a record leaves the key free to take now (expired plus the drift margin). */
  isFree: (record: LockRecord | undefined) => boolean;
  /** The wall clock, epoch ms. */
  now: () => number;
  /** The drift margin, ms. */
  margin: number;
}

/** The waiting side of DenoKvAdapter. */
export class KvWaiters {
  #options: KvWaitersOptions;
  #states: Map<string, KeyState> = new Map();
  // Per key, how often its head was woken (a release by this adapter, a
  // refused newcomer, the watch or the expiry timer), counted even when the
  // head was not pausing but making an attempt, whose read may predate the
  // release: its next wait then returns at once instead of missing it.
  #wakes: Map<string, number> = new Map();
  #stopping: Set<Promise<void>> = new Set();
  #closed = false;
  #queue: WaitQueue<KvWaiter> = new WaitQueue((waiter, wasHead) => {
    const { key } = waiter;
    if (this.#queue.head(key) === undefined) {
      this.#wakes.delete(key);
      const stopping = this.#stop(key);
      this.#stopping.add(stopping);
      void stopping.finally(() => this.#stopping.delete(stopping));
    } else if (wasHead && this.#knownFree(key)) {
      this.wakeHead(key);
    }
  });

  constructor(options: KvWaitersOptions) {
    this.#options = options;
  }

  /** The unique value of the first waiter of `key` in this adapter, if any. */
  headOf(key: string): string | undefined {
    return this.#queue.head(key)?.uniqueValue;
  }

  /**
   * Whether a `createLock` by `uniqueValue` must be refused because an earlier
   * waiter of this adapter is first in line; then the key looks free to the
   * caller, so that waiter is woken.
   */
  refuses(key: string, uniqueValue: string): boolean {
    const head = this.headOf(key);
    if (head === undefined || head === uniqueValue) return false;
    this.wakeHead(key);
    return true;
  }

  /**
   * Wakes the first waiter of `key`: ends its pause, or, when it is making an
   * attempt, lets its next wait return at once.
   */
  wakeHead(key: string): void {
    const head = this.#queue.head(key);
    if (head === undefined) return;
    this.#wakes.set(key, (this.#wakes.get(key) ?? 0) + 1);
    this.#queue.wake(head);
  }

  /** The waiter with this unique value took the key: it leaves the queue. */
  taken(key: string, uniqueValue: string): void {
    const waiter = this.#queue.find(key, uniqueValue);
    if (waiter !== undefined) this.#queue.leave(waiter);
  }

  /** Waits as `ILockAdapter.waitForUnlock` describes (arguments already checked). */
  wait(key: string, uniqueValue: string, maxWaitMs: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    const wakes = () => this.#wakes.get(key) ?? 0;
    const waiter = this.#queue.join(
      key,
      signal,
      () => ({ key, uniqueValue, signal, seen: -1, wakes: wakes() }),
    );
    const isHead = this.#queue.head(key) === waiter;
    if (isHead && waiter.wakes !== wakes()) {
      // Woken while its attempt was under way: that attempt may have read the
      // key before the release.
      waiter.wakes = wakes();
      return Promise.resolve();
    }
    const state = this.#watch(key);
    if (state !== undefined && isHead && state.seq !== waiter.seen && this.#knownFree(key)) {
      waiter.seen = state.seq;
      return Promise.resolve();
    }
    return this.#queue.pause(waiter, maxWaitMs).then(() => {
      waiter.wakes = wakes();
    });
  }

  /** Stops every watch and lets every waiter go; later waits poll. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const waiter of this.#queue.all()) this.#queue.wake(waiter);
    await Promise.all([...this.#states.keys()].map((key) => this.#stop(key)));
    await Promise.all(this.#stopping);
  }

  #knownFree(key: string): boolean {
    const state = this.#states.get(key);
    if (state === undefined || state.record === null) return false;
    return this.#options.isFree(state.record);
  }

  // The watch of `key`, started for its first waiter. A watch that failed or
  // ended is started again by the next wait; meanwhile waiters poll.
  #watch(key: string): KeyState | undefined {
    const { startWatch } = this.#options;
    if (startWatch === undefined || this.#closed) return undefined;
    const existing = this.#states.get(key);
    if (existing !== undefined) return existing;
    const state: KeyState = {
      seq: 0,
      record: null,
      reader: undefined,
      done: Promise.resolve(),
      stopped: false,
      timer: undefined,
    };
    try {
      state.reader = startWatch(this.#options.kvKey(key)).getReader();
    } catch {
      return undefined;
    }
    this.#states.set(key, state);
    state.done = this.#follow(key, state, state.reader);
    return state;
  }

  async #follow(
    key: string,
    state: KeyState,
    reader: ReadableStreamDefaultReader<readonly WatchedEntry[]>,
  ): Promise<void> {
    try {
      while (!state.stopped) {
        const { done, value } = await reader.read();
        if (done || state.stopped) break;
        let record: LockRecord | undefined;
        try {
          record = this.#options.decode(value?.[0]?.value, key);
        } catch {
          continue; // Not a lock record: nothing to wake for; the next attempt reports it.
        }
        state.seq++;
        state.record = record;
        this.#schedule(key, state, record);
        if (this.#options.isFree(record)) this.wakeHead(key);
      }
    } catch {
      // The watch failed: waiters fall back on their bounded pause.
    } finally {
      if (state.timer !== undefined) clearTimeout(state.timer);
      state.timer = undefined;
      if (this.#states.get(key) === state) this.#states.delete(key);
    }
  }

  // A held lock wakes nobody when it expires: a timer wakes the head when the
  // key becomes free to take (expiry plus the drift margin).
  #schedule(key: string, state: KeyState, record: LockRecord | undefined): void {
    if (state.timer !== undefined) clearTimeout(state.timer);
    state.timer = undefined;
    if (record === undefined) return;
    const wait = record.expiresAt + this.#options.margin - this.#options.now() + 1;
    if (wait <= 0 || wait > MAX_TIMER_MS) return;
    state.timer = setTimeout(() => {
      state.timer = undefined;
      state.seq++;
      this.wakeHead(key);
    }, wait);
  }

  async #stop(key: string): Promise<void> {
    const state = this.#states.get(key);
    if (state === undefined) return;
    this.#states.delete(key);
    state.stopped = true;
    if (state.timer !== undefined) clearTimeout(state.timer);
    state.timer = undefined;
    await state.reader?.cancel().catch(() => {});
    await state.done;
  }
}
