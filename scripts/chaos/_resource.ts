// Copyright 2026 the locco authors. MIT license.
// The protected resource of the chaos run and its event log. Both live in a
// second Redis ("resource store") that no fault touches, apart from the lock
// store the faults hit. Every record takes its place from one INCR sequence,
// so the order of critical sections is exact, and the read and the write of
// the read-modify-write are Lua scripts that also log themselves.
//
// Fencing (when the lock hands out tokens): a read registers its token as the
// highest seen for the key and is refused if a higher one was seen already; a
// write is refused unless its token is at least the highest seen and greater
// than the last applied write's. So a holder that lost its lease can neither
// overwrite a newer holder's work nor write back a value read before it.
//
// A semaphore's permits and a read-write lock's readers hold the key together,
// so their reads are never refused (ENTER's `check` "0"): their order of
// entry says nothing about their order of acquisition. Their tokens still
// raise the highest seen, so that a writer that lost its lease cannot write
// after a newer reader (every acquisition's fence exceeds all issued before
// on the key). They leave through EXIT, which writes nothing. A multi-key lock does one ENTER and one WRITE per key.
//
// `inside` (slot -> "gen:it") and `waiting` (slot -> JSON {gen, it, key,
// uniqueValue, since}) tell the harness which worker holds a lock and which
// waits in acquire(), so faults can pick one.

/** Keys of one run in the resource store. */
export function resourceKeys(runId: string): {
  seq: string;
  log: string;
  inside: string;
  waiting: string;
  progress: string;
  errors: string;
  ready: string;
  state(key: string): string;
} {
  const base = `chaos:${runId}`;
  return {
    seq: `${base}:seq`,
    log: `${base}:log`,
    inside: `${base}:inside`,
    waiting: `${base}:waiting`,
    progress: `${base}:progress`,
    errors: `${base}:errors`,
    ready: `${base}:ready`,
    state: (key) => `${base}:state:${key}`,
  };
}

/**
 * ENTER: the read. KEYS: seq, log, state, inside, progress.
 * ARGV: slot, gen, it, key, fence ("" when unfenced), preSeq, at, sent (when the
 * successful createLock was sent, epoch ms), start (when the worker began to
 * wait for this key, epoch ms; "" without a lock), grant (when acquire()
 * resolved, epoch ms; "" without a lock), check ("1": the fence check above;
 * "0": never refused, the fence only raises the highest seen), side ("" for a lock, "slot" for a semaphore
 * permit, "read" or "write").
 * Returns {seq, value, status} with status "ok" or "stale".
 */
export const ENTER_SCRIPT = `
local seq = redis.call('INCR', KEYS[1])
local fence = ARGV[5]
local status = 'ok'
if fence ~= '' then
  local seen = redis.call('HGET', KEYS[3], 'maxSeen')
  if seen and tonumber(fence) < tonumber(seen) then
    if ARGV[11] == '1' then status = 'stale' end
  else
    redis.call('HSET', KEYS[3], 'maxSeen', fence)
  end
end
local value = redis.call('HGET', KEYS[3], 'value') or '0'
if status == 'ok' then
  redis.call('HSET', KEYS[4], ARGV[1], ARGV[2] .. ':' .. ARGV[3])
else
  redis.call('HSET', KEYS[5], ARGV[1], tonumber(ARGV[3]) + 1)
end
local side = nil
if ARGV[12] ~= '' then side = ARGV[12] end
redis.call('RPUSH', KEYS[2], cjson.encode({t = 'E', seq = seq, slot = tonumber(ARGV[1]),
  gen = tonumber(ARGV[2]), it = tonumber(ARGV[3]), key = ARGV[4], fence = fence,
  pre = tonumber(ARGV[6]), at = tonumber(ARGV[7]), sent = tonumber(ARGV[8]), status = status,
  start = tonumber(ARGV[9]), grant = tonumber(ARGV[10]), side = side}))
return {seq, value, status}
`;

/**
 * WRITE: KEYS: seq, log, state, inside, progress.
 * ARGV: slot, gen, it, key, fence ("" when unfenced), newValue, at.
 * Returns {seq, applied (1 or 0)}.
 */
export const WRITE_SCRIPT = `
local seq = redis.call('INCR', KEYS[1])
local fence = ARGV[5]
local ok = true
if fence ~= '' then
  local f = tonumber(fence)
  local seen = redis.call('HGET', KEYS[3], 'maxSeen')
  local last = redis.call('HGET', KEYS[3], 'lastWrite')
  if (seen and f < tonumber(seen)) or (last and f <= tonumber(last)) then ok = false end
end
if ok then
  redis.call('HSET', KEYS[3], 'value', ARGV[6])
  redis.call('HINCRBY', KEYS[3], 'applied', 1)
  if fence ~= '' then
    redis.call('HSET', KEYS[3], 'lastWrite', fence, 'maxSeen', fence)
  end
end
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('HSET', KEYS[5], ARGV[1], tonumber(ARGV[3]) + 1)
redis.call('RPUSH', KEYS[2], cjson.encode({t = 'X', seq = seq, slot = tonumber(ARGV[1]),
  gen = tonumber(ARGV[2]), it = tonumber(ARGV[3]), key = ARGV[4], fence = fence,
  at = tonumber(ARGV[7]), applied = ok, value = tonumber(ARGV[6])}))
if ok then return {seq, 1} end
return {seq, 0}
`;

/**
 * EXIT: the end of a section that writes nothing (a semaphore permit, a
 * reader). KEYS: seq, log, state, inside, progress. ARGV: slot, gen, it,
 * key, fence, at. Returns seq.
 */
export const EXIT_SCRIPT = `
local seq = redis.call('INCR', KEYS[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('HSET', KEYS[5], ARGV[1], tonumber(ARGV[3]) + 1)
redis.call('RPUSH', KEYS[2], cjson.encode({t = 'X', seq = seq, slot = tonumber(ARGV[1]),
  gen = tonumber(ARGV[2]), it = tonumber(ARGV[3]), key = ARGV[4], fence = ARGV[5],
  at = tonumber(ARGV[6]), exit = true}))
return seq
`;

/**
 * EVENT: a record of the harness or a worker. KEYS: seq, log. ARGV: JSON
 * object without seq. Returns seq.
 */
export const EVENT_SCRIPT = `
local seq = redis.call('INCR', KEYS[1])
local record = cjson.decode(ARGV[1])
record.seq = seq
redis.call('RPUSH', KEYS[2], cjson.encode(record))
return seq
`;

/** One record of the log. */
export interface LogRecord {
  /**
   * E enter (read), X exit (write), L lease measurement of a finished
   * section, R release completed, K worker killed, S worker stopped,
   * C worker continued, D lock store down (it may lose locks), U lock store
   * up, P other lock-store fault (proxy, failover), N pub/sub connections
   * killed.
   */
  t: "E" | "X" | "L" | "R" | "K" | "S" | "C" | "D" | "U" | "P" | "N";
  seq: number;
  slot?: number | undefined;
  gen?: number | undefined;
  it?: number | undefined;
  key?: string | undefined;
  fence?: string | undefined;
  pre?: number | undefined;
  at?: number | undefined;
  status?: string | undefined;
  applied?: boolean | undefined;
  /** X: the value written (the value read + 1). */
  value?: number | undefined;
  /** X: the section wrote nothing (EXIT: a semaphore permit or a reader). */
  exit?: boolean | undefined;
  /** E: "slot" (semaphore permit), "read" or "write" (read-write lock); absent for a lock. */
  side?: string | undefined;
  inLease?: boolean | undefined;
  heldMs?: number | undefined;
  /** E: when the successful createLock was sent (epoch ms, high resolution). */
  sent?: number | undefined;
  /** L: when the ENTER reply arrived (epoch ms). */
  entered?: number | undefined;
  /** E: when the worker began to wait for this key (epoch ms; retries included). */
  start?: number | undefined;
  /** E: when acquire() resolved (epoch ms). */
  grant?: number | undefined;
  /** P: when the fault itself ended (epoch ms); its effects may last longer. */
  until?: number | undefined;
  fault?: string | undefined;
}
