-- prune-chunk: forgets the next $3 oldest tasks up to and including the boundary ($1, $2) in list order, with
-- their timelines, in one statement (its own short transaction).
-- Touches: deletes from celerity_history_tasks and celerity_history_timeline. Params: $1 created_at, $2 id, $3 chunk.
-- Returns nothing; the row count is the tasks forgotten.
WITH doomed AS (
  SELECT id FROM celerity_history_tasks
  WHERE (created_at, id) <= ($1::double precision, $2::text)
  ORDER BY created_at, id
  LIMIT $3
), timeline AS (
  DELETE FROM celerity_history_timeline WHERE task_id IN (SELECT id FROM doomed)
)
DELETE FROM celerity_history_tasks WHERE id IN (SELECT id FROM doomed);
