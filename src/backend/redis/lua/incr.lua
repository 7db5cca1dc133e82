-- incr: adds to a counter (chord joins) and refreshes its expiry in the same step, so a counter can never be left
-- without the expiry it was given (Celery's INCR and EXPIRE are separate round trips).
-- KEYS[1]: the counter key (with the global prefix).
-- ARGV[1]: the amount to add (an integer, may be 0 or negative).
-- ARGV[2]: time to live in ms; 0 = keep forever (drops any earlier expiry).
-- Returns the new value; a missing or expired counter starts from 0.
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
else
  redis.call('PERSIST', KEYS[1])
end
return value
