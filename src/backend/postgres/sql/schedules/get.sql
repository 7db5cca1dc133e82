-- schedules/get: one schedule by name.
-- Touches: reads celerity_schedules. Params: $1 name.
-- Returns its row as schedules/list.sql does, or no row.
SELECT name, definition::text AS definition, source, paused, last_slot, last_run_at, total_runs, next_due_at,
       last_task_id, updated_at
FROM celerity_schedules
WHERE name = $1::text;
