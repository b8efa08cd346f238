// Copyright 2026 the locco authors. MIT license.
// The two Lua scripts of the Redis adapter and their SHA-1 digests, which
// EVALSHA needs. The digests are constants so that no hashing happens at run
// time; tests/adapters/redis_test.ts checks them against the script text and
// against Redis's own SCRIPT LOAD.

/** Reply of a script when the unique value held the key and the action ran. */
export const SCRIPT_DONE = 1;
/** Reply of a script when the key does not exist (expired or released). */
export const SCRIPT_MISSING = 0;
/** Reply of a script when another unique value holds the key. */
export const SCRIPT_TAKEN = -1;

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

/** SHA-1 of {@linkcode RELEASE_SCRIPT}, for EVALSHA. */
export const RELEASE_SCRIPT_SHA = "90d1d126243fc492f1e8099e679cde292777125c";

/** SHA-1 of {@linkcode EXTEND_SCRIPT}, for EVALSHA. */
export const EXTEND_SCRIPT_SHA = "bb5373092ece8ceb857b0f6639f507854ffabe68";
