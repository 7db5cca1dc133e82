-- schedules-lease-get: the current lease, expired or given up or not.
-- Params: none.
-- Returns { holder, token, expires_at (null when given up) }, or no row when no lease was ever taken.
SELECT holder, token, expires_at FROM celerity_beat_lease WHERE id = 1;
