-- schedules/list: every schedule, ordered by name (byte order: the column is COLLATE "C").
-- Touches: reads celerity_schedules. Params: none.
-- Returns one row per schedule: its columns, definition as the JSON text stored.
SELECT name, definition::text AS definition, source, paused, last_slot, last_run_at, total_runs, next_due_at,
       last_task_id, updated_at
FROM celerity_schedules
ORDER BY name;
