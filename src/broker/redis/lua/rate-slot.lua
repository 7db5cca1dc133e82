--[[
rate-slot.lua: books the next start on a schedule shared by every worker (global rate limits). Starts are spaced
`spacing` ms apart: a caller gets the later of now and the booked next start, and books the one after it. Redis's
own clock is used, so workers on machines whose clocks differ still share one schedule.

KEYS[1]  celerity.rate.<task name>   the next free start, epoch ms (expires once it is in the past)
ARGV[1]  spacing in ms

Returns the milliseconds the caller must wait before starting (0 = now).
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local spacing = tonumber(ARGV[1])
local booked = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = math.max(now, booked)
local nxt = start + spacing
redis.call('SET', KEYS[1], string.format('%.3f', nxt), 'PX', math.ceil(nxt - now) + 1000)
return math.ceil(start - now)
