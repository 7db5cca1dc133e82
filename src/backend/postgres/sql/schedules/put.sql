-- schedules/put: inserts a schedule or replaces its definition and source, keeping its run state, and moves the
-- version in the same statement. The paused flag is set only when $4 is given (a new schedule starts unpaused).
-- Touches: celerity_schedules (insert or update), celerity_schedule_version.
-- Params: $1 name, $2 definition (JSON text), $3 source, $4 paused (null = keep), $5 now (epoch ms).
-- Returns nothing.
WITH stored AS (
  INSERT INTO celerity_schedules AS s (name, definition, source, paused, updated_at)
  VALUES ($1::text, $2::json, $3::text, coalesce($4::boolean, false), $5::bigint)
  ON CONFLICT (name) DO UPDATE SET
    definition = excluded.definition,
    source     = excluded.source,
    paused     = coalesce($4::boolean, s.paused),
    updated_at = excluded.updated_at
  RETURNING 1
)
UPDATE celerity_schedule_version SET version = version + 1
WHERE id = 1 AND EXISTS (SELECT FROM stored);
