-- cleanup-counters: deletes expired counters.
-- Params: :now (epoch ms).
-- Returns nothing; changes = how many were deleted.
DELETE FROM counters WHERE expires_at <= :now;
