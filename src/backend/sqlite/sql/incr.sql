-- incr: adds :by to a counter (starting from 0, or afresh when the stored one expired) and refreshes its expiry.
-- Params: :key, :by, :now, :expires_at (epoch ms or null).
-- Returns the new value.
INSERT INTO counters (key, value, expires_at)
VALUES (:key, :by, :expires_at)
ON CONFLICT (key) DO UPDATE SET
  value = CASE WHEN counters.expires_at <= :now THEN excluded.value ELSE counters.value + excluded.value END,
  expires_at = excluded.expires_at
RETURNING value;
