-- schedules/pause: sets a schedule's paused flag and updated_at, and moves the version in the same statement.
-- Touches: celerity_schedules (update), celerity_schedule_version.
-- Params: $1 name, $2 paused (boolean), $3 now (epoch ms).
-- Returns one row: found (false when no schedule has that name; nothing changed then).
WITH paused AS (
  UPDATE celerity_schedules SET paused = $2::boolean, updated_at = $3::bigint
  WHERE name = $1::text
  RETURNING 1
), bumped AS (
  UPDATE celerity_schedule_version SET version = version + 1
  WHERE id = 1 AND EXISTS (SELECT FROM paused)
)
SELECT EXISTS (SELECT FROM paused) AS found;
