-- beat-list: every schedule, ordered by name (byte order), read in one step so the list is one consistent view.
-- KEYS[1]: the set of names.
-- ARGV[1]: the key prefix (<global prefix>celerity:beat:).
-- Returns one entry per schedule: { name, { field, value, field, value, ... } } (its hash, as HGETALL).
local all = {}
for _, name in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local fields = redis.call('HGETALL', ARGV[1] .. 'schedule:' .. name)
  if #fields > 0 then all[#all + 1] = { name, fields } end
end
return all
