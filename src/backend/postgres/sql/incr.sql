-- incr: adds $2 to a counter (starting from 0, or afresh when the stored one expired) and refreshes its expiry.
-- Atomic under concurrent callers: the upsert takes the row lock and adds to the latest committed value.
-- Touches: celery_counters. Params: $1 key, $2 by, $3 ttl in ms (null or <= 0: never expires).
-- Returns one row: value (the new value, as text: bigint).
INSERT INTO celery_counters AS c (key, value, expires_at)
VALUES ($1::text, $2::bigint, CASE WHEN $3::bigint > 0 THEN now() + $3::bigint * interval '1 millisecond' END)
ON CONFLICT (key) DO UPDATE SET
  value      = CASE WHEN c.expires_at <= now() THEN excluded.value ELSE c.value + excluded.value END,
  expires_at = excluded.expires_at
RETURNING value::text AS value;
