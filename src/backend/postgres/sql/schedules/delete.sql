-- schedules/delete: deletes one schedule (its fire records go with it, by the foreign key) and moves the version in
-- the same statement. A claim in flight holds the schedule's row, so it finishes first or finds the schedule gone.
-- Touches: celerity_schedules, celerity_schedule_fires (cascade), celerity_schedule_version.
-- Params: $1 name.
-- Returns one row: found (false when there was none; nothing changed then).
WITH gone AS (
  DELETE FROM celerity_schedules WHERE name = $1::text RETURNING 1
), bumped AS (
  UPDATE celerity_schedule_version SET version = version + 1
  WHERE id = 1 AND EXISTS (SELECT FROM gone)
)
SELECT EXISTS (SELECT FROM gone) AS found;
