-- beat-delete: deletes a schedule with its fire records (and their entries in the fire indexes), and moves the
-- version, in one step: a claim can never record a fire of a schedule that is half deleted, and a schedule created
-- again under the name starts without old claims that would make its slots duplicates.
-- KEYS[1]: the set of names. KEYS[2]: the schedule's hash. KEYS[3]: its fire records (hash slot -> JSON).
-- KEYS[4]: unsent fires (sorted set). KEYS[5]: sent fires (sorted set). KEYS[6]: the version counter.
-- ARGV[1]: name.
-- Returns 1, or 0 (nothing changed) when there was no such schedule.
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
for _, slot in ipairs(redis.call('HKEYS', KEYS[3])) do
  local member = slot .. ' ' .. ARGV[1]
  redis.call('ZREM', KEYS[4], member)
  redis.call('ZREM', KEYS[5], member)
end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('INCR', KEYS[6])
return 1
