-- beat-sync: makes the config schedules exactly the given entries in one step: config schedules not given are
-- deleted with their fire records, given ones are inserted or have their definition replaced (a runtime schedule
-- of the same name becomes a config one), run state and paused flag kept. An entry stored exactly so already is
-- left alone (not even updated_at moves), and the version moves only when something changed, so beats that all
-- sync the same config at start cause no reload.
-- The keys of schedules found here (those to delete) are built from ARGV[1], the same way the client builds them:
-- the adapter runs on a single Redis or through Sentinel, never on a Cluster (docs/redis.md).
-- KEYS[1]: the set of names. KEYS[2]: unsent fires (sorted set). KEYS[3]: sent fires (sorted set).
-- KEYS[4]: the version counter.
-- ARGV[1]: the key prefix (<global prefix>celerity:beat:). ARGV[2]: now (epoch ms).
-- ARGV[3], ARGV[4], ...: name, definition (JSON text) of each entry.
-- Returns 1 when something changed, 0 otherwise.
local prefix, now = ARGV[1], ARGV[2]
local wanted = {}
for i = 3, #ARGV, 2 do wanted[ARGV[i]] = ARGV[i + 1] end

local changed = 0
for _, name in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key = prefix .. 'schedule:' .. name
  if wanted[name] == nil and redis.call('HGET', key, 'source') == 'config' then
    -- Each fire's member in the fire indexes is '<slot> <name>' (see beat-claim.lua).
    local fires = prefix .. 'fires:' .. name
    for _, slot in ipairs(redis.call('HKEYS', fires)) do
      local member = slot .. ' ' .. name
      redis.call('ZREM', KEYS[2], member)
      redis.call('ZREM', KEYS[3], member)
    end
    redis.call('DEL', key, fires)
    redis.call('ZREM', KEYS[1], name)
    changed = 1
  end
end

for name, definition in pairs(wanted) do
  local key = prefix .. 'schedule:' .. name
  local current = redis.call('HMGET', key, 'definition', 'source')
  if not current[1] then
    redis.call('HSET', key, 'definition', definition, 'source', 'config', 'paused', '0', 'total_runs', '0', 'updated_at', now)
    redis.call('ZADD', KEYS[1], 0, name)
    changed = 1
  elseif current[1] ~= definition or current[2] ~= 'config' then
    redis.call('HSET', key, 'definition', definition, 'source', 'config', 'updated_at', now)
    changed = 1
  end
end

if changed == 1 then redis.call('INCR', KEYS[4]) end
return changed
