--[[
reserve.lua: moves due parked messages to their lists, then takes up to `max` ready messages from a consumer's
lists and registers each as unacknowledged the way kombu's Redis QoS does, all in one atomic step (no other
client can see a message popped but not yet registered).

KEYS[1]              unacked        hash: delivery tag -> '[<envelope>, "<exchange>", "<routing_key>"]'
KEYS[2]              unacked_index  sorted set: delivery tag scored by reservation time, epoch seconds
KEYS[3 .. 2+L]       the priority lists, in polling order (step-major, then queue order); L = ARGV[4]
KEYS[3+L .. 2+L+Q]   the parked (delayed) sorted set of each queue, in queue order; Q = ARGV[5]
KEYS[3+L+Q .. 2+L+2Q]  the consumer marker of each queue, in queue order

ARGV[1]  max          how many messages at most
ARGV[2]  now          epoch seconds for unacked_index (the client's clock, as kombu uses its own)
ARGV[3]  now_ms       epoch ms; parked members scored at or below this are due
ARGV[4]  L            number of lists (= 4 * Q)
ARGV[5]  Q            number of queues
ARGV[6]  steps        the step digits in polling order, "0369" or "9630"
ARGV[7]  marker_ttl   ms the consumer markers live (publishers park delayed messages only while one exists)
ARGV[8]  nonce        random per call; fresh delivery tags are 'celerity-<nonce>-<n>'
ARGV[9 .. 8+Q]        queue names (the routing key to record when an envelope has no usable delivery_info)

A parked member is one step digit followed by the envelope; it is LPUSHed (the tail, as a fresh publish) to
that step's list of its queue. The consumer markers tell publishers that someone will promote parked messages
of these queues (Python workers never do).

Delivery tags are the keys of `unacked`, so no two reservations may share one, even of identical items. An
envelope's own `delivery_tag` is used, as kombu does, when it is printable ASCII and no other reservation holds it
(an item pushed twice carries the same tag twice); otherwise the reservation gets a fresh tag. An item is
recorded in `unacked` byte for byte when it is a JSON object; anything else (not JSON, a JSON array, string or
number) is recorded as a JSON string (cjson escapes only ASCII; other bytes are kept as they are), so kombu's
restore, which JSON-decodes every entry, reads it (and logs that it cannot restore it) instead of failing. The
client reads the bytes back from either form.

Returns { oldest, next_due, index1, envelope1, tag1, index2, envelope2, tag2, ... } where `oldest` is the
lowest unacked_index score (any consumer's) and `next_due` the earliest parked due time of these queues when
nothing was taken; both are strings or nil.
]]

local max = tonumber(ARGV[1])
local now = ARGV[2]
local now_ms = ARGV[3]
local L = tonumber(ARGV[4])
local Q = tonumber(ARGV[5])
local steps = ARGV[6]
local nonce = ARGV[8]

-- Python's json.dumps of a string (ensure_ascii): what kombu writes for exchange and routing key.
local escapes = { [8] = '\\b', [9] = '\\t', [10] = '\\n', [12] = '\\f', [13] = '\\r', [34] = '\\"', [92] = '\\\\' }
local function pystr(s)
  if not string.find(s, '[^ -~]') and not string.find(s, '["\\]') then
    return '"' .. s .. '"'
  end
  local out, i, n = {}, 1, #s
  while i <= n do
    local b, cp, len = string.byte(s, i), nil, 1
    if b < 0x80 then
      cp = b
    elseif b >= 0xF0 and i + 3 <= n then
      cp = (b % 8) * 262144 + (string.byte(s, i + 1) % 64) * 4096 + (string.byte(s, i + 2) % 64) * 64
        + string.byte(s, i + 3) % 64
      len = 4
    elseif b >= 0xE0 and i + 2 <= n then
      cp = (b % 16) * 4096 + (string.byte(s, i + 1) % 64) * 64 + string.byte(s, i + 2) % 64
      len = 3
    elseif b >= 0xC0 and i + 1 <= n then
      cp = (b % 32) * 64 + string.byte(s, i + 1) % 64
      len = 2
    else
      cp = 0xFFFD
    end
    if escapes[cp] then
      out[#out + 1] = escapes[cp]
    elseif cp >= 32 and cp < 127 then
      out[#out + 1] = string.char(cp)
    elseif cp < 0x10000 then
      out[#out + 1] = string.format('\\u%04x', cp)
    else
      cp = cp - 0x10000
      out[#out + 1] = string.format('\\u%04x\\u%04x', 0xD800 + math.floor(cp / 1024), 0xDC00 + cp % 1024)
    end
    i = i + len
  end
  return '"' .. table.concat(out) .. '"'
end

-- Printable ASCII: safe as a delivery tag (the client reads tags as text) and as exchange or routing key (the
-- client finds them at the end of the entry).
local function printable(v)
  return type(v) == 'string' and not string.find(v, '[^ -~]')
end

local function jsonfield(v, fallback)
  return pystr(printable(v) and v or fallback)
end

local fresh_count = 0
local function fresh_tag()
  fresh_count = fresh_count + 1
  return 'celerity-' .. nonce .. '-' .. fresh_count
end

local result = { false, false }
local taken = 0

-- kombu's envelope ends with its properties in a fixed order, so exchange, routing key and delivery tag can be
-- read off the end without decoding the whole message (cjson.decode was most of this script's cost: about 13 us
-- of Redis time per message). Anchored both where the tail starts and at the end, the pattern can only match the
-- real properties; values with quotes, backslashes or escapes fail it and take the full decode below. The start
-- is found with a plain find: an unanchored pattern retries at every byte of the ~870-byte envelope (measured
-- 33 us per message, against 3 us this way).
-- The tail alone would also match an item whose front is broken, and such an item must not be recorded as it is
-- (kombu's restore JSON-decodes every entry, and fails on one that is not JSON): kombu's head, up to the headers,
-- must be there too. Between the two lie only the headers and the producer's properties, written by the
-- producer's JSON encoder. Checked with plain finds, which run at memchr speed whatever the body's size:
-- measured 0.5 us a message against 1.5 us for one pattern over a 900-byte envelope's body (cjson.decode: 3.5 us).
local HEAD_KEYS = { '", "content-encoding": "', '", "content-type": "', '", "headers": {' }

local function kombu_head(envelope)
  if string.sub(envelope, 1, 10) ~= '{"body": "' then return false end
  local at = 11
  for _, key in ipairs(HEAD_KEYS) do
    local q = string.find(envelope, '"', at, true)
    if not q or string.sub(envelope, q, q + #key - 1) ~= key then return false end
    at = q + #key
  end
  return true
end

local TAIL_START = '"delivery_info": {"exchange": "'
local TAIL = '^"delivery_info": {"exchange": "([^"\\]*)", "routing_key": "([^"\\]*)"}, "priority": [^,]+, '
  .. '"body_encoding": "base64", "delivery_tag": "([^"\\]+)"}}$'

local function read_tail(envelope)
  if not kombu_head(envelope) then return nil end
  -- The tail is about 170 bytes plus exchange and routing key: look there first, then from the start.
  local window = #envelope - 512
  for _, start in ipairs(window > 1 and { window, 1 } or { 1 }) do
    local from = start
    while true do
      local at = string.find(envelope, TAIL_START, from, true)
      if not at then break end
      local exchange, routing_key, tag = string.match(envelope, TAIL, at)
      if tag then
        if printable(exchange) and printable(routing_key) and printable(tag) then return exchange, routing_key, tag end
        return nil
      end
      from = at + 1
    end
  end
  return nil
end

-- unacked_index and unacked entries are written in chunks: one HMGET (tags already held), one ZADD and one HSET
-- per chunk instead of one each per message (every redis.call costs about 1 us on its own).
local CHUNK = 200
local pending_tags, pending_entries, pending_slots = {}, {}, {}
local used = {}

local function flush_tracked()
  if #pending_tags == 0 then return end
  local held = redis.call('HMGET', KEYS[1], unpack(pending_tags))
  local index_args, hash_args = {}, {}
  for k, tag in ipairs(pending_tags) do
    if held[k] or used[tag] then
      tag = fresh_tag()
      result[pending_slots[k]] = tag
    end
    used[tag] = true
    index_args[#index_args + 1] = now
    index_args[#index_args + 1] = tag
    hash_args[#hash_args + 1] = tag
    hash_args[#hash_args + 1] = pending_entries[k]
  end
  redis.call('ZADD', KEYS[2], unpack(index_args))
  redis.call('HSET', KEYS[1], unpack(hash_args))
  pending_tags, pending_entries, pending_slots = {}, {}, {}
end

-- Records a delivery as unacked, kombu's way, and adds it to the reply.
local function track(index, envelope, tag, entry)
  taken = taken + 1
  result[#result + 1] = index
  result[#result + 1] = envelope
  result[#result + 1] = tag
  pending_tags[#pending_tags + 1] = tag
  pending_entries[#pending_entries + 1] = entry
  pending_slots[#pending_slots + 1] = #result
  if #pending_tags >= CHUNK then flush_tracked() end
end

local function register(index, envelope)
  local qname = ARGV[8 + ((index - 1) % Q) + 1]
  local fast_exchange, fast_routing_key, fast_tag = read_tail(envelope)
  if fast_tag then
    return track(index, envelope, fast_tag, '[' .. envelope .. ', "' .. fast_exchange .. '", "' .. fast_routing_key .. '"]')
  end
  local ok, msg = pcall(cjson.decode, envelope)
  local object = ok and type(msg) == 'table' and string.find(envelope, '^%s*{') ~= nil
  local tag, exchange, routing_key
  if object and type(msg['properties']) == 'table' then
    local props = msg['properties']
    if printable(props['delivery_tag']) and props['delivery_tag'] ~= '' then tag = props['delivery_tag'] end
    if type(props['delivery_info']) == 'table' then
      exchange = props['delivery_info']['exchange']
      routing_key = props['delivery_info']['routing_key']
    end
  end
  -- Not kombu's shape: still tracked (so it can be dead-lettered or restored), under a tag of its own.
  local first = object and envelope or cjson.encode(envelope)
  local entry = '[' .. first .. ', ' .. jsonfield(exchange, '') .. ', ' .. jsonfield(routing_key, qname) .. ']'
  track(index, envelope, tag or fresh_tag(), entry)
end

-- 0. The registry must be usable before anything is popped: with `unacked` or `unacked_index` of another type the
--    registration of popped messages would fail after the pop, and they would be lost.
for k = 1, 2 do
  local t = redis.call('TYPE', KEYS[k])['ok']
  if t ~= 'none' and t ~= (k == 1 and 'hash' or 'zset') then
    return redis.error_reply('WRONGTYPE ' .. KEYS[k] .. ' is a ' .. t .. ', not the ' .. (k == 1 and 'hash' or 'sorted set') .. ' kombu keeps unacknowledged messages in')
  end
end

-- 1. Mark these queues as consumed by a worker that promotes parked messages, then promote the due ones: they
--    join the tail of their lists (at most 1000 per queue per call; the next call takes the rest, and
--    `next_due` tells the caller not to wait meanwhile).
for q = 1, Q do
  redis.call('SET', KEYS[2 + L + Q + q], '1', 'PX', ARGV[7])
  local key = KEYS[2 + L + q]
  local due = redis.call('ZRANGEBYSCORE', key, '-inf', now_ms, 'LIMIT', 0, 1000)
  if #due > 0 then
    for _, member in ipairs(due) do
      local pos = string.find(steps, string.sub(member, 1, 1), 1, true) or string.find(steps, '0', 1, true)
      redis.call('LPUSH', KEYS[2 + (pos - 1) * Q + q], string.sub(member, 2))
    end
    redis.call('ZREMRANGEBYRANK', key, 0, #due - 1)
  end
end

-- 2. The lists in polling order. RPOP with a count (Redis 6.2+) takes a list's share in one call; older servers
--    reject the count, and there the messages are popped one by one. Popped messages are registered in chunks,
--    so before any error can end the script (a key of the wrong type) what was popped is registered first:
--    Redis does not roll a script back, and a message popped but not registered would be lost.
local function fail(err)
  flush_tracked()
  return redis.error_reply(err)
end

local counted = true
for i = 1, L do
  if taken >= max then break end
  if counted then
    local popped = redis.pcall('RPOP', KEYS[2 + i], max - taken)
    if type(popped) == 'table' and popped.err then
      if not string.find(popped.err, 'wrong number of arguments', 1, true) then return fail(popped.err) end
      counted = false
    elseif popped then
      for _, envelope in ipairs(popped) do register(i, envelope) end
    end
  end
  if not counted then
    while taken < max do
      local envelope = redis.pcall('RPOP', KEYS[2 + i])
      if type(envelope) == 'table' and envelope.err then return fail(envelope.err) end
      if not envelope then break end
      register(i, envelope)
    end
  end
end
flush_tracked()

-- 3. What the caller needs to decide how long it may block.
local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if oldest[2] then result[1] = oldest[2] end
if taken == 0 then
  local next_due = nil
  for q = 1, Q do
    local first = redis.call('ZRANGE', KEYS[2 + L + q], 0, 0, 'WITHSCORES')
    if first[2] and (not next_due or tonumber(first[2]) < tonumber(next_due)) then next_due = first[2] end
  end
  if next_due then result[2] = next_due end
end
return result
