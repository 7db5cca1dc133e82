-- prune-chunk: the next oldest tasks to forget, up to and including the boundary (:created_at, :id) in list
-- order: an index range read from the oldest end that stops at the boundary.
-- Touches: reads celerity_history_tasks. Params: :created_at, :id, :chunk.
-- Returns up to :chunk rows: id.
SELECT id FROM celerity_history_tasks
WHERE (created_at, id) <= (:created_at, :id)
ORDER BY created_at, id
LIMIT :chunk;
