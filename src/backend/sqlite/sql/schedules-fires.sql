-- schedules-fires: the newest fire records of one schedule, newest slot first.
-- Params: :name, :limit.
-- Returns { name, slot, task_id, token, claimed_at, sent } rows.
SELECT name, slot, task_id, token, claimed_at, sent
FROM celerity_schedule_fires
WHERE name = :name
ORDER BY slot DESC
LIMIT :limit;
