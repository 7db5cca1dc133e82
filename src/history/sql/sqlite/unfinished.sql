-- unfinished: tasks not in a ready state whose latest event is older than :older_than, oldest first. The state
-- condition is the partial index's own, word for word, so the index serves it.
-- Touches: reads celerity_history_tasks. Params: :older_than (epoch ms), :limit.
-- Returns one row per task: id.
SELECT id FROM celerity_history_tasks
WHERE state NOT IN ('SUCCESS', 'FAILURE', 'REVOKED', 'REJECTED') AND updated_at < :older_than
ORDER BY updated_at, id
LIMIT :limit;
