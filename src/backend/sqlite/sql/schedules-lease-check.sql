-- schedules-lease-check: the fencing rule of claimFire: :token is the current lease's and it has not expired at :now
-- (a given-up lease, expires_at null, fences everyone). Run inside the claim's transaction.
-- Params: :token, :now.
-- Returns { ok: 1 } when the token leads, no row otherwise.
SELECT 1 AS ok
FROM celerity_beat_lease
WHERE id = 1 AND token = :token AND expires_at > :now;
