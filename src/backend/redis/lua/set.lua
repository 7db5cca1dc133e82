-- set: stores a task's result meta and publishes it, unless a SUCCESS is stored (Celery's rule: a late STARTED,
-- RETRY or FAILURE from a redelivered copy must not hide a success). Celery checks with a GET before its
-- SETEX+PUBLISH pipeline, so two writers can interleave there; here the check and the write are one step.
-- Every state is published, as Celery does (PROGRESS watchers rely on it); waiters ignore states that are not ready.
-- An expired SUCCESS is simply gone, so it no longer blocks a write.
-- KEYS[1]: the meta key (celery-task-meta-<id>, with the global prefix); also the PUBLISH channel.
-- ARGV[1]: the meta as JSON text.
-- ARGV[2]: time to live in ms; 0 = no expiry. Whole seconds use SETEX, as Celery writes it.
-- Returns 1 when written and published, 0 when a stored SUCCESS was kept (and nothing was published).
local current = redis.call('GET', KEYS[1])
if current then
  -- Celery and we both write `status` first; anything else is decoded in full.
  local status = string.match(current, '^{"status": "([^"\\]*)"')
  if not status then
    local ok, decoded = pcall(cjson.decode, current)
    if ok and type(decoded) == 'table' then status = decoded['status'] end
  end
  if status == 'SUCCESS' then return 0 end
end
local ttl = tonumber(ARGV[2])
if ttl == 0 then
  redis.call('SET', KEYS[1], ARGV[1])
elseif ttl % 1000 == 0 then
  redis.call('SETEX', KEYS[1], ttl / 1000, ARGV[1])
else
  redis.call('PSETEX', KEYS[1], ttl, ARGV[1])
end
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
