-- schedules/fires: the newest fire records of one schedule, newest slot first.
-- Touches: reads celerity_schedule_fires (its primary key). Params: $1 name, $2 limit.
-- Returns one row per fire: name, slot, task_id, token, claimed_at, sent.
SELECT name, slot, task_id, token, claimed_at, sent
FROM celerity_schedule_fires
WHERE name = $1::text
ORDER BY slot DESC
LIMIT $2::integer;
