-- set: stores a batch of task result metas and publishes each, except over a stored SUCCESS (Celery's rule: a late
-- STARTED, RETRY or FAILURE from a redelivered copy must not hide a success). Celery checks with a GET before its
-- SETEX+PUBLISH pipeline, so two writers can interleave there; here check and write are one step. One call per
-- batch: a worker's completions in one tick cost one script call, not one each (measured 4.5 -> ~3 us of Redis
-- time per result).
-- Every state is published, as Celery does (PROGRESS watchers rely on it); waiters ignore states that are not ready.
-- An expired SUCCESS is simply gone, so it no longer blocks a write.
-- KEYS[i]: the meta key of result i (celery-task-meta-<id>, with the global prefix); also its PUBLISH channel.
-- ARGV[1]: time to live in ms; 0 = no expiry. Whole seconds use SETEX, as Celery writes it.
-- ARGV[i + 1]: the meta of result i as JSON text.
-- Returns how many were written and published (a kept SUCCESS is neither).
-- The current values are read with one MGET per chunk of keys rather than a GET each (every redis.call costs
-- about 1 us on its own).
local CHUNK = 200
local ttl = tonumber(ARGV[1])
local written = 0
-- Kept by key and updated after each write, so a key given twice in one batch (two copies of a task finishing
-- together) is checked against what the earlier entry wrote.
local currents = {}
for first = 1, #KEYS, CHUNK do
  local last = math.min(first + CHUNK - 1, #KEYS)
  local values = redis.call('MGET', unpack(KEYS, first, last))
  for j = 1, last - first + 1 do
    if currents[KEYS[first + j - 1]] == nil then currents[KEYS[first + j - 1]] = values[j] end
  end
end
for i, key in ipairs(KEYS) do
  local meta = ARGV[i + 1]
  local kept = false
  local current = currents[key]
  if current then
    -- Celery and we both write `status` first; anything else is decoded in full.
    local status = string.match(current, '^{"status": "([^"\\]*)"')
    if not status then
      local ok, decoded = pcall(cjson.decode, current)
      if ok and type(decoded) == 'table' then status = decoded['status'] end
    end
    kept = status == 'SUCCESS'
  end
  if not kept then
    if ttl == 0 then
      redis.call('SET', key, meta)
    elseif ttl % 1000 == 0 then
      redis.call('SETEX', key, ttl / 1000, meta)
    else
      redis.call('PSETEX', key, ttl, meta)
    end
    redis.call('PUBLISH', key, meta)
    currents[key] = meta
    written = written + 1
  end
end
return written
