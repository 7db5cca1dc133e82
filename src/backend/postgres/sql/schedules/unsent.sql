-- schedules/unsent: claims never marked sent whose token is below $1: their beat lost the lease (or stopped) before
-- sending them, so the current leader sends them, oldest slot first.
-- Touches: reads celerity_schedule_fires (its partial index of unsent fires). Params: $1 token bound (exclusive).
-- Returns one row per fire: name, slot, task_id, token, claimed_at, sent.
SELECT name, slot, task_id, token, claimed_at, sent
FROM celerity_schedule_fires
WHERE NOT sent AND token < $1::bigint
ORDER BY slot, name;
