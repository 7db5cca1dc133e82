-- reserve: takes up to :max ready messages from :queues in one statement and marks them reserved with a fresh
-- random tag and a visibility deadline.
-- Order: priority descending; at equal priority the earlier queue in :queues; then publish order (id).
-- Params: :queues (JSON array of queue names), :max, :visible_at (epoch ms).
-- Returns the reserved rows (RETURNING order is unspecified: the caller sorts by the same key).
--
-- The inner subquery runs once per queue as a seek on messages_ready and stops after :max rows, so the outer sort
-- handles at most queues x :max rows however deep the queues are.
UPDATE messages
SET state = 'reserved', tag = lower(hex(randomblob(8))), visible_at = :visible_at
WHERE id IN (
  SELECT m.id
  FROM json_each(:queues) AS q
  JOIN messages AS m ON m.id IN (
    SELECT id FROM messages
    WHERE queue = q.value AND state = 'ready'
    ORDER BY priority DESC, id
    LIMIT :max)
  ORDER BY m.priority DESC, q.key, m.id
  LIMIT :max)
RETURNING id, queue, priority, tag, redelivered, headers, properties, body, content_type, content_encoding;
