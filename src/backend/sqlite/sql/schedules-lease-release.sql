-- schedules-lease-release: gives the lease up when :holder still holds it with :token: nobody holds it after this,
-- so the next taker (the same holder included) gets a new token at once, without waiting for the expiry.
-- Params: :holder, :token.
-- Returns nothing.
UPDATE celerity_beat_lease
SET expires_at = NULL
WHERE id = 1 AND holder = :holder AND token = :token;
