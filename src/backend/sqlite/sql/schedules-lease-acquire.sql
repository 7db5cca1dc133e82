-- schedules-lease-acquire: takes or renews the leader lease in one statement, so two processes racing for it
-- cannot both win. The holder renews with the same token while nobody took the lease since (expired or not);
-- anyone else takes it only when it was given up (expires_at null) or expired at :now, with the token grown by one.
-- The first lease ever gets token 1.
-- Params: :holder, :now, :expires_at (:now + ttl, epoch ms).
-- Returns { holder, token, expires_at } of the lease taken or renewed; no row when someone else holds it.
INSERT INTO celerity_beat_lease (id, holder, token, expires_at)
VALUES (1, :holder, 1, :expires_at)
ON CONFLICT (id) DO UPDATE SET
  token      = CASE
                 WHEN celerity_beat_lease.holder = excluded.holder AND celerity_beat_lease.expires_at IS NOT NULL
                   THEN celerity_beat_lease.token
                 ELSE celerity_beat_lease.token + 1
               END,
  holder     = excluded.holder,
  expires_at = excluded.expires_at
WHERE (celerity_beat_lease.holder = excluded.holder AND celerity_beat_lease.expires_at IS NOT NULL)
   OR celerity_beat_lease.expires_at IS NULL
   OR celerity_beat_lease.expires_at <= :now
RETURNING holder, token, expires_at;
