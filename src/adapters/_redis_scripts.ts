// Copyright 2026 the locco authors. MIT license.
// The Lua scripts of the Redis adapter and their SHA-1 digests, which
// EVALSHA needs. The digests are constants so that no hashing happens at run
// time; scripts/redis_script_shas.ts recomputes them (`deno run
// scripts/redis_script_shas.ts --check` fails when one is stale), and the
// adapter tests fail if a digest is wrong, since every call would then fall
// back to EVAL.

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
-- The token is max(stored counter + 1, server time in microseconds): it grows
-- by one per acquire while the counter lives, and never goes back after the
-- counter was lost (expiry, eviction, DEL, a restart without persistence)
-- because the server clock moved on meanwhile; at about 1.8e15 it is exact
-- in a Lua double and in a JavaScript number.
if not redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2], "NX") then
  return -1 - math.max(redis.call("PTTL", KEYS[1]), 0)
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
export const RELEASE_SCRIPT = `-- locco release
-- KEYS[1]: the lock key (prefix included)
-- ARGV[1]: the holder's unique value
-- Returns 1 when the key held ARGV[1] and was deleted, 0 when the key does
-- not exist, -1 when another value holds it (the key is left untouched).
-- GET on a key of another type raises WRONGTYPE, which reaches the caller.
local value = redis.call("GET", KEYS[1])
if value == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
if value == false then
  return 0
end
return -1
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
export const ACQUIRE_SCRIPT_SHA = "01587ecd69d21d8430d852c600ff62986d69e8d6";

/** SHA-1 of {@linkcode RELEASE_SCRIPT}, for EVALSHA. */
export const RELEASE_SCRIPT_SHA = "90d1d126243fc492f1e8099e679cde292777125c";

/** SHA-1 of {@linkcode EXTEND_SCRIPT}, for EVALSHA. */
export const EXTEND_SCRIPT_SHA = "bb5373092ece8ceb857b0f6639f507854ffabe68";
