-- chord-size: records how many members a chord waits for, creating the join if no part arrived yet, and renews its
-- expiry. Run after chord-drop-expired in the same transaction.
-- Params: :group_id, :size, :expires_at (epoch ms or null).
-- Returns nothing.
INSERT INTO celery_chords (group_id, size, done, completed_by, expires_at)
VALUES (:group_id, :size, 0, NULL, :expires_at)
ON CONFLICT (group_id) DO UPDATE SET
  size       = excluded.size,
  expires_at = excluded.expires_at;
