-- group-save: saves a group's member list (Celery's GroupResult.save), replacing an earlier save of the same id.
-- Params: :group_id, :result (JSON text of GroupResult.as_tuple()), :now, :expires_at (epoch ms or null).
-- Returns nothing.
INSERT INTO celery_groups (group_id, result, created_at, expires_at)
VALUES (:group_id, :result, :now, :expires_at)
ON CONFLICT (group_id) DO UPDATE SET
  result     = excluded.result,
  created_at = excluded.created_at,
  expires_at = excluded.expires_at;
