// Copyright 2026 the locco authors. MIT license.
// One timer for the waits of the whole process that usually end early (a
// waiter woken by a release): a wait costs a place in a heap instead of a
// setTimeout and a clearTimeout, and a thousand waiters cost one timer. The
// timer is ref'd while a wait is pending, as a setTimeout of its own would
// be, and cleared when none is.

/** A pending deadline: `fire` runs once at `at`, unless cancelled before. */
export interface Deadline {
  readonly at: number;
  /** Unset once it fired or was cancelled. */
  fire: (() => void) | undefined;
}

// A binary min-heap on `at`. Cancelled deadlines stay in it until they reach
// the top or the heap is rebuilt, which happens when they outnumber the
// pending ones, so it holds at most about twice the pending waits.
let heap: Deadline[] = [];
let pending = 0;
let timer: ReturnType<typeof setTimeout> | undefined;
let timerAt = Infinity;

const MIN_REBUILD = 64;

/**
 * Runs `fire` after `ms` milliseconds (0 or more), like `setTimeout`, unless
 * {@linkcode cancel}led first. Never runs it synchronously.
 */
export function schedule(ms: number, fire: () => void): Deadline {
  const deadline: Deadline = { at: performance.now() + ms, fire };
  push(deadline);
  pending++;
  if (deadline.at < timerAt) arm(deadline.at, ms);
  return deadline;
}

/** Stops `deadline` from firing (nothing happens when it fired already). */
export function cancel(deadline: Deadline): void {
  if (deadline.fire === undefined) return;
  deadline.fire = undefined;
  pending--;
  if (pending === 0) {
    heap = [];
    clearTimeout(timer);
    timer = undefined;
    timerAt = Infinity;
  } else if (heap.length > MIN_REBUILD && heap.length > 2 * pending) {
    rebuild();
  }
}

function arm(at: number, ms: number): void {
  clearTimeout(timer);
  timerAt = at;
  timer = setTimeout(onTimer, Math.max(0, ms));
}

function onTimer(): void {
  timer = undefined;
  timerAt = Infinity;
  // Timers may fire up to a millisecond early (Node rounds them): a deadline
  // that close is due.
  const due = performance.now() + 1;
  const fired: Array<() => void> = [];
  while (heap.length > 0 && (heap[0]!.fire === undefined || heap[0]!.at <= due)) {
    const top = pop()!;
    if (top.fire === undefined) continue;
    fired.push(top.fire);
    top.fire = undefined;
    pending--;
  }
  if (pending === 0) heap = [];
  const next = heap[0];
  if (next !== undefined) arm(next.at, next.at - performance.now());
  for (const fire of fired) fire();
}

function push(deadline: Deadline): void {
  let index = heap.push(deadline) - 1;
  while (index > 0) {
    const parent = (index - 1) >> 1;
    if (heap[parent]!.at <= deadline.at) break;
    heap[index] = heap[parent]!;
    index = parent;
  }
  heap[index] = deadline;
}

function pop(): Deadline | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length > 0 && last !== undefined) siftDown(last, 0);
  return top;
}

function siftDown(deadline: Deadline, start: number): void {
  let index = start;
  const size = heap.length;
  while (true) {
    let child = 2 * index + 1;
    if (child >= size) break;
    if (child + 1 < size && heap[child + 1]!.at < heap[child]!.at) child++;
    if (heap[child]!.at >= deadline.at) break;
    heap[index] = heap[child]!;
    index = child;
  }
  heap[index] = deadline;
}

// Drops the cancelled deadlines and restores the heap order, in O(n).
function rebuild(): void {
  heap = heap.filter((deadline) => deadline.fire !== undefined);
  for (let index = (heap.length >> 1) - 1; index >= 0; index--) siftDown(heap[index]!, index);
}
