-- get: one task.
-- Touches: reads celerity_history_tasks. Params: :id.
-- Returns at most one row: every column.
SELECT * FROM celerity_history_tasks WHERE id = :id;
