// Copyright 2026 the locco authors. MIT license.
// Turns the chaos run's log into counts. A critical section is the span from
// its read (E) to its write (X) in the resource store's sequence; a holder
// killed before writing ends at its kill record (K). Two sections on one key
// overlap when the later one read before the earlier one wrote.
//
// When the lock promises exclusion: an overlap of an earlier section A with a
// later section B breaks the promise, and counts as a violation, when
//   - the lock store kept its data: it was not restarted between A's first
//     look at the sequence (before its acquire) and B's read, and
//   - B's read is known to have happened while A's lease, and B's own, were
//     still valid: B saw its read's reply (or was killed) before A's
//     createLock was sent + ttl - drift, and before B's was, with drift =
//     ceil(ttl / 100) + 2 ms, the same margin Lock uses (all instants on this
//     machine's clock). (A createLock whose reply came late may resolve
//     acquire() after its lease ended; a lock's fence check then refuses B's
//     read, but a permit's or a reader's read is never refused.)
// Any other overlap is outside the promise (A was paused or slowed past its
// lease, B got its lock too late, or the store lost the lock): it is counted
// by cause, and then the fencing token must keep the late holder's write out
// (no lost update). A lock store
// restart and a Cluster master killed before it replicated both count as
// the store losing its data (D records).
//
// Waiting: for consecutive holds A then B of a key (by grant time, stale
// reads included, since they held the lock too) where a worker was already
// waiting for the key when A's key became free (B, or one served later: a
// poller may take the key before the waiters), the gap from that moment to
// B's grant: how long a waiter saw the key free and untaken. A's key
// is free when its release completed, or at the end of its lease (createLock
// sent + ttl) if that came first: A was killed, stopped, or released late.
// Gaps that overlap a lock-store fault are left out: the fault's own span,
// plus ttl (a lock taken by a command whose reply was lost lives that long)
// and the 500 ms claim window of a hand-off sent into the fault.
//
// Other primitives (--primitive):
//   multi      every key of a multi-key lock is a section of its own, and
//              each key is checked as a lock is (exclusion, fences, lost
//              updates). No waiting bound: a waiter for several keys may
//              wait on a busy one while another is free.
//   semaphore  at the read of a permit B, the earlier sections still inside
//              are counted: `limit` or more of them is an instant over the
//              limit, and a violation when `limit` of them were within
//              their leases by the test above (else it is counted by cause).
//   rw         pairs of overlapping sections are checked as for a lock,
//              unless both are readers: those are counted instead, and a
//              locked run in which no readers overlapped fails (it would
//              prove serialization, not a read-write lock).
// Permits and readers hold the key together, so their order of entry says
// nothing of their order of acquisition, and no resource can check their
// fences the way it checks a lock's. What the library promises of them is
// that every acquisition's fence is greater than every fence issued before
// for the key: so for semaphores and read-write locks the check is that
// fences are never issued twice and that an acquisition that began (the
// worker read the sequence, `pre`) after another holder had entered (its E)
// got a greater fence, unless the lock store lost its data between the two
// reads.
// Writers of a read-write lock also do the fenced read-modify-write, and
// readers' fences raise the highest fence the resource has seen (without
// ever being refused), so a writer's late write after a newer reader is
// refused too.

import type { Primitive } from "./_primitives.ts";
import type { LogRecord } from "./_resource.ts";

/** One row group of the final table. */
export interface Analysis {
  sections: number;
  appliedWrites: number;
  staleWritesRejected: number;
  /**
   * Writes the fence check refused although their section finished within
   * its lease, overlapped no other section and came after no data-losing
   * store restart: only a fence that went backwards does that.
   */
  fencedWritesRefusedInLease: number;
  /** Likewise for reads: refused while their lease was valid (on the worker's clock). */
  fencedReadsRefusedInLease: number;
  staleReadsRejected: number;
  fencedSections: number;
  sectionsInLease: number;
  sectionsKilled: number;
  violations: number;
  violationExamples: string[];
  overlapsStoreLost: number;
  overlapsPaused: number;
  overlapsSlow: number;
  overlapsUndecided: number;
  lateWritesApplied: number;
  lateWritesRejected: number;
  duplicateTokens: number;
  lostUpdates: number;
  faults: Record<string, number>;
  maxWaitAfterKillMs: number;
  maxRecoveryAfterRestartMs: number;
  /** The longest gap between a key becoming free and a waiter taking it, in ms. */
  maxFreeKeyWaitMs: number;
  /** Which holds that gap was between, for the report. */
  maxFreeKeyWaitExample: string;
  freeKeyWaits: number;
  freeKeyWaitsNearStoreFaults: number;
  /** The longest of those gaps away from every fault, holder and waiter faults included. */
  maxQuietFreeKeyWaitMs: number;
  /** Whether the waits above were measured (locks only). */
  waitsMeasured: boolean;
  /** The most sections inside at once on one key. */
  maxInside: number;
  /** Semaphore: reads of a permit while `limit` or more others were inside, any cause. */
  overLimit: number;
  /** Read-write lock: pairs of readers inside at once. */
  readerOverlaps: number;
  /** Read-write lock: the most readers inside at once. */
  maxReadersInside: number;
  /** Semaphore, read-write lock: acquisitions whose fences were checked for order. */
  fenceOrderChecked: number;
  /** Acquisitions with a fence not above that of a holder that had entered before they began. */
  fenceOrderViolations: number;
  fenceOrderExamples: string[];
}

/** What the run locked, for {@linkcode analyze}. */
export interface AnalyzeOptions {
  primitive: Primitive;
  /** Semaphore: its limit. */
  limit: number;
}

/** The claim window of a Redis hand-off (HANDOFF_MS in src/adapters/_redis_scripts.ts). */
const CLAIM_WINDOW_MS = 500;

interface Hold {
  e: LogRecord;
  start: number;
  grant: number;
  /** When the key became free: the release completed, or the lease ended. */
  free: number;
}

interface Section {
  e: LogRecord;
  x?: LogRecord;
  l?: LogRecord;
  end: number;
  killedAt?: number;
  paused: boolean;
}

const id = (r: LogRecord) => `${r.slot}:${r.gen}:${r.it}`;
/** A section: one key of one iteration (a multi-key lock has several). */
const sid = (r: LogRecord) => `${id(r)}|${r.key}`;
const gen = (r: LogRecord) => `${r.slot}:${r.gen}`;

/** Counts everything from the log and the final per-key state. */
export function analyze(
  log: LogRecord[],
  state: Map<string, { value: number; applied: number }>,
  ttl: number,
  options: AnalyzeOptions = { primitive: "lock", limit: 1 },
): Analysis {
  const { primitive, limit } = options;
  const drift = Math.ceil(ttl / 100) + 2;
  const kills = new Map<string, LogRecord>();
  const stops: LogRecord[] = [];
  const downs: number[] = [];
  const ups: LogRecord[] = [];
  const faults: Record<string, number> = {};
  const sections = new Map<string, Section>();
  const grants: LogRecord[] = [];
  const releases = new Map<string, number>();
  // Lock-store faults, and all faults: [start, end], in epoch ms.
  const storeFaults: [number, number][] = [];
  const otherFaults: [number, number][] = [];
  const stoppedAt = new Map<string, number>();
  let downAt: number | undefined;
  let staleReadsRejected = 0;
  const staleReads: LogRecord[] = [];
  for (const r of log) {
    if (r.t === "E" && r.grant !== undefined && r.start !== undefined) grants.push(r);
    if (r.t === "R" && r.at !== undefined) releases.set(id(r), r.at);
    if (r.t === "D") downAt ??= r.at;
    if (r.t === "U" && downAt !== undefined && r.at !== undefined) {
      storeFaults.push([downAt, r.at]);
      downAt = undefined;
    }
    if (r.t === "P" && r.at !== undefined) storeFaults.push([r.at, r.until ?? r.at]);
    if (r.t === "S" && r.at !== undefined) stoppedAt.set(gen(r), r.at);
    if (r.t === "C" && r.at !== undefined) otherFaults.push([stoppedAt.get(gen(r)) ?? r.at, r.at]);
    if ((r.t === "K" || r.t === "N") && r.at !== undefined) otherFaults.push([r.at, r.at]);
    if (r.t === "K") kills.set(gen(r), r);
    if (r.t === "S") stops.push(r);
    if (r.t === "D") downs.push(r.seq);
    if (r.t === "U") ups.push(r);
    if (r.fault !== undefined) faults[r.fault] = (faults[r.fault] ?? 0) + 1;
    if (r.t === "E") {
      if (r.status === "stale") {
        staleReadsRejected++;
        staleReads.push(r);
      } else sections.set(sid(r), { e: r, end: Infinity, paused: false });
    }
    if (r.t === "X") {
      const s = sections.get(sid(r));
      if (s !== undefined) s.x = r;
    }
    if (r.t === "L") {
      const s = sections.get(sid(r));
      if (s !== undefined) s.l = r;
    }
  }
  if (downAt !== undefined) storeFaults.push([downAt, Infinity]);
  let sectionsKilled = 0;
  for (const s of sections.values()) {
    const kill = kills.get(gen(s.e));
    if (s.x !== undefined) s.end = s.x.seq;
    else if (kill !== undefined) {
      s.end = kill.seq;
      if (kill.at !== undefined) s.killedAt = kill.at;
      sectionsKilled++;
    }
    s.paused = stops.some((stop) =>
      gen(stop) === gen(s.e) && stop.seq > s.e.seq && stop.seq < s.end
    );
  }

  const result: Analysis = {
    sections: 0,
    appliedWrites: 0,
    staleWritesRejected: 0,
    fencedWritesRefusedInLease: 0,
    fencedReadsRefusedInLease: 0,
    staleReadsRejected,
    fencedSections: 0,
    sectionsInLease: 0,
    sectionsKilled,
    violations: 0,
    violationExamples: [],
    overlapsStoreLost: 0,
    overlapsPaused: 0,
    overlapsSlow: 0,
    overlapsUndecided: 0,
    lateWritesApplied: 0,
    lateWritesRejected: 0,
    duplicateTokens: 0,
    lostUpdates: 0,
    faults,
    maxWaitAfterKillMs: 0,
    maxRecoveryAfterRestartMs: 0,
    maxFreeKeyWaitMs: 0,
    maxFreeKeyWaitExample: "",
    freeKeyWaits: 0,
    freeKeyWaitsNearStoreFaults: 0,
    maxQuietFreeKeyWaitMs: 0,
    waitsMeasured: primitive === "lock",
    maxInside: 0,
    overLimit: 0,
    readerOverlaps: 0,
    maxReadersInside: 0,
    fenceOrderChecked: 0,
    fenceOrderViolations: 0,
    fenceOrderExamples: [],
  };
  const byKey = new Map<string, Section[]>();
  const tokens = new Map<string, Set<string>>();
  for (const s of sections.values()) {
    if (s.x !== undefined) {
      result.sections++;
      if (s.x.exit) {
        // a permit or a reader: it wrote nothing
      } else if (s.x.applied) result.appliedWrites++;
      else result.staleWritesRejected++;
    }
    if (s.l?.inLease) result.sectionsInLease++;
    if (s.e.fence) {
      result.fencedSections++;
      const seen = tokens.get(s.e.key!) ?? new Set();
      if (seen.has(s.e.fence)) result.duplicateTokens++;
      seen.add(s.e.fence);
      tokens.set(s.e.key!, seen);
    }
    const list = byKey.get(s.e.key!) ?? [];
    list.push(s);
    byKey.set(s.e.key!, list);
  }

  const late = new Set<Section>();
  for (const list of byKey.values()) {
    list.sort((a, b) => a.e.seq - b.e.seq);
    measureConcurrency(result, list);
    if (primitive === "semaphore") {
      checkSemaphore(result, list, downs, ttl, limit);
      continue;
    }
    for (let j = 0; j < list.length; j++) {
      const b = list[j]!;
      for (let i = 0; i < j; i++) {
        const a = list[i]!;
        if (a.end <= b.e.seq) continue;
        if (a.e.side === "read" && b.e.side === "read") {
          result.readerOverlaps++;
          continue;
        }
        if (downs.some((d) => d > (a.e.pre ?? 0) && d < b.e.seq)) {
          result.overlapsStoreLost++;
          late.add(older(a, b));
          continue;
        }
        const bSeenBy = b.l?.entered ?? b.killedAt ?? Infinity;
        const aDeadline = (a.e.sent ?? 0) + ttl - drift;
        const bDeadline = (b.e.sent ?? 0) + ttl - drift;
        if (bSeenBy < aDeadline && bSeenBy < bDeadline) {
          result.violations++;
          if (result.violationExamples.length < 5) {
            result.violationExamples.push(
              `key ${a.e.key}: section ${id(a.e)} [${a.e.seq}, ${a.end}] and ${
                id(b.e)
              } entered at ${b.e.seq}, ${
                Math.round(aDeadline - bSeenBy)
              } ms before A's lease ended`,
            );
          }
        } else if (bSeenBy === Infinity) {
          result.overlapsUndecided++;
        } else if (a.paused) {
          result.overlapsPaused++;
          late.add(older(a, b));
        } else {
          result.overlapsSlow++;
          late.add(older(a, b));
        }
      }
    }
  }
  for (const a of late) {
    if (a.x?.exit) continue;
    if (a.x?.applied) result.lateWritesApplied++;
    else if (a.x !== undefined) result.lateWritesRejected++;
  }
  for (const s of sections.values()) {
    if (s.x === undefined || s.x.exit || s.x.applied || !s.l?.inLease || late.has(s)) continue;
    if (downs.some((d) => d < s.e.seq)) continue;
    result.fencedWritesRefusedInLease++;
  }
  for (const r of staleReads) {
    if (r.at === undefined || r.sent === undefined || r.at >= r.sent + ttl - drift) continue;
    if (downs.some((d) => d < r.seq)) continue;
    result.fencedReadsRefusedInLease++;
  }
  for (const { value, applied } of state.values()) result.lostUpdates += applied - value;

  for (const kill of kills.values()) {
    if (kill.fault !== "kill holder" || kill.key === undefined || kill.at === undefined) continue;
    const next = log.find((r) =>
      r.t === "E" && r.key === kill.key && r.seq > kill.seq && r.status === "ok"
    );
    if (next?.at !== undefined) {
      result.maxWaitAfterKillMs = Math.max(result.maxWaitAfterKillMs, next.at - kill.at);
    }
  }
  for (const up of ups) {
    const next = log.find((r) => r.t === "X" && r.seq > up.seq && (r.applied || r.exit));
    if (next?.at !== undefined && up.at !== undefined) {
      result.maxRecoveryAfterRestartMs = Math.max(
        result.maxRecoveryAfterRestartMs,
        next.at - up.at,
      );
    }
  }
  if (primitive === "lock") measureWaits(result, grants, releases, storeFaults, otherFaults, ttl);
  if (primitive === "semaphore" || primitive === "rw") {
    checkFenceOrder(result, [...[...sections.values()].map((s) => s.e), ...staleReads], downs);
  }
  return result;
}

/**
 * Of two overlapping sections outside the promise, the one that lost its
 * lease: the one with the lower fence, when both have one; else the one that
 * entered first. On a lock they are the same (a read with a lower fence than
 * one seen already is refused), but a reader with a lower fence may enter
 * after a writer: then the reader is the late one, and the writer's write is
 * not late.
 */
function older(a: Section, b: Section): Section {
  if (!a.e.fence || !b.e.fence) return a;
  return Number(b.e.fence) < Number(a.e.fence) ? b : a;
}

/** The most sections, and readers, inside at once on one key (`list` sorted by read). */
function measureConcurrency(result: Analysis, list: Section[]): void {
  let inside: Section[] = [];
  for (const b of list) {
    inside = inside.filter((a) => a.end > b.e.seq);
    inside.push(b);
    result.maxInside = Math.max(result.maxInside, inside.length);
    const readers = inside.filter((s) => s.e.side === "read").length;
    result.maxReadersInside = Math.max(result.maxReadersInside, readers);
  }
}

/** Semaphore: reads of a permit while `limit` or more others were inside. */
function checkSemaphore(
  result: Analysis,
  list: Section[],
  downs: number[],
  ttl: number,
  limit: number,
): void {
  const drift = Math.ceil(ttl / 100) + 2;
  let inside: Section[] = [];
  for (const b of list) {
    inside = inside.filter((a) => a.end > b.e.seq);
    const others = inside;
    inside = [...inside, b];
    if (others.length < limit) continue;
    result.overLimit++;
    const bSeenBy = b.l?.entered ?? b.killedAt ?? Infinity;
    const aDeadline = (a: Section) => (a.e.sent ?? 0) + ttl - drift;
    const bDeadline = aDeadline(b);
    let promised = 0;
    let undecided = 0;
    let storeLost = 0;
    let paused = 0;
    for (const a of others) {
      if (downs.some((d) => d > (a.e.pre ?? 0) && d < b.e.seq)) storeLost++;
      else if (bSeenBy === Infinity) undecided++;
      else if (bSeenBy < Math.min(aDeadline(a), bDeadline)) promised++;
      else if (a.paused) paused++;
    }
    if (promised >= limit) {
      result.violations++;
      if (result.violationExamples.length < 5) {
        result.violationExamples.push(
          `key ${b.e.key}: permit ${id(b.e)} entered at ${b.e.seq} while ${others.length} ` +
            `were inside (${others.map((a) => id(a.e)).join(", ")}), ${promised} of them ` +
            `within their leases`,
        );
      }
    } else if (promised + undecided >= limit) result.overlapsUndecided++;
    else if (storeLost > 0) result.overlapsStoreLost++;
    else if (paused > 0) result.overlapsPaused++;
    else result.overlapsSlow++;
  }
}

/**
 * Semaphore, read-write lock: each acquisition's fence must exceed the
 * fence of every holder of its key that had entered before the acquisition
 * began, with no loss of the lock store's data in between.
 */
function checkFenceOrder(result: Analysis, entries: LogRecord[], downs: number[]): void {
  const byKey = new Map<string, LogRecord[]>();
  for (const e of entries) {
    if (!e.fence || e.pre === undefined) continue;
    const list = byKey.get(e.key!) ?? [];
    list.push(e);
    byKey.set(e.key!, list);
  }
  const era = (seq: number) => downs.filter((d) => d < seq).length;
  for (const list of byKey.values()) {
    list.sort((a, b) => a.seq - b.seq);
    // best[i]: the entry with the greatest fence among list[0..i] of list[i]'s era.
    const best: LogRecord[] = [];
    list.forEach((e, i) => {
      const previous = best[i - 1];
      best.push(
        previous !== undefined && era(previous.seq) === era(e.seq) &&
          Number(previous.fence) > Number(e.fence)
          ? previous
          : e,
      );
    });
    for (const b of list) {
      result.fenceOrderChecked++;
      // The last entry before b began to acquire (its `pre` is the sequence then).
      let lo = 0;
      let hi = list.length - 1;
      let found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (list[mid]!.seq <= b.pre!) {
          found = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      if (found < 0) continue;
      const a = best[found]!;
      if (era(a.seq) !== era(b.seq) || Number(b.fence) > Number(a.fence)) continue;
      result.fenceOrderViolations++;
      if (result.fenceOrderExamples.length < 5) {
        result.fenceOrderExamples.push(
          `key ${b.key}: ${id(b)} began to acquire after seq ${b.pre} and got fence ${b.fence}, ` +
            `not above fence ${a.fence} of ${id(a)}, which entered at ${a.seq}`,
        );
      }
    }
  }
}

function measureWaits(
  result: Analysis,
  grants: LogRecord[],
  releases: Map<string, number>,
  storeFaults: [number, number][],
  otherFaults: [number, number][],
  ttl: number,
): void {
  const settle = ttl + CLAIM_WINDOW_MS;
  const near = (faults: [number, number][], from: number, to: number) =>
    faults.some(([start, end]) => start <= to && from <= end + settle);
  const byKey = new Map<string, Hold[]>();
  for (const e of grants) {
    const leaseEnd = (e.sent ?? 0) + ttl;
    const hold = {
      e,
      start: e.start!,
      grant: e.grant!,
      free: Math.min(releases.get(id(e)) ?? Infinity, leaseEnd),
    };
    const list = byKey.get(e.key!) ?? [];
    list.push(hold);
    byKey.set(e.key!, list);
  }
  for (const list of byKey.values()) {
    list.sort((x, y) => x.grant - y.grant || x.e.seq - y.e.seq);
    // firstStart[i]: the earliest start among holds i and later, so that
    // firstStart[i + 1] < A's free moment says someone was waiting then.
    const firstStart = list.map((hold) => hold.start);
    for (let i = list.length - 2; i >= 0; i--) {
      firstStart[i] = Math.min(firstStart[i]!, firstStart[i + 1]!);
    }
    for (let i = 1; i < list.length; i++) {
      const a = list[i - 1]!;
      const b = list[i]!;
      if (firstStart[i]! >= a.free || b.grant <= a.free) continue;
      if (near(storeFaults, a.free, b.grant)) {
        result.freeKeyWaitsNearStoreFaults++;
        continue;
      }
      result.freeKeyWaits++;
      const gap = b.grant - a.free;
      if (!near(otherFaults, a.free, b.grant)) {
        result.maxQuietFreeKeyWaitMs = Math.max(result.maxQuietFreeKeyWaitMs, gap);
      }
      if (gap > result.maxFreeKeyWaitMs) {
        result.maxFreeKeyWaitMs = gap;
        const freedBy = releases.has(id(a.e)) && a.free < (a.e.sent ?? 0) + ttl
          ? "released"
          : "lease ended";
        const waiter = list.slice(i).find((hold) => hold.start === firstStart[i])!;
        result.maxFreeKeyWaitExample = `key ${a.e.key}: ${id(a.e)} (seq ${a.e.seq}) ${freedBy} at ${
          a.free.toFixed(1)
        }; ${id(waiter.e)} (seq ${waiter.e.seq}) waited since ${
          waiter.start.toFixed(1)
        }; the next holder, ${id(b.e)} (seq ${b.e.seq}), got the key at ${b.grant.toFixed(1)}`;
      }
    }
  }
}
