-- dead-letters-list: dead letters, newest first, optionally of one queue.
-- Params: :queue (null = all queues), :limit.
-- Returns id, queue, reason, raw, task_id, task_name, failed_at.
SELECT id, queue, reason, raw, task_id, task_name, failed_at
FROM dead_letters
WHERE :queue IS NULL OR queue = :queue
ORDER BY id DESC
LIMIT :limit;
