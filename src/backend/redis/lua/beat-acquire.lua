-- beat-acquire: takes or renews the leader lease in one step, so two beats racing for it cannot both win. The
-- holder renews with the same token while nobody took the lease since, expired or not; anyone else (the same
-- holder too, after giving it up) takes it only when it was given up or expired at ARGV[2], with a new token from
-- the counter. The counter is never reset or deleted with the lease, so a token is never handed out twice.
-- KEYS[1]: the lease hash: holder, token, expires_at (epoch ms; the field is absent once its holder gave it up).
-- KEYS[2]: the token counter.
-- ARGV[1]: holder. ARGV[2]: now (epoch ms). ARGV[3]: expires_at (now + ttl).
-- Returns { holder, token, expires_at } of the lease taken or renewed; nil when someone else holds it.
local current = redis.call('HMGET', KEYS[1], 'holder', 'token', 'expires_at')
local token = current[2]
if token then
  if current[1] == ARGV[1] and current[3] then
    redis.call('HSET', KEYS[1], 'expires_at', ARGV[3])
    return { ARGV[1], token, ARGV[3] }
  end
  if current[3] and tonumber(current[3]) > tonumber(ARGV[2]) then return false end
  -- A counter lost by hand must not start below the token in use.
  if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(token) then redis.call('SET', KEYS[2], token) end
end
token = tostring(redis.call('INCR', KEYS[2]))
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'token', token, 'expires_at', ARGV[3])
return { ARGV[1], token, ARGV[3] }
