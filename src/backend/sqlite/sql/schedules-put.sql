-- schedules-put: inserts a schedule or replaces its definition and source, keeping its run state. The paused flag
-- is set only when :paused is given (a new schedule starts unpaused). The caller bumps the version in the same
-- transaction.
-- Params: :name, :definition (JSON text), :source, :paused (0, 1 or null = keep), :now (epoch ms).
-- Returns nothing.
INSERT INTO celerity_schedules (name, definition, source, paused, updated_at)
VALUES (:name, :definition, :source, coalesce(:paused, 0), :now)
ON CONFLICT (name) DO UPDATE SET
  definition = excluded.definition,
  source     = excluded.source,
  paused     = coalesce(:paused, celerity_schedules.paused),
  updated_at = excluded.updated_at;
