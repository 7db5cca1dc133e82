-- unfinished: tasks not in a ready state whose latest event is older than $1, oldest first (the partial index's
-- condition word for word, so the index serves it).
-- Touches: reads celerity_history_tasks. Params: $1 older than (epoch ms), $2 limit.
-- Returns one row per task: id.
SELECT id FROM celerity_history_tasks
WHERE state NOT IN ('SUCCESS', 'FAILURE', 'REVOKED', 'REJECTED') AND updated_at < $1
ORDER BY updated_at, id
LIMIT $2;
