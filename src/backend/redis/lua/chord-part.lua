-- chord-part: records one finished member of a chord header in Celery 5.2's Redis layout, so Python Celery workers
-- and ours can be members of the same chord, and decides in the same step whether this member completes it.
-- Celery counts in one transaction and deletes the keys in another, after sending the body, so a redelivered member
-- arriving in between sees the full count again and fires the body a second time; here counting and completing are
-- one step, and exactly one caller sees the parts.
-- KEYS[1]: <gid>.j, the parts: a sorted set of JSON members [1, task_id, state, result] scored by group index.
-- KEYS[2]: <gid>.t, how many members joined the header after the size was set (Celery's add_to_chord increments
--          it when a member replaces itself); missing = 0.
-- KEYS[3]: <gid>.s, the chord size, set by the producer (Celery's set_chord_size); missing = size not known (yet),
--          or the chord already completed.
-- KEYS[4]: <gid>.f, ours alone (Celery never reads it): the task id of the member that completed the chord.
-- KEYS[5]: <gid>.i, ours alone: a hash of the task ids recorded so far. Celery counts a member once only while its
--          bytes are the same; a redelivered member whose result differs (a timestamp, a random id) would count
--          twice and fire the body early without a real member. Python members are not in it, and need not be:
--          they never repeat through this script.
-- ARGV[1]: the member's score, its group index, or +inf when it has none (parts without one sort last).
-- ARGV[2]: the member, as Celery encodes it: Python json.dumps text of [1, task_id, state, result].
-- ARGV[3]: the member's task id.
-- ARGV[4]: time to live in ms of every key written; 0 = no expiry (Celery then sets none either).
-- Returns the parts as ZRANGE .j 0 -1 WITHSCORES (member, score, member, score, ...) to the member whose part made
-- the count reach size + adjustment, and again to that same member while .f exists (a redelivery before the body
-- was sent); nil to everyone else.
-- On completion .s and .t are deleted, as Celery does, so no later member, ours or Python's, can complete the
-- chord again; .j is kept (and .f set) for the completing member's repeat until chordDone deletes both. While .f
-- exists nothing is added to .j, so that repeat gets exactly the set it got the first time.
local ttl = tonumber(ARGV[4])
local completedBy = redis.call('GET', KEYS[4])
if completedBy then
  if completedBy ~= ARGV[3] then return false end
  local again = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
  -- .j expires a moment before .f: a repeat in that gap gets nil, never an empty list of parts.
  if #again == 0 then return false end
  return again
end
if redis.call('HSETNX', KEYS[5], ARGV[3], 1) == 0 then return false end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[5], ttl)
  -- Every part renews the whole join, as Celery's EXPIREs after each ZADD do (PEXPIRE of a missing key is a no-op).
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
end
local size = redis.call('GET', KEYS[3])
if not size then return false end
-- ZCARD is Celery's ZCOUNT -inf +inf (every member has a score in that range), in O(1).
local count = redis.call('ZCARD', KEYS[1])
if count ~= tonumber(size) + tonumber(redis.call('GET', KEYS[2]) or '0') then return false end
local parts = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
redis.call('DEL', KEYS[2], KEYS[3], KEYS[5])
if ttl > 0 then
  redis.call('SET', KEYS[4], ARGV[3], 'PX', ttl)
else
  redis.call('SET', KEYS[4], ARGV[3])
end
return parts
