-- delete: forgets one task's result.
-- Touches: deletes from celery_results. Params: $1 task_id. Returns nothing.
DELETE FROM celery_results WHERE task_id = $1::text;
