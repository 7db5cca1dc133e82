--[[
ack.lua: forgets delivered messages, as kombu's ack does (ZREM unacked_index + HDEL unacked), for any number of
tags in one round trip. A tag that is no longer registered (already acked, or restored and delivered again
under a new tag) changes nothing.

KEYS[1]  unacked        hash
KEYS[2]  unacked_index  sorted set
ARGV     the delivery tags

Returns how many tags were registered.
]]
local n = 0
for i = 1, #ARGV do
  redis.call('ZREM', KEYS[2], ARGV[i])
  n = n + redis.call('HDEL', KEYS[1], ARGV[i])
end
return n
