-- mget: several tasks' result rows in one statement (missing and expired ones left out).
-- Params: :task_ids (JSON array), :now (epoch ms).
-- Returns the rows found, in no particular order; the caller matches them by task_id.
SELECT r.task_id, r.status, r.result, r.traceback, r.children, r.date_done, r.group_id, r.parent_id, r.name,
       r.args, r.kwargs, r.worker, r.retries, r.queue
FROM json_each(:task_ids) AS j
JOIN celery_results AS r ON r.task_id = j.value
WHERE r.expires_at IS NULL OR r.expires_at > :now;
