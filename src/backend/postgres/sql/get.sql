-- get: one task's result row, unless it expired.
-- Touches: reads celery_results (primary key). Params: $1 task_id.
-- Returns the row or nothing. date_done is the text the worker wrote; a row written by hand with only the
-- timestamptz gets Celery's naive UTC format instead.
SELECT task_id, status, result, traceback, children,
       coalesce(date_done_text, to_char(date_done AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')) AS date_done,
       group_id, parent_id, name, args, kwargs, worker, retries, queue
FROM celery_results
WHERE task_id = $1::text
  AND (expires_at IS NULL OR expires_at > now());
