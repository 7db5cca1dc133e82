-- take: removes and returns the oldest envelope of :queue.
DELETE FROM mailbox_queue WHERE id = (SELECT id FROM mailbox_queue WHERE queue = :queue ORDER BY id LIMIT 1)
RETURNING envelope;
