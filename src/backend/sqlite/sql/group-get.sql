-- group-get: a saved group, unless it expired.
-- Params: :group_id, :now (epoch ms).
-- Returns { result } (JSON text) or nothing.
SELECT result
FROM celery_groups
WHERE group_id = :group_id
  AND (expires_at IS NULL OR expires_at > :now);
