-- beat-claim: records the fire of one slot of one schedule, exactly once across every beat, in one step:
--   fenced    unless ARGV[1] is the current lease's token and that lease has not expired at ARGV[2] (a beat that
--             lost the lease, however long it was paused, records nothing);
--   missing   when no schedule has that name;
--   duplicate when that (name, slot) was claimed before, by anyone (HSETNX on the slot);
--   claimed   otherwise: the fire is recorded unsent and indexed as unsent under its token, and the run state
--             updated (last_slot the max, last_run_at, total_runs + 1, last_task_id, next_due_at).
-- KEYS[1]: the lease hash. KEYS[2]: the schedule's hash. KEYS[3]: its fire records (hash slot -> JSON).
-- KEYS[4]: unsent fires (sorted set of '<slot> <name>' scored by token, for unsentFires).
-- ARGV[1]: token. ARGV[2]: now (epoch ms). ARGV[3]: name. ARGV[4]: slot (epoch ms).
-- ARGV[5]: the fire record as JSON, '{"sent":false,' first and "claimedAt" last (beat-mark-sent.lua relies on it).
-- ARGV[6]: task id. ARGV[7]: next_due_at (epoch ms), '' = null.
-- Returns the outcome as a string.
local lease = redis.call('HMGET', KEYS[1], 'token', 'expires_at')
if not lease[1] or tonumber(lease[1]) ~= tonumber(ARGV[1]) then return 'fenced' end
if not lease[2] or tonumber(lease[2]) <= tonumber(ARGV[2]) then return 'fenced' end
if redis.call('EXISTS', KEYS[2]) == 0 then return 'missing' end
if redis.call('HSETNX', KEYS[3], ARGV[4], ARGV[5]) == 0 then return 'duplicate' end
redis.call('ZADD', KEYS[4], ARGV[1], ARGV[4] .. ' ' .. ARGV[3])
-- The caller's strings are stored as they came, so no number goes through Lua's float formatting.
local last = redis.call('HGET', KEYS[2], 'last_slot')
if not last or tonumber(ARGV[4]) > tonumber(last) then redis.call('HSET', KEYS[2], 'last_slot', ARGV[4]) end
redis.call('HSET', KEYS[2], 'last_run_at', ARGV[2], 'last_task_id', ARGV[6])
redis.call('HINCRBY', KEYS[2], 'total_runs', 1)
if ARGV[7] == '' then
  redis.call('HDEL', KEYS[2], 'next_due_at')
else
  redis.call('HSET', KEYS[2], 'next_due_at', ARGV[7])
end
return 'claimed'
