-- beat-unsent: the fire records claimed but never marked sent whose token is below ARGV[2] (their beat lost the
-- lease before sending them), read in one step so none is seen half deleted.
-- KEYS[1]: unsent fires (sorted set of '<slot> <name>' scored by token).
-- ARGV[1]: the key prefix (<global prefix>celerity:beat:). ARGV[2]: the token bound (exclusive).
-- Returns name, slot, record JSON, name, slot, record JSON, ... (the caller orders them).
local found = {}
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])) do
  local space = string.find(member, ' ', 1, true)
  local name, slot = string.sub(member, space + 1), string.sub(member, 1, space - 1)
  local record = redis.call('HGET', ARGV[1] .. 'fires:' .. name, slot)
  if record then
    found[#found + 1] = name
    found[#found + 1] = slot
    found[#found + 1] = record
  end
end
return found
