--[[
push-back.lua: returns a popped message to the head of its list unless it is registered as unacked under its
tag. A registration whose reply was lost (the connection dropped after Redis ran reserve.lua) may well have
happened; pushing the message back regardless would deliver it twice.

KEYS[1]  unacked  hash
KEYS[2]  the list it was popped from
ARGV[1]  its delivery tag
ARGV[2]  the envelope

Returns 1 when pushed back, 0 when it was registered (restore will return it if its holder is gone).
]]
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return 0
end
redis.call('RPUSH', KEYS[2], ARGV[2])
return 1
