-- get: one task.
-- Touches: reads celerity_history_tasks. Params: $1 id.
-- Returns at most one row: every column.
SELECT * FROM celerity_history_tasks WHERE id = $1;
