-- beat-prune: deletes up to ARGV[3] sent fire records claimed before ARGV[2], oldest first; unsent ones stay until
-- a leader sends them. Called again until it deletes fewer than asked, so no single call holds Redis for long.
-- The schedules' fire hashes are found from the index members ('<slot> <name>') and ARGV[1], the way the client
-- names them (single Redis or Sentinel only, as the whole adapter).
-- KEYS[1]: sent fires (sorted set scored by claimed_at).
-- ARGV[1]: the key prefix (<global prefix>celerity:beat:). ARGV[2]: the cutoff (epoch ms, exclusive).
-- ARGV[3]: at most this many.
-- Returns how many records were deleted.
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(members) do
  local space = string.find(member, ' ', 1, true)
  redis.call('HDEL', ARGV[1] .. 'fires:' .. string.sub(member, space + 1), string.sub(member, 1, space - 1))
  redis.call('ZREM', KEYS[1], member)
end
return #members
