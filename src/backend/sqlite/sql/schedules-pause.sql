-- schedules-pause: sets a schedule's paused flag. The caller bumps the version in the same transaction.
-- Params: :name, :paused (0 or 1), :now (epoch ms).
-- Returns nothing; changes = 0 when no schedule has that name.
UPDATE celerity_schedules
SET paused = :paused, updated_at = :now
WHERE name = :name;
