-- prune-count-boundary: the newest task beyond the first $1 in list order (createdAt desc, id desc); it and every
-- older task are over the count limit.
-- Touches: reads celerity_history_tasks. Params: $1 keep.
-- Returns at most one row: created_at, id.
SELECT created_at, id FROM celerity_history_tasks
ORDER BY created_at DESC, id DESC
LIMIT 1 OFFSET $1;
