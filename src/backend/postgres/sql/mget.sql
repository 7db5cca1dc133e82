-- mget: several tasks' result rows in one statement (missing and expired ones left out).
-- Touches: reads celery_results (primary key). Params: $1 task_id[].
-- Returns the rows found, in no particular order; the caller matches them by task_id. Columns as in get.sql.
SELECT task_id, status, result, traceback, children,
       coalesce(date_done_text, to_char(date_done AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')) AS date_done,
       group_id, parent_id, name, args, kwargs, worker, retries, queue
FROM celery_results
WHERE task_id = ANY ($1::text[])
  AND (expires_at IS NULL OR expires_at > now());
