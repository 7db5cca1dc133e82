-- beat-release: gives the lease up when ARGV[1] still holds it with token ARGV[2]: nobody holds it afterwards, so
-- the next taker (the same holder included) gets a new token at once, without waiting for the expiry. Holder and
-- token stay, so lease() still tells who held it last.
-- KEYS[1]: the lease hash (holder, token, expires_at).
-- ARGV[1]: holder. ARGV[2]: token.
-- Returns 1 when given up, 0 when someone else holds it (or the token is old).
local current = redis.call('HMGET', KEYS[1], 'holder', 'token')
if current[1] ~= ARGV[1] or not current[2] or tonumber(current[2]) ~= tonumber(ARGV[2]) then return 0 end
redis.call('HDEL', KEYS[1], 'expires_at')
return 1
