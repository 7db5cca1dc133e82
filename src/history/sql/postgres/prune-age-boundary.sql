-- prune-age-boundary: the newest task first seen before $1; it and every older task are over the age limit.
-- Touches: reads celerity_history_tasks. Params: $1 before (epoch ms).
-- Returns at most one row: created_at, id.
SELECT created_at, id FROM celerity_history_tasks
WHERE created_at < $1
ORDER BY created_at DESC, id DESC
LIMIT 1;
