-- extend: pushes back the visibility deadline of a message still reserved under this tag.
-- Params: :id, :tag, :visible_at (epoch ms).
-- Returns nothing; changes = 0 (stale tag) or 1.
UPDATE messages
SET visible_at = :visible_at
WHERE id = :id AND tag = :tag AND state = 'reserved';
