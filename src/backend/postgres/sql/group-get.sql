-- group-get: a saved group, unless it expired.
-- Touches: reads celery_groups. Params: $1 group_id. Returns the row (result) or nothing.
SELECT result
FROM celery_groups
WHERE group_id = $1::text
  AND (expires_at IS NULL OR expires_at > now());
