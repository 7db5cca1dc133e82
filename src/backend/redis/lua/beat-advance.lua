-- beat-advance: records that slots up to ARGV[4] were passed over (misfire policy skip), under beat-claim.lua's
-- fencing rule in the same step: last_slot becomes the max and next_due_at is set. No fire record, no run counted.
-- KEYS[1]: the lease hash. KEYS[2]: the schedule's hash.
-- ARGV[1]: token. ARGV[2]: now (epoch ms). ARGV[3]: slot (epoch ms). ARGV[4]: next_due_at (epoch ms), '' = null.
-- Returns 1, or 0 when fenced or when no schedule has that name.
local lease = redis.call('HMGET', KEYS[1], 'token', 'expires_at')
if not lease[1] or tonumber(lease[1]) ~= tonumber(ARGV[1]) then return 0 end
if not lease[2] or tonumber(lease[2]) <= tonumber(ARGV[2]) then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
local last = redis.call('HGET', KEYS[2], 'last_slot')
if not last or tonumber(ARGV[3]) > tonumber(last) then redis.call('HSET', KEYS[2], 'last_slot', ARGV[3]) end
if ARGV[4] == '' then
  redis.call('HDEL', KEYS[2], 'next_due_at')
else
  redis.call('HSET', KEYS[2], 'next_due_at', ARGV[4])
end
return 1
