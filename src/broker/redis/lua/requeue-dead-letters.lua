--[[
requeue-dead-letters.lua: puts dead letters back on their queues. Each record is removed from the dead-letter
list by value and its message pushed only when the removal happened, so two operators requeueing the same
letters at once move each exactly once.

KEYS[1]     celerity.dead_letters  list of JSON records
KEYS[2 ..]  target lists
ARGV        groups of three: the record as stored, target (1-based among KEYS[2 ..]), envelope to LPUSH

LPUSH puts the message at the tail of its queue, like a fresh publish. Returns how many were moved.
]]
local moved = 0
for i = 1, #ARGV, 3 do
  if redis.call('LREM', KEYS[1], 1, ARGV[i]) == 1 then
    redis.call('LPUSH', KEYS[1 + tonumber(ARGV[i + 1])], ARGV[i + 2])
    moved = moved + 1
  end
end
return moved
