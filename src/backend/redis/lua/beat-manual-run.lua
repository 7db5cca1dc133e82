-- beat-manual-run: counts a task sent by hand ("run now"): total_runs + 1, last_run_at and last_task_id; the slots
-- are left alone, so the schedule keeps its own rhythm. One step, so it never recreates a deleted schedule.
-- KEYS[1]: the schedule's hash.
-- ARGV[1]: task id. ARGV[2]: now (epoch ms).
-- Returns 1, or 0 when no schedule has that name.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'total_runs', 1)
redis.call('HSET', KEYS[1], 'last_run_at', ARGV[2], 'last_task_id', ARGV[1])
return 1
