-- cleanup-chords: deletes expired chord joins; the celery_chords_delete_parts trigger deletes their parts.
-- Params: :now (epoch ms).
-- Returns nothing; changes = how many joins were deleted (their parts are not counted). Seeks celery_chords_expires.
DELETE FROM celery_chords WHERE expires_at <= :now;
