-- chord-drop-expired: deletes one chord join if it expired (its parts go with it, by trigger), so that the
-- statements after it in the same transaction start that group afresh, as if it had never been recorded.
-- Params: :group_id, :now (epoch ms).
-- Returns nothing.
DELETE FROM celery_chords WHERE group_id = :group_id AND expires_at <= :now;
