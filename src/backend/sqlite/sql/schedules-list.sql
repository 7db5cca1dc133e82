-- schedules-list: every schedule, ordered by name.
-- Params: none.
-- Returns every column of celerity_schedules.
SELECT name, definition, source, paused, last_slot, last_run_at, total_runs, next_due_at, last_task_id, updated_at
FROM celerity_schedules
ORDER BY name;
