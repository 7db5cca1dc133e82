--[[
move-unacked.lua: takes reserved messages out of the unacked registry and RPUSHes something in their place, each
only if its entry is still exactly the one the caller read. Used for restore (the message back to the head of its
queue, marked redelivered), reject with requeue (the same) and reject without (a dead-letter record).

The caller reads the entries first and rebuilds the envelopes (JSON that must stay byte-compatible with
Python's, which Lua's cjson cannot write); the comparison makes the read-then-move safe when several workers,
Python ones included, restore at once: whoever moves first wins and the others skip, so a message is neither
lost nor pushed twice. With a ceiling, an entry whose index score was refreshed meanwhile (extended by its
holder, or reserved again) is skipped too.

KEYS[1]        unacked        hash
KEYS[2]        unacked_index  sorted set
KEYS[3 ..]     target lists
ARGV[1]        ceiling: only move entries scored at or below it (epoch seconds), or "" for no condition
ARGV[2 ..]     groups of four: tag, expected entry, target (1-based among KEYS[3 ..]), payload to RPUSH

Returns how many were moved. An index entry without a registry entry (left by a client that died between the
two writes) is removed, as kombu's restore does.
]]
local ceiling = ARGV[1] ~= '' and tonumber(ARGV[1]) or nil
local moved = 0
for i = 2, #ARGV, 4 do
  local tag = ARGV[i]
  local current = redis.call('HGET', KEYS[1], tag)
  local score = redis.call('ZSCORE', KEYS[2], tag)
  local expired = not ceiling or (score and tonumber(score) <= ceiling)
  if not current then
    if score and expired then redis.call('ZREM', KEYS[2], tag) end
  elseif current == ARGV[i + 1] and expired then
    redis.call('ZREM', KEYS[2], tag)
    redis.call('HDEL', KEYS[1], tag)
    redis.call('RPUSH', KEYS[2 + tonumber(ARGV[i + 2])], ARGV[i + 3])
    moved = moved + 1
  end
end
return moved
