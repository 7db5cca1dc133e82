--[[
ack.lua: forgets delivered messages, as kombu's ack does (ZREM unacked_index + HDEL unacked), for any number of
tags in one round trip. A tag that is no longer registered (already acked, or restored and delivered again
under a new tag) changes nothing.

KEYS[1]  unacked        hash
KEYS[2]  unacked_index  sorted set
ARGV     the delivery tags

Tags go in chunks, one ZREM and one HDEL per chunk: every redis.call costs about 1 us on its own, which per tag
was half of this script's time.

Returns how many tags were registered.
]]
local CHUNK = 200
local n = 0
for first = 1, #ARGV, CHUNK do
  local last = math.min(first + CHUNK - 1, #ARGV)
  redis.call('ZREM', KEYS[2], unpack(ARGV, first, last))
  n = n + redis.call('HDEL', KEYS[1], unpack(ARGV, first, last))
end
return n
