// Copyright 2026 the locco authors. MIT license.
// The Lua scripts of the Redis adapter and their SHA-1 digests, which
// EVALSHA needs. The digests are constants so that no hashing happens at run
// time; scripts/redis_script_shas.ts recomputes them (`deno run
// scripts/redis_script_shas.ts --check` fails when one is stale), and the
// adapter tests fail if a digest is wrong, since every call would then fall
// back to EVAL.
//
// Every script is safe to run twice, as a client that resends unanswered
// commands after a reconnect (ioredis does by default) may run it: a second
// run has the effect of one and an answer the adapter reads as the first's.
//
// Waiters queue in a list next to the lock key. A queue entry is
// "channel id\ntoken\nunique value": the waiting adapter's channel, the wait
// session's token on that channel, and the waiter's unique value.

/** What a key handed off to a waiter holds, followed by the waiter's unique value. */
export const HANDOFF_MARKER = "\0locco-handoff\0";

// Constants of the lock scripts, written into their source rather than sent
// with every call: an argument less is a string less to encode, send, parse
// and copy into Lua, on the hot path.

/** How long a fence counter key lives after the last acquire of its lock: 7 days, in ms. */
export const FENCE_COUNTER_TTL_MS: number = 7 * 24 * 60 * 60 * 1000;

/** How long the record of a release lives, for a resent release to find: 10 s, in ms. */
export const RELEASE_RECORD_MS = 10_000;

/** How long a released key waits for the waiter it was handed to, in ms. */
export const HANDOFF_MS = 500;

/** How long a waiter queue lives after its last enqueue or attempt: 1 hour, in ms. */
export const QUEUE_TTL_MS: number = 60 * 60 * 1000;

/**
 * The prefix of the channels that announce hand-offs: each adapter listens on
 * its own, `HANDOFF_CHANNEL_PREFIX + channel id`, for every key its waiters
 * wait for, so a hand-off reaches the waiter's process and no other.
 */
export const HANDOFF_CHANNEL_PREFIX = "locco:handoff:";

// The lock key was released by its holder, or a hand-off was declined: hand
// the key to the first waiter in the queue (KEYS[2]) that hears the news, or
// delete it when nobody waits. The key then holds the hand-off marker and the
// waiter's unique value for HANDOFF_MS (the claim window), so only that
// waiter can take it, and the waiter's token is published on its adapter's
// channel, HANDOFF_CHANNEL_PREFIX .. channel id. When the local `exact` is
// "1", PUBLISH counts every receiver (a single Redis), and an entry whose
// channel nobody listens to (its process died or lost its connection) is
// dropped and the next one tried; on Redis Cluster the count covers one node
// only, so a dead waiter keeps the key for one claim window at most.
const HANDOFF_LUA = `local handed = false
while true do
  local entry = redis.call("LPOP", KEYS[2])
  if not entry then
    break
  end
  local a = string.find(entry, "\\n", 1, true)
  local b = a and string.find(entry, "\\n", a + 1, true)
  if b then
    local heard = redis.call("PUBLISH", "${HANDOFF_CHANNEL_PREFIX}" .. string.sub(entry, 1, a - 1),
      string.sub(entry, a + 1, b - 1))
    if heard > 0 or exact ~= "1" then
      redis.call("SET", KEYS[1], "\\0locco-handoff\\0" .. string.sub(entry, b + 1), "PX", ${HANDOFF_MS})
      handed = true
      break
    end
  end
end
if not handed then
  redis.call("DEL", KEYS[1])
end`;

/** Reply of a script when the unique value held the key and the action ran. */
export const SCRIPT_DONE = 1;
/** Reply of a script when the key does not exist (expired or released). */
export const SCRIPT_MISSING = 0;
/** Reply of a script when another unique value holds the key. */
export const SCRIPT_TAKEN = -1;
/** Reply of the release script when this unique value released the key moments ago. */
export const SCRIPT_RELEASED_BEFORE = 2;

/**
 * Acquire: `SET key value PX ttl NX`, or the claim of a key handed off to
 * this unique value, and when that took the key, the next fencing token in
 * the same script. Replies the token (a positive integer below 2^53) when the
 * lock was taken; `{token}` (a one-element array) when the key already holds
 * this unique value (a resent acquire that took it, or a second acquire by
 * the owner; with ARGV[7] "1" the key then lives ttl from now, as a fresh
 * acquire would); or `-1 - pttl` when another lock holds the key.
 */
export const ACQUIRE_SCRIPT: string = `-- locco acquire
-- KEYS[1]: the lock key (prefix included)
-- KEYS[2]: the fence counter key, in the same Cluster slot as KEYS[1]
-- KEYS[3]: the waiter queue (a list of queue entries), same slot
-- ARGV[1]: the holder's unique value
-- ARGV[2]: the time to live in milliseconds (integer, 1 to 2147483647)
-- ARGV[3]: "1" when the caller holds no live grant of this key, so that a
--          key holding its own unique value is this acquire's (a resend, or
--          a lease the caller saw end that the server has not expired yet):
--          it then lives ARGV[2] ms from now, as the caller will count
-- ARGV[4]: left out or "" when the caller does not wait; else its queue
--          entry, which leaves the queue when the caller takes the key, and
--          is put back in the queue (if it was lost) when the key is held
-- ARGV[5]: "1" to make the queue live QUEUE_TTL_MS from now anyway (a
--          waiter refreshes it now and then, so a long wait keeps its place)
-- The fence counter key lives FENCE_COUNTER_TTL_MS after each acquire.
-- The token is max(stored counter + 1, server time in microseconds): it grows
-- by one per acquire while the counter lives, and never goes back after the
-- counter was lost (expiry, eviction, DEL, a restart without persistence)
-- because the server clock moved on meanwhile; at about 1.8e15 it is exact
-- in a Lua double and in a JavaScript number.
-- A first attempt usually finds the key free (SET NX first), a waiter's
-- usually finds it held (GET first). A key of another type is application
-- data: held, as by another lock.
local value = false
local entry = ARGV[4] or ""
if entry == "" then
  if not redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2], "NX") then
    value = redis.pcall("GET", KEYS[1])
  end
else
  value = redis.pcall("GET", KEYS[1])
  if value == false then
    redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
    redis.call("LREM", KEYS[3], 1, entry)
  end
end
if value == ARGV[1] then
  if ARGV[3] == "1" then
    redis.call("PEXPIRE", KEYS[1], ARGV[2])
  end
  return { tonumber(redis.call("GET", KEYS[2])) or 0 }
elseif value == "\\0locco-handoff\\0" .. ARGV[1] then
  -- handed off to us (the release took us out of the queue): take it
  redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
elseif value ~= false then
  if entry ~= "" then
    if not redis.call("LPOS", KEYS[3], entry) then
      redis.call("RPUSH", KEYS[3], entry)
      redis.call("PEXPIRE", KEYS[3], ${QUEUE_TTL_MS})
    elseif ARGV[5] == "1" then
      redis.call("PEXPIRE", KEYS[3], ${QUEUE_TTL_MS})
    end
  end
  return -1 - math.max(redis.call("PTTL", KEYS[1]), 0)
end
local time = redis.call("TIME")
local fence = tonumber(time[1]) * 1000000 + tonumber(time[2])
-- SET ... GET writes the time and replies the previous token in one command;
-- the time's digits are joined as strings (string.format costs more)
local stored = redis.pcall("SET", KEYS[2], time[1] .. string.sub(time[2] + 1000000, 2),
  "PX", ${FENCE_COUNTER_TTL_MS}, "GET")
if type(stored) == "table" and stored.err then
  -- the counter key holds another type (left as it was): undo, report
  redis.call("DEL", KEYS[1])
  return stored
end
local last = tonumber(stored)
if last ~= nil and last >= fence then
  if last >= 9007199254740990 then
    redis.call("SET", KEYS[2], stored, "PX", ${FENCE_COUNTER_TTL_MS})
    redis.call("DEL", KEYS[1])
    return redis.error_reply("locco: the fence counter " .. KEYS[2] .. " is out of range")
  end
  fence = last + 1
  redis.call("SET", KEYS[2], string.format("%.0f", fence), "PX", ${FENCE_COUNTER_TTL_MS})
end
return fence
`;

/** Compare-and-delete: releases the lock only while this unique value holds it. */
export const RELEASE_SCRIPT: string = `-- locco release
-- KEYS[1]: the lock key (prefix included)
-- KEYS[2]: the waiter queue of the key (a list of queue entries), same slot
-- KEYS[3]: the release record of the key: the unique value that released it
--          last, kept RELEASE_RECORD_MS so that a resent release finds it
-- ARGV[1]: the holder's unique value
-- ARGV[2]: "1" when PUBLISH counts every receiver (not on Redis Cluster)
-- Returns 1 when the key held ARGV[1] and was released, 2 when ARGV[1]
-- released it moments ago (this is a second run), 0 when the key does not
-- exist, -1 when another value holds it (the key is left untouched). With
-- waiters queued, the key is handed off rather than deleted. GET on a key of
-- another type raises WRONGTYPE, which reaches the caller.
local value = redis.call("GET", KEYS[1])
if value ~= ARGV[1] then
  if redis.pcall("GET", KEYS[3]) == ARGV[1] then
    return 2
  end
  if value == false then
    return 0
  end
  return -1
end
redis.call("SET", KEYS[3], ARGV[1], "PX", ${RELEASE_RECORD_MS})
local exact = ARGV[2]
${HANDOFF_LUA}
return 1
`;

/**
 * A waiter enqueues itself: when the key is free, handed off to it or
 * already its own (an attempt of it took the key meanwhile), replies 0 (attempt now) and does not enqueue; else
 * appends its entry to the queue unless it is there, and replies the key's
 * PTTL (-1 when it has no expiry).
 */
export const ENQUEUE_SCRIPT = `-- locco enqueue
-- KEYS[1]: the lock key (prefix included)
-- KEYS[2]: the waiter queue of the key, same slot
-- ARGV[1]: the waiter's unique value
-- ARGV[2]: how long the queue lives after the last enqueue, in ms
-- ARGV[3]: the waiter's queue entry
local value = redis.call("GET", KEYS[1])
if value == false or value == ARGV[1] or value == "\\0locco-handoff\\0" .. ARGV[1] then
  return 0
end
if not redis.call("LPOS", KEYS[2], ARGV[3]) then
  redis.call("RPUSH", KEYS[2], ARGV[3])
end
redis.call("PEXPIRE", KEYS[2], ARGV[2])
local pttl = redis.call("PTTL", KEYS[1])
if pttl > 0 then
  return pttl
end
return -1
`;

/** A waiter that stops waiting leaves the queue and passes on a hand-off meant for it. */
export const LEAVE_SCRIPT: string = `-- locco leave
-- KEYS[1]: the lock key (prefix included)
-- KEYS[2]: the waiter queue of the key, same slot
-- ARGV[1]: the waiter's unique value
-- ARGV[2]: the waiter's queue entry
-- ARGV[3]: "1" when PUBLISH counts every receiver (not on Redis Cluster)
redis.call("LREM", KEYS[2], 0, ARGV[2])
if redis.pcall("GET", KEYS[1]) == "\\0locco-handoff\\0" .. ARGV[1] then
local exact = ARGV[3]
${HANDOFF_LUA}
end
return 1
`;

/** Compare-and-expire: sets the expiry to now + ttl only while this unique value holds the lock. */
export const EXTEND_SCRIPT = `-- locco extend
-- KEYS[1]: the lock key (prefix included)
-- ARGV[1]: the holder's unique value
-- ARGV[2]: the new time to live in milliseconds (integer, 1 to 2147483647)
-- Returns 1 when the key held ARGV[1] and now expires ARGV[2] ms from now
-- (which can shorten the lock), 0 when the key does not exist, -1 when
-- another value holds it. PEXPIRE never creates a key, so a lock that is
-- gone stays gone; a second run sets the same expiry again.
local value = redis.call("GET", KEYS[1])
if value == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
if value == false then
  return 0
end
return -1
`;

/**
 * Inspect: whether a lock holds the key, without its unique value. Replies 0
 * when the key is free, else `{pttl}` while the key is handed off to a
 * waiter (that waiter has no token yet) or holds another type than a string
 * (application data, which `createLock` treats as held), else `{pttl, token}` where the
 * token is the fence counter, which is the holder's own token since no
 * acquire can run while the key is held (`false` if the counter is gone).
 */
export const INSPECT_SCRIPT = `-- locco inspect
-- KEYS[1]: the lock key (prefix included)
-- KEYS[2]: the fence counter key, in the same Cluster slot as KEYS[1]
-- A key of another type is application data: held, as by another lock.
local value = redis.pcall("GET", KEYS[1])
if value == false then
  return 0
end
local pttl = redis.call("PTTL", KEYS[1])
if type(value) ~= "string" or string.sub(value, 1, 15) == "\\0locco-handoff\\0" then
  return { pttl }
end
return { pttl, redis.call("GET", KEYS[2]) }
`;

/** SHA-1 of {@linkcode INSPECT_SCRIPT}, for EVALSHA. */
export const INSPECT_SCRIPT_SHA = "146d00208075f3096a6f25ae64e2ea2fb1a74fd4";

/** SHA-1 of {@linkcode ACQUIRE_SCRIPT}, for EVALSHA. */
export const ACQUIRE_SCRIPT_SHA = "16e623cd4da95ebf2180cd50ed8023241a0d70b5";

/** SHA-1 of {@linkcode ENQUEUE_SCRIPT}, for EVALSHA. */
export const ENQUEUE_SCRIPT_SHA = "88ca89f34ec0fe222e5c681c7626ad3c4afad625";

/**
 * SHA-1 of {@linkcode LEAVE_SCRIPT}. Unused: leaving is sent with EVAL, one
 * command, written before any QUIT that follows.
 */
export const LEAVE_SCRIPT_SHA = "505f2125cc7da84aea7a3841bd142af47289b165";

/** SHA-1 of {@linkcode RELEASE_SCRIPT}, for EVALSHA. */
export const RELEASE_SCRIPT_SHA = "edd85b9557b4b07065095720bc93d70878268f4b";

/** SHA-1 of {@linkcode EXTEND_SCRIPT}, for EVALSHA. */
export const EXTEND_SCRIPT_SHA = "baea30ed4b035ce7f09f4f4ae95e24ae88f1d54d";

// Multi-key locks run the single-key scripts above, verbatim, once per key,
// inside one script: each is the body of a Lua function that binds its own
// local KEYS and ARGV (which shadow the script's), so every key gets exactly
// the single-key semantics (hand-off claims, queue upkeep, fencing tokens,
// resends) and all keys are acted on atomically.

/**
 * Multi-key acquire: takes every key or none. Replies `{1, token 1, ...,
 * token N}` when it took them all (a token per key, as the acquire script
 * replies it; a key that already held this unique value gives its counter);
 * `{0, i, pttl}` when the i-th key (1-based) is held by another lock or
 * handed off to another waiter, and then takes nothing; `{2}` when a key
 * holds this unique value and the caller holds a live grant of the lock (the
 * owner asks twice), and changes nothing.
 */
export const MULTI_ACQUIRE_SCRIPT: string = `-- locco multi acquire
-- KEYS[3i-2], KEYS[3i-1], KEYS[3i]: the i-th lock key, its fence counter and
--   its waiter queue, as KEYS[1..3] of the acquire script; every key of a
--   call in one Cluster slot
-- ARGV[1]: the holder's unique value
-- ARGV[2]: the time to live in milliseconds (integer, 1 to 2147483647)
-- ARGV[3]: "0" when the caller does not wait; else i, the key whose queue
--          holds the caller's entry (the key a former attempt found held)
-- ARGV[4]: that queue entry, "" when ARGV[3] is "0"
-- ARGV[5]: "1" to make the queue of key ARGV[3] live QUEUE_TTL_MS from now
-- ARGV[6]: "1" when the caller holds no live grant of this lock
-- ARGV[7]: "1" when PUBLISH counts every receiver (not on Redis Cluster)
-- An attempt that takes nothing keeps no key handed off to the caller: it
-- passes each on to the next waiter, so a multi-key waiter never holds a
-- key while it waits for another.
local function acquire(lock, counter, queue, entry)
  local KEYS = { lock, counter, queue }
  local ARGV = { ARGV[1], ARGV[2], ARGV[6], entry, ARGV[5] }
${ACQUIRE_SCRIPT}
end
local function handoff(lock, queue)
  local KEYS = { lock, queue }
  local exact = ARGV[7]
${HANDOFF_LUA}
end
local n = #KEYS / 3
local waited = tonumber(ARGV[3])
local handed = "\\0locco-handoff\\0" .. ARGV[1]
local busy = 0
local mine = false
local ours = {}
for i = 1, n do
  local value = redis.pcall("GET", KEYS[3 * i - 2])
  if value == ARGV[1] then
    mine = true
  elseif value == handed then
    ours[#ours + 1] = i
  elseif value ~= false and (busy == 0 or i == waited) then
    busy = i
  end
end
if busy > 0 then
  local pttl
  if busy == waited then
    -- the acquire script keeps (or puts back) the caller's place in the queue
    pttl = -1 - acquire(KEYS[3 * busy - 2], KEYS[3 * busy - 1], KEYS[3 * busy], ARGV[4])
  else
    pttl = math.max(redis.call("PTTL", KEYS[3 * busy - 2]), 0)
    if waited > 0 then
      redis.call("LREM", KEYS[3 * waited], 0, ARGV[4])
    end
  end
  for _, i in ipairs(ours) do
    handoff(KEYS[3 * i - 2], KEYS[3 * i])
  end
  return { 0, busy, pttl }
end
if mine and ARGV[6] ~= "1" then
  return { 2 }
end
local tokens = { 1 }
for i = 1, n do
  local entry = ""
  if i == waited then
    entry = ARGV[4]
  end
  local token = acquire(KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i], entry)
  if type(token) == "table" then
    if token.err then
      -- a fence counter holds another type: undo the keys taken, report
      for j = 1, i - 1 do
        redis.call("DEL", KEYS[3 * j - 2])
      end
      return token
    end
    token = token[1]
  end
  tokens[i + 1] = token
end
return tokens
`;

/**
 * Multi-key release: the release script on every key, in one script.
 * Replies the release script's reply for each key, in order.
 */
export const MULTI_RELEASE_SCRIPT: string = `-- locco multi release
-- KEYS[3i-2], KEYS[3i-1], KEYS[3i]: the i-th lock key, its waiter queue and
--   its release record, as KEYS[1..3] of the release script
-- ARGV: as the release script's
local function release(lock, queue, record)
  local KEYS = { lock, queue, record }
${RELEASE_SCRIPT}
end
local replies = {}
for i = 1, #KEYS / 3 do
  replies[i] = release(KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i])
end
return replies
`;

/**
 * Multi-key extend: the extend script on every key, in one script. Replies
 * the extend script's reply for each key, in order.
 */
export const MULTI_EXTEND_SCRIPT: string = `-- locco multi extend
-- KEYS[i]: the i-th lock key
-- ARGV: as the extend script's
local function extend(lock)
  local KEYS = { lock }
${EXTEND_SCRIPT}
end
local replies = {}
for i = 1, #KEYS do
  replies[i] = extend(KEYS[i])
end
return replies
`;

/** Multi-key check: replies 1 when every key holds the unique value, else 0. */
export const MULTI_VALID_SCRIPT = `-- locco multi valid
-- KEYS: the lock keys
-- ARGV[1]: the holder's unique value
for i = 1, #KEYS do
  if redis.call("GET", KEYS[i]) ~= ARGV[1] then
    return 0
  end
end
return 1
`;

/** SHA-1 of {@linkcode MULTI_ACQUIRE_SCRIPT}, for EVALSHA. */
export const MULTI_ACQUIRE_SCRIPT_SHA = "0d99802ab7d1bcd292afc6a2d61686be20acbfbe";

/** SHA-1 of {@linkcode MULTI_RELEASE_SCRIPT}, for EVALSHA. */
export const MULTI_RELEASE_SCRIPT_SHA = "95c263d7a7798c93a7f5f1c491fdafe822fbe3d4";

/** SHA-1 of {@linkcode MULTI_EXTEND_SCRIPT}, for EVALSHA. */
export const MULTI_EXTEND_SCRIPT_SHA = "e0d7bb85ba582dba44c2f3db5bdff533c8ebf0ec";

/** SHA-1 of {@linkcode MULTI_VALID_SCRIPT}, for EVALSHA. */
export const MULTI_VALID_SCRIPT_SHA = "3d0c6f8bdf80270f347c37a38df5bf8dec0d3902";

// Semaphores and read-write locks: the holders of one key, all in one Cluster
// slot and apart from lock keys (see _redis_holders.ts):
// KEYS[1]: holders, a sorted set: member "side:unique value" (side "s" for a
//          semaphore slot, "r" / "w" for a read-write lock's sides), score
//          its expiry in ms on the server clock (TIME)
// KEYS[2]: the holders' fences, a hash: member -> fence
// KEYS[3]: the fence counter (the lock acquire's scheme: max(counter + 1,
//          server time in microseconds), so fences never go back)
// KEYS[4]: the queue, a sorted set: member -> the time it first queued (us);
//          semaphore waiters and waiting writers, first come first served
// KEYS[5]: every waiter's deadline, a sorted set: member -> ms; a waiter
//          whose deadline passed (its process died) loses its place
// KEYS[6]: every waiter's wake-up, a hash: member -> "channel\ntoken" (or ""
//          for a waiter that polls)
// ARGV[1]: the side ("s", "r" or "w"); ARGV[2]: the unique value;
// ARGV[3]: the semaphore's limit (1 for a read-write lock);
// ARGV[4]: "1" when PUBLISH counts every receiver (not on Redis Cluster), so
//          a waiter nobody listens for any more is dropped from the queue.
// Every script drops expired holders and lapsed waiters first, and when that
// or its own change may let waiters in, publishes to the waiters entitled
// now: a semaphore's first (limit - holders) queued waiters; for a
// read-write lock, the first waiting writer when nobody holds it, and every
// waiting reader when no writer waits.
const HOLDERS_LUA = `local side, limit, exact = ARGV[1], tonumber(ARGV[3]), ARGV[4]
local member = side .. ":" .. ARGV[2]
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local function ms(value)
  return string.format("%.0f", value)
end
local function leave(m)
  redis.call("ZREM", KEYS[4], m)
  redis.call("ZREM", KEYS[5], m)
  redis.call("HDEL", KEYS[6], m)
end
local function prune()
  local changed = false
  local gone = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", ms(now))
  for i = 1, #gone do
    redis.call("ZREM", KEYS[1], gone[i])
    redis.call("HDEL", KEYS[2], gone[i])
    changed = true
  end
  local lapsed = redis.call("ZRANGEBYSCORE", KEYS[5], "-inf", ms(now))
  for i = 1, #lapsed do
    leave(lapsed[i])
    changed = true
  end
  return changed
end
local function writing()
  local first = redis.call("ZRANGE", KEYS[1], 0, 0)[1]
  return first ~= nil and string.sub(first, 1, 1) == "w"
end
-- the member under which this unique value holds the key, or false
local function held()
  if side == "s" then
    return redis.call("ZSCORE", KEYS[1], member) and member
  end
  for _, each in ipairs({ "r:", "w:" }) do
    if redis.call("ZSCORE", KEYS[1], each .. ARGV[2]) then
      return each .. ARGV[2]
    end
  end
  return false
end
-- why the caller may not take a place now, or false
local function blocked()
  local n = redis.call("ZCARD", KEYS[1])
  if side == "r" then
    if writing() then
      return "write-locked"
    end
    local waiting = redis.call("ZCARD", KEYS[4])
    if waiting > 1 or (waiting == 1 and not redis.call("ZSCORE", KEYS[4], "w:" .. ARGV[2])) then
      return "awaited by a writer"
    end
    return false
  end
  if n >= limit then
    if side == "s" then
      return "full"
    end
    return writing() and "write-locked" or "read-locked"
  end
  local position = redis.call("ZRANK", KEYS[4], member) or redis.call("ZCARD", KEYS[4])
  if position >= limit - n then
    return "promised to an earlier waiter"
  end
  return false
end
-- publishes a waiter's token; false when it was dropped (nobody listens)
local function signal(m)
  local info = redis.call("HGET", KEYS[6], m)
  if not info then
    leave(m)
    return false
  end
  local nl = string.find(info, "\\n", 1, true)
  if not nl then
    return true
  end
  local heard = redis.call("PUBLISH", string.sub(info, 1, nl - 1), string.sub(info, nl + 1))
  if heard > 0 or exact ~= "1" then
    return true
  end
  leave(m)
  return false
end
local function wakeFirst(count)
  local index = 0
  while count > 0 do
    local batch = redis.call("ZRANGE", KEYS[4], index, index + count - 1)
    if #batch == 0 then
      return
    end
    for i = 1, #batch do
      if signal(batch[i]) then
        index = index + 1
        count = count - 1
      end
    end
  end
end
local function wake()
  local n = redis.call("ZCARD", KEYS[1])
  if side == "s" then
    if n < limit then
      wakeFirst(limit - n)
    end
    return
  end
  if writing() then
    return
  end
  if n == 0 then
    wakeFirst(1)
  end
  if redis.call("ZCARD", KEYS[4]) == 0 then
    local readers = redis.call("ZRANGE", KEYS[5], 0, -1)
    for i = 1, #readers do
      signal(readers[i])
    end
  end
end
local function expireHolders()
  local last = redis.call("ZRANGE", KEYS[1], -1, -1, "WITHSCORES")
  if last[2] then
    local left = ms(math.max(1, tonumber(last[2]) - now))
    redis.call("PEXPIRE", KEYS[1], left)
    redis.call("PEXPIRE", KEYS[2], left)
  else
    redis.call("DEL", KEYS[2])
  end
end
local function expireQueue()
  local last = redis.call("ZRANGE", KEYS[5], -1, -1, "WITHSCORES")
  if last[2] then
    local left = ms(math.max(1, tonumber(last[2]) - now))
    for k = 4, 6 do
      redis.call("PEXPIRE", KEYS[k], left)
    end
  end
end`;

/**
 * Takes a place among a key's holders (a semaphore slot, or a read-write
 * lock's side) with its own lease and the next fencing token. Replies the
 * token (a positive integer below 2^53); or, when the unique value already
 * holds this side and ARGV[7] is "1" (a resend: the caller holds no live
 * grant), its token, the lease made ARGV[5] ms from now; else a status
 * string saying why the place was refused ("self", "full", "write-locked",
 * "read-locked", "awaited by a writer", "promised to an earlier waiter").
 */
export const HOLDERS_ACQUIRE_SCRIPT: string = `-- locco holders acquire
-- KEYS and ARGV[1..4]: see HOLDERS_LUA
-- ARGV[5]: the time to live in ms; ARGV[6]: how long the fence counter
-- lives after each acquire, in ms; ARGV[7]: "1" when the caller holds no
-- live grant of this place
${HOLDERS_LUA}
local pruned = prune()
local result
local mine = held()
if mine then
  result = "self"
  if mine == member and ARGV[7] == "1" then
    local fence = tonumber(redis.call("HGET", KEYS[2], member))
    if fence then
      redis.call("ZADD", KEYS[1], ms(now + tonumber(ARGV[5])), member)
      expireHolders()
      result = fence
    end
  end
else
  result = blocked()
  if not result then
    local fence = tonumber(time[1]) * 1000000 + tonumber(time[2])
    local last = tonumber(redis.call("GET", KEYS[3]))
    if last ~= nil and last >= fence then
      if last >= 9007199254740990 then
        return redis.error_reply("locco: the fence counter " .. KEYS[3] .. " is out of range")
      end
      fence = last + 1
    end
    redis.call("SET", KEYS[3], ms(fence), "PX", ARGV[6])
    redis.call("ZADD", KEYS[1], ms(now + tonumber(ARGV[5])), member)
    redis.call("HSET", KEYS[2], member, ms(fence))
    leave(member)
    expireHolders()
    result = fence
  end
end
if pruned then
  wake()
end
return result
`;

/**
 * Gives up this unique value's place: 1 when it held one (live), else 0.
 * Unlike the lock release, it keeps no record of past releases: a second
 * run (a resend) has the effect of one but replies 0.
 */
export const HOLDERS_RELEASE_SCRIPT: string = `-- locco holders release
-- KEYS and ARGV[1..4]: see HOLDERS_LUA
${HOLDERS_LUA}
local changed = prune()
local result = 0
if redis.call("ZREM", KEYS[1], member) == 1 then
  redis.call("HDEL", KEYS[2], member)
  expireHolders()
  result = 1
  changed = true
end
if changed then
  wake()
end
return result
`;

/** Makes this unique value's live place last ARGV[5] ms from now: 1, or 0 when it holds none. */
export const HOLDERS_EXTEND_SCRIPT: string = `-- locco holders extend
-- KEYS and ARGV[1..4]: see HOLDERS_LUA
-- ARGV[5]: the new time to live in ms
${HOLDERS_LUA}
local pruned = prune()
local result = 0
if redis.call("ZSCORE", KEYS[1], member) then
  redis.call("ZADD", KEYS[1], ms(now + tonumber(ARGV[5])), member)
  expireHolders()
  result = 1
end
if pruned then
  wake()
end
return result
`;

/**
 * A waiter asks for its turn: replies 0 when it may take a place now (it is
 * not queued then); else it queues (keeping its place when queued already;
 * a reader only listens) until ARGV[5] ms from now, with ARGV[6] as its
 * wake-up, and replies the ms until the soonest holder expires (-1: none).
 */
export const HOLDERS_WAIT_SCRIPT: string = `-- locco holders wait
-- KEYS and ARGV[1..4]: see HOLDERS_LUA
-- ARGV[5]: how long the waiter's place lasts unless it asks again, in ms
-- ARGV[6]: "channel\\ntoken" to publish when it may go, or "" (it polls)
${HOLDERS_LUA}
local pruned = prune()
local result = 0
if held() or blocked() then
  if side ~= "r" then
    redis.call("ZADD", KEYS[4], "NX", ms(tonumber(time[1]) * 1000000 + tonumber(time[2])), member)
  end
  redis.call("ZADD", KEYS[5], ms(now + tonumber(ARGV[5])), member)
  redis.call("HSET", KEYS[6], member, ARGV[6])
  expireQueue()
  local first = redis.call("ZRANGE", KEYS[1], 0, 0, "WITHSCORES")
  result = -1
  if first[2] then
    result = math.max(1, tonumber(first[2]) - now)
  end
end
if pruned then
  wake()
end
return result
`;

/** A waiter that stops waiting gives up its place, and whoever that lets in is woken. */
export const HOLDERS_LEAVE_SCRIPT: string = `-- locco holders leave
-- KEYS and ARGV[1..4]: see HOLDERS_LUA
${HOLDERS_LUA}
prune()
leave(member)
wake()
return 1
`;

/** 1 while this unique value holds a live place, else 0. Writes nothing. */
export const HOLDERS_CHECK_SCRIPT: string = `-- locco holders check
-- KEYS[1]: the holders; ARGV[1]: the side; ARGV[2]: the unique value
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local expiry = redis.call("ZSCORE", KEYS[1], ARGV[1] .. ":" .. ARGV[2])
if expiry and tonumber(expiry) > now then
  return 1
end
return 0
`;

/**
 * Inspect the holders: 0 when no live holder, else `{ms, fence}`: the ms
 * until the soonest (ARGV[1] "first") or latest ("last") live lease ends,
 * and the newest live holder's fence. Writes nothing.
 */
export const HOLDERS_INSPECT_SCRIPT: string = `-- locco holders inspect
-- KEYS[1]: the holders; KEYS[2]: their fences
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local live = redis.call("ZRANGEBYSCORE", KEYS[1], "(" .. string.format("%.0f", now), "+inf",
  "WITHSCORES")
if #live == 0 then
  return 0
end
local at = tonumber(live[2])
if ARGV[1] == "last" then
  at = tonumber(live[#live])
end
local fence = 0
for i = 1, #live, 2 do
  local each = tonumber(redis.call("HGET", KEYS[2], live[i]))
  if each and each > fence then
    fence = each
  end
end
return { math.max(1, at - now), fence }
`;

/** SHA-1 of {@linkcode HOLDERS_ACQUIRE_SCRIPT}, for EVALSHA. */
export const HOLDERS_ACQUIRE_SCRIPT_SHA = "6d380b105a133e86e67cf050a70316119cbce645";

/** SHA-1 of {@linkcode HOLDERS_RELEASE_SCRIPT}, for EVALSHA. */
export const HOLDERS_RELEASE_SCRIPT_SHA = "47ab70439d831ed343ba1f03440b8359b27d2268";

/** SHA-1 of {@linkcode HOLDERS_EXTEND_SCRIPT}, for EVALSHA. */
export const HOLDERS_EXTEND_SCRIPT_SHA = "094cfb70689df61423c5d8942c9bf956a3ad8f22";

/** SHA-1 of {@linkcode HOLDERS_WAIT_SCRIPT}, for EVALSHA. */
export const HOLDERS_WAIT_SCRIPT_SHA = "a7064022597bc607f680ef8b43f97f3e15209460";

/**
 * SHA-1 of {@linkcode HOLDERS_LEAVE_SCRIPT}. Unused: leaving is sent with
 * EVAL, one command, written before any QUIT that follows.
 */
export const HOLDERS_LEAVE_SCRIPT_SHA = "cda94efe9d9cd37f697eaf64f34900029d970002";

/** SHA-1 of {@linkcode HOLDERS_CHECK_SCRIPT}, for EVALSHA. */
export const HOLDERS_CHECK_SCRIPT_SHA = "1777d038cd01942f783626a32869fc9951238dbb";

/** SHA-1 of {@linkcode HOLDERS_INSPECT_SCRIPT}, for EVALSHA. */
export const HOLDERS_INSPECT_SCRIPT_SHA = "bfb283118c5bd78b201fa59f812660db18a92f79";
