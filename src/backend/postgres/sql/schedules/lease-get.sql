-- schedules/lease-get: the current lease, expired or given up or not.
-- Touches: reads celerity_beat_lease. Params: none.
-- Returns one row (holder, token, expires_at: null once given up), or no row when no lease was ever taken.
SELECT holder, token, expires_at FROM celerity_beat_lease WHERE id = 1;
