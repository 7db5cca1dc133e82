--[[
purge.lua: empties a queue: its four priority lists and its parked messages, counting what was there (kombu's
purge counts and deletes the lists the same way; reserved messages are left alone).

KEYS  the queue's lists and its parked sorted set

Returns how many messages were removed.
]]
local n = 0
for _, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key)['ok']
  if kind == 'list' then
    n = n + redis.call('LLEN', key)
  elseif kind == 'zset' then
    n = n + redis.call('ZCARD', key)
  end
  redis.call('DEL', key)
end
return n
