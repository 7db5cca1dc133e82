-- beat-mark-sent: marks a claimed fire as sent: its record says so, it leaves the unsent index and joins the sent
-- index (scored by claimed_at, for pruneFires). Nothing when the fire is unknown (its schedule deleted meanwhile:
-- no record is created again) or already sent.
-- The record's JSON is written by the client with "sent" first and "claimedAt" last, so flipping it is a change of
-- that prefix and the time is the text before the closing brace: the rest is kept byte for byte, and no number goes
-- through cjson (which keeps only 14 digits).
-- KEYS[1]: the schedule's fire records (hash slot -> JSON). KEYS[2]: unsent fires. KEYS[3]: sent fires.
-- ARGV[1]: slot. ARGV[2]: the fire's index member, '<slot> <name>'.
-- Returns 1 when marked, 0 otherwise.
local UNSENT = '{"sent":false,'
local record = redis.call('HGET', KEYS[1], ARGV[1])
if not record or string.sub(record, 1, #UNSENT) ~= UNSENT then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], '{"sent":true,' .. string.sub(record, #UNSENT + 1))
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], string.match(record, '"claimedAt":([^,}]+)}$'), ARGV[2])
return 1
