-- ack: deletes a reserved message, if it is still reserved under this tag (a stale tag matches nothing).
-- Params: :id, :tag.
-- Returns nothing; changes = 0 or 1.
DELETE FROM messages
WHERE id = :id AND tag = :tag AND state = 'reserved';
