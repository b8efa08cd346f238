// Copyright 2026 the locco authors. MIT license.
// Waiting on Redis without polling: the waiters of one Redis adapter, its
// subscriber connection and hand-off channel, and the queue scripts.
//
// Every waiting acquire() enqueues itself in the key's queue in Redis, so the
// queue is first come first served across processes and within one. A
// release hands the key to the first entry whose adapter hears the news (see
// HANDOFF_LUA) and publishes that entry's token on the adapter's channel,
// which wakes that waiter at once. The one rule that keeps waiting
// trustworthy: a waiter never waits longer than its retry delay (`maxWaitMs`)
// before it asks Redis again, whatever it learned or missed, and no attempt
// is refused without asking Redis. What a waiter knows (the PTTL a failed
// attempt saw) only shortens its wait.

import type { LockIdentity } from "../adapter.ts";
import { monotonicNow, unrefTimer } from "../_timers.ts";
import type { RedisCore, Script } from "./_redis_core.ts";
import {
  ENQUEUE_SCRIPT,
  ENQUEUE_SCRIPT_SHA,
  HANDOFF_CHANNEL_PREFIX,
  LEAVE_SCRIPT,
  QUEUE_TTL_MS,
} from "./_redis_scripts.ts";
import { openSubscription, type RedisSubscription } from "./_redis_subscriber.ts";
import { type Waiter, WaitQueue } from "./_wait_queue.ts";
import { numberReply } from "./_redis_transport.ts";

// What an attempt passes when it does not wait: allocated once, as it is
// what every uncontended acquire passes.
const NOT_QUEUED: [entry: string, refresh: "1" | ""] = ["", ""];

// A waiter's attempts refresh its queue's expiry this often, in ms.
const QUEUE_REFRESH_MS = QUEUE_TTL_MS / 4;

const ENQUEUE: Script = Object.freeze({ source: ENQUEUE_SCRIPT, sha: ENQUEUE_SCRIPT_SHA });

// A departed waiter whose leave failed (Redis unreachable) tries again this
// often, this many times, so that its entry cannot delay a release for long.
const LEAVE_RETRY_MS = 1000;
const LEAVE_TRIES = 30;

/** A waiting acquire() of this adapter: one wait session on one key. */
interface RedisWaiter extends Waiter {
  /** Its session signal: every waiter of this adapter joins with one. */
  readonly signal: AbortSignal;
  /** Sent key of the lock (adapter prefix included, client prefix not). */
  readonly key: string;
  /** Its token on the adapter's channel. */
  readonly token: string;
  /** Its queue entry: "channel id\ntoken\nunique value". */
  readonly entry: string;
  /** Its entry may be in the Redis queue (so leaving must remove it). */
  inQueue: boolean;
  /** Its entry was enqueued while the subscriber listened (so a hand-off will be heard). */
  queued: boolean;
  /** The key was handed off to it: attempt at once. */
  handedOff: boolean;
  /** Monotonic time before which the last attempt saw the key held, 0 when unknown. */
  heldUntil: number;
  /** Leave attempts made after the session ended. */
  leaveTries: number;
  /** Monotonic time when it last made the queue live QUEUE_TTL_MS longer. */
  refreshedAt: number;
  /** Enqueue commands sent and not answered yet. */
  enqueuing: number;
}

/**
 * Another user of an adapter's channel (the waiters of its semaphores and
 * read-write locks), which gets the messages whose token is not a hand-off's.
 */
export interface ChannelListener {
  /** A message whose token no hand-off waiter has. */
  onMessage(token: string): void;
  /** Messages may have been missed, or the adapter closed: ask Redis again. */
  onLost(): void;
}

/** The hand-off machinery of one adapter. */
export class RedisHandoff {
  #core: RedisCore;
  #notify: boolean;
  #closed = false;
  #closing: Promise<void> | undefined;
  #subscriber: RedisSubscription | undefined;
  #subscribed: Promise<boolean> | undefined;
  /** Bumped whenever the subscriber may have missed messages. */
  #listenEpoch = 0;
  #channelId: string = crypto.randomUUID();
  #nextToken = 0;
  /** Waiters by token: those waiting, and departed ones whose entry may still be queued. */
  #tokens: Map<string, RedisWaiter> = new Map();
  #leaving: Set<Promise<void>> = new Set();
  #retries: Set<ReturnType<typeof setTimeout>> = new Set();
  #waiters: WaitQueue<RedisWaiter> = new WaitQueue((waiter) => this.#depart(waiter));
  #other: ChannelListener | undefined;

  constructor(core: RedisCore, notify: boolean) {
    this.#core = core;
    this.#notify = notify;
  }

  /** The channel hand-offs to this adapter's waiters are published on. */
  get channel(): string {
    return HANDOFF_CHANNEL_PREFIX + this.#channelId;
  }

  /** Routes the messages that are not hand-offs to `listener` (one only). */
  share(listener: ChannelListener): void {
    this.#other = listener;
  }

  /**
   * Subscribes the adapter's channel (once): resolves true when messages on
   * {@linkcode RedisHandoff.channel} will be heard, false when waiters must
   * poll (notifications off, no subscriber, closed, or subscribing failed).
   */
  listen(): Promise<boolean> {
    if (!this.#notify || this.#closed) return Promise.resolve(false);
    return this.#subscribe();
  }

  /** Whether PUBLISH counts every receiver: not on Redis Cluster, where it counts one node's. */
  get exactCounts(): "1" | "0" {
    return this.#core.cluster ? "0" : "1";
  }

  /**
   * The queue arguments of the acquire script for `key` and `uniqueValue`:
   * the entry of a waiting session whose entry may be queued, so that the
   * attempt takes it out of the queue, or puts it back when it was lost, and
   * whether the attempt should refresh the queue's expiry; `["", ""]` when
   * nobody of this adapter waits with that unique value.
   */
  queueArgs(key: string, uniqueValue: string): readonly [entry: string, refresh: "1" | ""] {
    const waiter = this.#waiters.find(key, uniqueValue);
    if (waiter === undefined || !waiter.inQueue || this.#closed) return NOT_QUEUED;
    const now = monotonicNow();
    if (now - waiter.refreshedAt < QUEUE_REFRESH_MS) return [waiter.entry, ""];
    waiter.refreshedAt = now;
    return [waiter.entry, "1"];
  }

  /**
   * An attempt of `uniqueValue` took `key`: its entry is out of the queue,
   * unless an enqueue is still on its way, which may run after the release
   * of the key and queue the entry again (then the session's end removes it).
   */
  took(key: string, uniqueValue: string): void {
    const waiter = this.#waiters.find(key, uniqueValue);
    if (waiter === undefined) return;
    waiter.inQueue = waiter.enqueuing > 0;
    waiter.queued = false;
    waiter.handedOff = false;
  }

  /**
   * An attempt whose reply just arrived saw `key` held for `pttl` more ms.
   * Counted from the reply, the expiry it gives is a little late rather
   * than early: an attempt made then finds the key free, not held for one
   * more millisecond (which would spend an attempt for nothing).
   */
  sawHeld(key: string, uniqueValue: string, pttl: number): void {
    const waiter = this.#waiters.find(key, uniqueValue);
    if (waiter !== undefined) waiter.heldUntil = pttl > 0 ? monotonicNow() + pttl : 0;
  }

  /** `waitForUnlock`, once its arguments are valid. */
  async wait(identity: LockIdentity, maxWaitMs: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const startedAt = monotonicNow();
    const key = this.#core.key(identity.key);
    const uniqueValue = identity.uniqueValue;
    const waiter = this.#waiters.join(
      key,
      signal,
      () => this.#makeWaiter(key, uniqueValue, signal),
    );
    if (waiter.handedOff) {
      waiter.handedOff = false;
      return;
    }
    let until = startedAt + maxWaitMs;
    if (this.#notify && !this.#closed && !waiter.queued) {
      let reply: number | undefined;
      let replied = false;
      let pausing = true;
      this.#enqueue(waiter).then((pttl) => {
        reply = pttl;
        replied = true;
        if (pausing) this.#waiters.wake(waiter);
      });
      await this.#waiters.pause(waiter, until - monotonicNow());
      pausing = false;
      if (!replied || reply === 0 || waiter.handedOff || signal.aborted) {
        waiter.handedOff = false;
        return;
      }
      if (reply !== undefined && reply > 0) waiter.heldUntil = monotonicNow() + reply;
    }
    // A lock that expires is announced by nobody: look again when it would.
    if (waiter.heldUntil > 0) until = Math.min(until, waiter.heldUntil + 1);
    waiter.heldUntil = 0;
    await this.#waiters.pause(waiter, until - monotonicNow());
    waiter.handedOff = false;
  }

  /**
   * Takes every waiter of this adapter out of the Redis queues, closes the
   * subscriber connection (if one was opened) and lets waiters poll from
   * then on.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#forgetListening();
    for (const timer of this.#retries) clearTimeout(timer);
    this.#retries.clear();
    for (const waiter of this.#tokens.values()) {
      if (waiter.inQueue) this.#leave(waiter);
    }
    while (this.#leaving.size > 0) await Promise.allSettled([...this.#leaving]);
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    this.#subscribed = undefined;
    if (subscriber === undefined) return;
    await subscriber.close();
  }

  #makeWaiter(key: string, uniqueValue: string, signal: AbortSignal): RedisWaiter {
    const token = (this.#nextToken++).toString(36);
    const waiter: RedisWaiter = {
      key,
      uniqueValue,
      signal,
      token,
      entry: `${this.#channelId}\n${token}\n${uniqueValue}`,
      inQueue: false,
      queued: false,
      handedOff: false,
      heldUntil: 0,
      leaveTries: 0,
      refreshedAt: 0,
      enqueuing: 0,
    };
    this.#tokens.set(token, waiter);
    return waiter;
  }

  // Subscribes (once), then enqueues the waiter. Resolves 0 when the key is
  // free or handed to the waiter (attempt now), the key's PTTL when the
  // waiter was queued (-1: no expiry), or undefined when it was not (no
  // notifications, or Redis failed: the next attempt reports that).
  async #enqueue(waiter: RedisWaiter): Promise<number | undefined> {
    if (!(await this.#subscribe())) return undefined;
    if (waiter.signal.aborted || this.#closed) return undefined;
    const epoch = this.#listenEpoch;
    waiter.inQueue = true;
    waiter.refreshedAt = monotonicNow();
    let reply: unknown;
    waiter.enqueuing++;
    try {
      reply = await this.#core.eval(ENQUEUE, [
        waiter.key,
        this.#core.companion(waiter.key, ":waiters"),
      ], [waiter.uniqueValue, QUEUE_TTL_MS, waiter.entry]);
    } catch {
      return undefined;
    } finally {
      waiter.enqueuing--;
    }
    const pttl = numberReply(reply);
    if (typeof pttl !== "number" || Number.isNaN(pttl)) return undefined;
    // The session ended while this enqueue was on its way (a NOSCRIPT
    // fallback can even run after the leave): leave again.
    if (pttl !== 0 && waiter.signal.aborted) this.#leave(waiter);
    if (pttl !== 0 && epoch === this.#listenEpoch) waiter.queued = true;
    return pttl;
  }

  // Subscribes once per adapter; resolves false when notifications are off.
  #subscribe(): Promise<boolean> {
    if (this.#subscribed !== undefined) return this.#subscribed;
    const subscriber = this.#subscriber ??= this.#openSubscriber();
    if (subscriber === undefined) return Promise.resolve(false);
    const subscribed: Promise<boolean> = subscriber.subscribe().then(
      (): boolean => !this.#closed && this.#subscribed === subscribed,
      () => {
        if (this.#subscribed === subscribed) this.#subscribed = undefined;
        return false;
      },
    );
    this.#subscribed = subscribed;
    return subscribed;
  }

  #openSubscriber(): RedisSubscription | undefined {
    try {
      return openSubscription(this.#core.transport, this.channel, {
        onMessage: (message) => this.#onHandoff(message),
        onLost: () => {
          // Closing the subscriber ourselves loses nothing: waiters poll.
          if (this.#closed) return;
          // Messages may have been missed: subscribe again, and have every
          // waiter ask Redis now and enqueue again.
          this.#subscribed = undefined;
          this.#forgetListening();
        },
        onEnd: () => void this.close(),
      });
    } catch {
      this.#notify = false;
      return undefined;
    }
  }

  #forgetListening(): void {
    this.#listenEpoch++;
    for (const waiter of this.#waiters.all()) {
      waiter.queued = false;
      waiter.heldUntil = 0;
      this.#waiters.wake(waiter);
    }
    this.#other?.onLost();
  }

  #onHandoff(token: string): void {
    const waiter = this.#tokens.get(token);
    if (waiter === undefined) {
      this.#other?.onMessage(token);
      return;
    }
    if (waiter.signal.aborted) {
      // It left, and its leave failed or is late: pass the key on now.
      if (waiter.inQueue || waiter.leaveTries > 0) this.#leave(waiter);
      return;
    }
    waiter.handedOff = true;
    waiter.queued = false;
    this.#waiters.wake(waiter);
  }

  // The session of `waiter` ended: its entry, if it may be queued, leaves.
  #depart(waiter: RedisWaiter): void {
    if (waiter.inQueue) this.#leave(waiter);
    else this.#tokens.delete(waiter.token);
  }

  // Runs the leave script (EVAL, so it is one command, written before a
  // QUIT the caller may send next), tracked so that close() waits for it.
  #leave(waiter: RedisWaiter): void {
    waiter.leaveTries++;
    const leaving: Promise<void> = this.#core.transport.eval(
      LEAVE_SCRIPT,
      [waiter.key, this.#core.companion(waiter.key, ":waiters")],
      [waiter.uniqueValue, waiter.entry, this.exactCounts],
    ).then(
      () => {
        waiter.inQueue = false;
        this.#tokens.delete(waiter.token);
      },
      () => {
        if (this.#closed || waiter.leaveTries >= LEAVE_TRIES) {
          this.#tokens.delete(waiter.token);
          return;
        }
        const timer = setTimeout(() => {
          this.#retries.delete(timer);
          this.#leave(waiter);
        }, LEAVE_RETRY_MS);
        unrefTimer(timer);
        this.#retries.add(timer);
      },
    ).finally(() => this.#leaving.delete(leaving));
    this.#leaving.add(leaving);
  }
}
