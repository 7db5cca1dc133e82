-- chord-touch: creates a chord join (size still unknown) unless it exists, and renews its expiry. The first step of
-- recording a part, after chord-drop-expired in the same transaction.
-- Params: :group_id, :expires_at (epoch ms or null).
-- Returns nothing.
INSERT INTO celery_chords (group_id, size, done, completed_by, expires_at)
VALUES (:group_id, NULL, 0, NULL, :expires_at)
ON CONFLICT (group_id) DO UPDATE SET
  expires_at = excluded.expires_at;
