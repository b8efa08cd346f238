// Copyright 2026 the locco authors. MIT license.
// The Lua scripts of the Redis adapter and their SHA-1 digests, which
// EVALSHA needs. The digests are constants so that no hashing happens at run
// time; scripts/redis_script_shas.ts recomputes them (`deno run
// scripts/redis_script_shas.ts --check` fails when one is stale), and the
// adapter tests fail if a digest is wrong, since every call would then fall
// back to EVAL.

// The key was released by its holder: hand it to the first waiter in the
// queue, or delete it when nobody waits. A queue entry is "channel id\n" ..
// unique value: the hand-off is published on the waiter's own channel,
// ARGV[2] .. channel id, so only the waiter's process hears of it.
const HANDOFF_LUA = `local waiter = redis.call("LPOP", KEYS[2])
if waiter then
  local at = string.find(waiter, "\\n", 1, true)
  local channel, value = ARGV[2], waiter
  if at then
    channel = ARGV[2] .. string.sub(waiter, 1, at - 1)
    value = string.sub(waiter, at + 1)
  end
  redis.call("SET", KEYS[1], "\\0locco-handoff\\0" .. value, "PX", ARGV[3])
  redis.call("PUBLISH", channel, KEYS[1] .. "\\n" .. value)
else
  redis.call("DEL", KEYS[1])
end`;

/** Reply of a script when the unique value held the key and the action ran. */
export const SCRIPT_DONE = 1;
/** Reply of a script when the key does not exist (expired or released). */
export const SCRIPT_MISSING = 0;
/** Reply of a script when another unique value holds the key. */
export const SCRIPT_TAKEN = -1;

/**
 * Acquire: `SET key value PX ttl NX` (or, for a waiter, the claim of a key
 * handed off to it), and when that took the key, issue the next fencing
 * token in the same script. Replies the token (a positive integer below
 * 2^53) when the lock was taken, or a negative number when another lock
 * holds the key: `-1 - pttl` (`-1` when the key has no expiry).
 */
export const ACQUIRE_SCRIPT = `-- locco acquire
-- KEYS[1]: the lock key (prefix included)
-- KEYS[2]: the fence counter key, in the same Cluster slot as KEYS[1]
-- KEYS[3]: the waiter queue (a list of queue entries), same slot
-- ARGV[1]: the holder's unique value
-- ARGV[2]: the time to live in milliseconds (integer, 1 to 2147483647)
-- ARGV[3]: how long the fence counter key lives after each acquire, in ms
-- ARGV[4]: "" when the caller does not wait in the queue; else its queue
--          entry: it may then claim a key handed off to it, and leaves the
--          queue when it takes the key
-- ARGV[5]: "1" when the caller heard that the key was handed off to it
-- The token is max(stored counter + 1, server time in microseconds): it grows
-- by one per acquire while the counter lives, and never goes back after the
-- counter was lost (expiry, eviction, DEL, a restart without persistence)
-- because the server clock moved on meanwhile; at about 1.8e15 it is exact
-- in a Lua double and in a JavaScript number.
local handoff = "\\0locco-handoff\\0" .. ARGV[1]
if ARGV[5] == "1" and redis.pcall("GET", KEYS[1]) == handoff then
  -- handed off to us (which took us out of the queue): take it
  redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
elseif redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2], "NX") then
  if ARGV[4] ~= "" then
    redis.call("LREM", KEYS[3], 1, ARGV[4])
  end
elseif ARGV[4] ~= "" and redis.pcall("GET", KEYS[1]) == handoff then
  redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
else
  return -1 - math.max(redis.call("PTTL", KEYS[1]), 0)
end
local time = redis.call("TIME")
local fence = tonumber(time[1]) * 1000000 + tonumber(time[2])
-- SET ... GET writes the time and replies the previous token in one command
local stored = redis.pcall("SET", KEYS[2], string.format("%.0f", fence), "PX", ARGV[3], "GET")
if type(stored) == "table" and stored.err then
  -- the counter key holds another type (left as it was): undo, report
  redis.call("DEL", KEYS[1])
  return stored
end
local last = tonumber(stored)
if last ~= nil and last >= fence then
  if last >= 9007199254740990 then
    redis.call("SET", KEYS[2], stored, "PX", ARGV[3])
    redis.call("DEL", KEYS[1])
    return redis.error_reply("locco: the fence counter " .. KEYS[2] .. " is out of range")
  end
  fence = last + 1
  redis.call("SET", KEYS[2], string.format("%.0f", fence), "PX", ARGV[3])
end
return fence
`;

/** Compare-and-delete: releases the lock only while this unique value holds it. */
export const RELEASE_SCRIPT: string = `-- locco release
-- KEYS[1]: the lock key (prefix included)
-- KEYS[2]: the waiter queue of the key (a list of queue entries), same slot
-- ARGV[1]: the holder's unique value
-- ARGV[2]: the prefix of the waiters' hand-off channels
-- ARGV[3]: how long a hand-off waits for its waiter to claim it, in ms
-- Returns 1 when the key held ARGV[1] and was released, 0 when the key does
-- not exist, -1 when another value holds it (the key is left untouched).
-- With waiters queued, the key is not deleted but handed off: it holds
-- "\\0locco-handoff\\0" .. waiter for ARGV[3] ms, so only that waiter can take
-- it, and the key, a newline and the waiter are published on the waiter's
-- channel. GET on a key of another type raises WRONGTYPE, which reaches the
-- caller.
local value = redis.call("GET", KEYS[1])
if value ~= ARGV[1] then
  if value == false then
    return 0
  end
  return -1
end
${HANDOFF_LUA}
return 1
`;

/**
 * A waiter enqueues itself: when the key is free (or handed off to it),
 * replies 0 (attempt now) and does not enqueue; else appends its entry to
 * the queue (unless it is there) and replies the key's PTTL (-1 when it has
 * no expiry), or -2 when the caller did not ask for it.
 */
export const ENQUEUE_SCRIPT = `-- locco enqueue
-- KEYS[1]: the lock key (prefix included)
-- KEYS[2]: the waiter queue of the key, same slot
-- ARGV[1]: the waiter's unique value
-- ARGV[2]: how long the queue lives after the last enqueue, in ms
-- ARGV[3]: the waiter's queue entry: "channel id\\n" .. unique value
-- ARGV[4]: "1" when the entry may be in the queue already: look first
-- ARGV[5]: "1" to reply the key's PTTL
local value = redis.pcall("GET", KEYS[1])
if value == false or value == "\\0locco-handoff\\0" .. ARGV[1] then
  return 0
end
if ARGV[4] ~= "1" or not redis.call("LPOS", KEYS[2], ARGV[3]) then
  redis.call("RPUSH", KEYS[2], ARGV[3])
  redis.call("PEXPIRE", KEYS[2], ARGV[2])
end
if ARGV[5] ~= "1" then
  return -2
end
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
-- ARGV[2]: the prefix of the waiters' hand-off channels
-- ARGV[3]: how long a hand-off waits for its waiter to claim it, in ms
-- ARGV[4]: the waiter's queue entry
redis.call("LREM", KEYS[2], 0, ARGV[4])
if redis.pcall("GET", KEYS[1]) == "\\0locco-handoff\\0" .. ARGV[1] then
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
-- gone stays gone.
local value = redis.call("GET", KEYS[1])
if value == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
if value == false then
  return 0
end
return -1
`;

/** SHA-1 of {@linkcode ACQUIRE_SCRIPT}, for EVALSHA. */
export const ACQUIRE_SCRIPT_SHA = "b1910f30331e653ff39b5ec00c7ed09c9262a426";

/** SHA-1 of {@linkcode ENQUEUE_SCRIPT}, for EVALSHA. */
export const ENQUEUE_SCRIPT_SHA = "0ffc146d9036e5475c8316053129f1b108999f39";

/** SHA-1 of {@linkcode LEAVE_SCRIPT}, for EVALSHA. */
export const LEAVE_SCRIPT_SHA = "277d1090778e11b626b50647f7c58c91db555313";

/** SHA-1 of {@linkcode RELEASE_SCRIPT}, for EVALSHA. */
export const RELEASE_SCRIPT_SHA = "31a73edf30ee25fec68520cd45038a215d6d1a80";

/** SHA-1 of {@linkcode EXTEND_SCRIPT}, for EVALSHA. */
export const EXTEND_SCRIPT_SHA = "bb5373092ece8ceb857b0f6639f507854ffabe68";
