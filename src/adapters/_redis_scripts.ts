// Copyright 2026 the locco authors. MIT license.
// The Lua scripts of the Redis adapter and their SHA-1 digests, which
// EVALSHA needs. The digests are constants so that no hashing happens at run
// time; scripts/redis_script_shas.ts recomputes them (`deno run
// scripts/redis_script_shas.ts --check` fails when one is stale), and the
// adapter tests fail if a digest is wrong, since every call would then fall
// back to EVAL.

// The key was released by its holder: hand it to the first waiter in the
// queue, or delete it when nobody waits.
const HANDOFF_LUA = `local waiter = redis.call("LPOP", KEYS[2])
if waiter then
  redis.call("SET", KEYS[1], "\\0locco-handoff\\0" .. waiter, "PX", ARGV[3])
  redis.call("PUBLISH", ARGV[2], KEYS[1] .. "\\n" .. waiter)
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
 * Acquire: `SET key value PX ttl NX`, and when that took the key, issue the
 * next fencing token in the same script. Replies the token (a positive
 * integer below 2^53) when the lock was taken, or a negative number when
 * another lock holds the key: `-1 - pttl` (`-1` when the key has no expiry).
 */
export const ACQUIRE_SCRIPT = `-- locco acquire
-- KEYS[1]: the lock key (prefix included)
-- KEYS[2]: the fence counter key, in the same Cluster slot as KEYS[1]
-- ARGV[1]: the holder's unique value
-- ARGV[2]: the time to live in milliseconds (integer, 1 to 2147483647)
-- ARGV[3]: how long the fence counter key lives after each acquire, in ms
-- KEYS[3]: the waiter queue (a list of unique values), same slot
-- ARGV[4]: "1" when the caller waits in the queue: it may then claim a key
--          handed off to it, and leaves the queue when it takes the key
-- The token is max(stored counter + 1, server time in microseconds): it grows
-- by one per acquire while the counter lives, and never goes back after the
-- counter was lost (expiry, eviction, DEL, a restart without persistence)
-- because the server clock moved on meanwhile; at about 1.8e15 it is exact
-- in a Lua double and in a JavaScript number.
if not redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2], "NX") then
  local current = ARGV[4] == "1" and redis.pcall("GET", KEYS[1])
  if current ~= "\\0locco-handoff\\0" .. ARGV[1] then
    return -1 - math.max(redis.call("PTTL", KEYS[1]), 0)
  end
  -- released to us by the previous holder: take it
  redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
end
if ARGV[4] == "1" then
  redis.call("LREM", KEYS[3], 1, ARGV[1])
end
local stored = redis.pcall("GET", KEYS[2])
if type(stored) == "table" and stored.err then
  -- the counter key holds another type: undo the SET, report the error
  redis.call("DEL", KEYS[1])
  return stored
end
local time = redis.call("TIME")
local fence = tonumber(time[1]) * 1000000 + tonumber(time[2])
local last = tonumber(stored)
if last ~= nil and last >= fence then
  if last >= 9007199254740990 then
    redis.call("DEL", KEYS[1])
    return redis.error_reply("locco: the fence counter " .. KEYS[2] .. " is out of range")
  end
  fence = last + 1
end
redis.call("SET", KEYS[2], string.format("%.0f", fence), "PX", ARGV[3])
return fence
`;

/** Compare-and-delete: releases the lock only while this unique value holds it. */
export const RELEASE_SCRIPT: string = `-- locco release
-- KEYS[1]: the lock key (prefix included)
-- KEYS[2]: the waiter queue of the key (a list of unique values), same slot
-- ARGV[1]: the holder's unique value
-- ARGV[2]: the channel that announces hand-offs
-- ARGV[3]: how long a hand-off waits for its waiter to claim it, in ms
-- Returns 1 when the key held ARGV[1] and was released, 0 when the key does
-- not exist, -1 when another value holds it (the key is left untouched).
-- With waiters queued, the key is not deleted but handed off: it holds
-- "\\0locco-handoff\\0" .. waiter for ARGV[3] ms, so only that waiter can take
-- it, and the key, a newline and the waiter are published on ARGV[2]. GET on a key of another
-- type raises WRONGTYPE, which reaches the caller.
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
 * replies 0 (attempt now) and does not enqueue; else appends the unique
 * value to the queue unless it is there, and replies the key's PTTL (-1 when
 * it has no expiry).
 */
export const ENQUEUE_SCRIPT = `-- locco enqueue
-- KEYS[1]: the lock key (prefix included)
-- KEYS[2]: the waiter queue of the key, same slot
-- ARGV[1]: the waiter's unique value
-- ARGV[2]: how long the queue lives after the last enqueue, in ms
local value = redis.pcall("GET", KEYS[1])
if value == false or value == "\\0locco-handoff\\0" .. ARGV[1] then
  return 0
end
if not redis.call("LPOS", KEYS[2], ARGV[1]) then
  redis.call("RPUSH", KEYS[2], ARGV[1])
  redis.call("PEXPIRE", KEYS[2], ARGV[2])
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
-- ARGV[2]: the channel that announces hand-offs
-- ARGV[3]: how long a hand-off waits for its waiter to claim it, in ms
redis.call("LREM", KEYS[2], 0, ARGV[1])
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
export const ACQUIRE_SCRIPT_SHA = "a99d8014fa42bb08cc662e0d62ddd1df6d29886f";

/** SHA-1 of {@linkcode ENQUEUE_SCRIPT}, for EVALSHA. */
export const ENQUEUE_SCRIPT_SHA = "b4f51b7c7b9fe092bfadcd74e05a3ff26e00e668";

/** SHA-1 of {@linkcode LEAVE_SCRIPT}, for EVALSHA. */
export const LEAVE_SCRIPT_SHA = "c3777ada37d7dab0d44fbf5b2b6faf5bb13cded4";

/** SHA-1 of {@linkcode RELEASE_SCRIPT}, for EVALSHA. */
export const RELEASE_SCRIPT_SHA = "0ae60598a027d7b86643b25028f21f92eaa41c4b";

/** SHA-1 of {@linkcode EXTEND_SCRIPT}, for EVALSHA. */
export const EXTEND_SCRIPT_SHA = "bb5373092ece8ceb857b0f6639f507854ffabe68";
