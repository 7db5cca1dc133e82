-- delete: forgets one task's result.
-- Params: :task_id.
-- Returns nothing.
DELETE FROM celery_results WHERE task_id = :task_id;
