--[[
expired.lua: reads the unacked entries whose reservation is older than the visibility timeout, for restore to
rebuild and hand to move-unacked.lua. Reads only.

KEYS[1]  unacked_index  sorted set
KEYS[2]  unacked        hash
ARGV[1]  ceiling (epoch seconds): entries scored at or below it have timed out
ARGV[2]  at most this many

Returns { tag1, entry1, tag2, entry2, ... }; an entry is nil when only the index knows the tag.
]]
local tags = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for i, tag in ipairs(tags) do
  out[2 * i - 1] = tag
  out[2 * i] = redis.call('HGET', KEYS[2], tag)
end
return out
