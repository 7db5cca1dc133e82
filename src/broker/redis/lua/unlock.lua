--[[
unlock.lua: releases the unacked_mutex only if this client still holds it (the lock may have expired and been
taken by another restorer, Python or TypeScript); the same check redis-py's Lock.release makes.

KEYS[1]  unacked_mutex
ARGV[1]  the token this client set with SET NX PX

Returns 1 when released, 0 when someone else holds it now.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
