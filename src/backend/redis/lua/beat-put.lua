-- beat-put: inserts a schedule or replaces its definition and source, keeping its run state, and moves the version
-- in the same step (a beat that sees the new version is sure to read the new definition). The paused flag is set
-- only when given; a new schedule starts unpaused, with no runs.
-- KEYS[1]: the set of names (sorted set, every score 0, so members come back in byte order).
-- KEYS[2]: the schedule's hash (definition, source, paused, run state; a field left out is null).
-- KEYS[3]: the version counter.
-- ARGV[1]: name. ARGV[2]: definition (JSON text, opaque here). ARGV[3]: source ('config' or 'runtime').
-- ARGV[4]: paused: '1', '0', or '' = keep (unpaused when new). ARGV[5]: now (epoch ms).
-- Returns 1.
if redis.call('EXISTS', KEYS[2]) == 0 then
  local paused = ARGV[4]
  if paused == '' then paused = '0' end
  redis.call('HSET', KEYS[2], 'definition', ARGV[2], 'source', ARGV[3], 'paused', paused, 'total_runs', '0', 'updated_at', ARGV[5])
  redis.call('ZADD', KEYS[1], 0, ARGV[1])
else
  redis.call('HSET', KEYS[2], 'definition', ARGV[2], 'source', ARGV[3], 'updated_at', ARGV[5])
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], 'paused', ARGV[4]) end
end
redis.call('INCR', KEYS[3])
return 1
