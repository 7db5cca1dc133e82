-- take: removes a reserved message under this tag and returns its parts, for moving it to the dead letters.
-- Params: :id, :tag.
-- Returns the row, or nothing for a stale tag.
DELETE FROM messages
WHERE id = :id AND tag = :tag AND state = 'reserved'
RETURNING id, queue, priority, headers, properties, body, content_type, content_encoding;
