-- get: one task's result row, unless it expired.
-- Params: :task_id, :now (epoch ms).
-- Returns the row or nothing.
SELECT task_id, status, result, traceback, children, date_done, group_id, parent_id, name, args, kwargs, worker,
       retries, queue
FROM celery_results
WHERE task_id = :task_id
  AND (expires_at IS NULL OR expires_at > :now);
