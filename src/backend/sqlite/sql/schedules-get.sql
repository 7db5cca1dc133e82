-- schedules-get: one schedule by name.
-- Params: :name.
-- Returns every column of celerity_schedules, or no row.
SELECT name, definition, source, paused, last_slot, last_run_at, total_runs, next_due_at, last_task_id, updated_at
FROM celerity_schedules
WHERE name = :name;
