-- schedules/lease-release: gives the lease up when $1 still holds it with token $2: nobody holds it afterwards, so
-- the next taker (the same holder included) gets a new token at once, without waiting for the expiry.
-- Touches: celerity_beat_lease (update). Params: $1 holder, $2 token.
-- Returns nothing.
UPDATE celerity_beat_lease SET expires_at = NULL
WHERE id = 1 AND holder = $1::text AND token = $2::bigint;
