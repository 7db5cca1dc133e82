-- beat-pause: sets a schedule's paused flag and updated_at, and moves the version in the same step.
-- KEYS[1]: the schedule's hash. KEYS[2]: the version counter.
-- ARGV[1]: '1' (paused) or '0'. ARGV[2]: now (epoch ms).
-- Returns 1, or 0 (nothing changed) when no schedule has that name.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'paused', ARGV[1], 'updated_at', ARGV[2])
redis.call('INCR', KEYS[2])
return 1
