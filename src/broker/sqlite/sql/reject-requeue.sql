-- reject-requeue: puts a reserved message back on its queue, in its original place (same id), redelivered.
-- Params: :id, :tag.
-- Returns nothing; changes = 0 (stale tag) or 1.
UPDATE messages
SET state = 'ready', tag = NULL, visible_at = NULL, redelivered = 1
WHERE id = :id AND tag = :tag AND state = 'reserved';
