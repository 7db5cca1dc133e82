-- purge: deletes the waiting (ready and delayed) messages of a queue; reserved ones stay with their consumers.
-- Params: :queue.
-- Returns nothing; changes = how many were deleted.
DELETE FROM messages
WHERE id IN (
  SELECT id FROM messages WHERE queue = :queue AND state = 'ready'
  UNION ALL
  SELECT id FROM messages WHERE queue = :queue AND state = 'delayed');
