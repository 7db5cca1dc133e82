-- schedules/lease-acquire: takes or renews the leader lease in one statement; the upsert locks the lease row and
-- judges its newest version, so two beats racing for it cannot both win. The holder renews with the same token
-- while nobody took the lease since (expired or not); anyone else takes it only when it was given up (expires_at
-- null) or expired at $2, with the token grown by one. The first lease ever gets token 1.
-- Touches: celerity_beat_lease (insert or update).
-- Params: $1 holder, $2 now (epoch ms), $3 expires_at ($2 + ttl).
-- Returns one row (holder, token, expires_at) for the lease taken or renewed; no row when someone else holds it.
INSERT INTO celerity_beat_lease AS l (id, holder, token, expires_at)
VALUES (1, $1::text, 1, $3::bigint)
ON CONFLICT (id) DO UPDATE SET
  token      = CASE WHEN l.holder = excluded.holder AND l.expires_at IS NOT NULL THEN l.token ELSE l.token + 1 END,
  holder     = excluded.holder,
  expires_at = excluded.expires_at
WHERE (l.holder = excluded.holder AND l.expires_at IS NOT NULL)
   OR l.expires_at IS NULL
   OR l.expires_at <= $2::bigint
RETURNING holder, token, expires_at;
