-- schedules-unsent: claims never marked sent whose token is below :below_token: their beat lost the lease (or
-- stopped) before sending them, so the current leader sends them, oldest slot first.
-- Params: :below_token.
-- Returns { name, slot, task_id, token, claimed_at, sent } rows.
SELECT name, slot, task_id, token, claimed_at, sent
FROM celerity_schedule_fires
WHERE sent = 0 AND token < :below_token
ORDER BY slot, name;
