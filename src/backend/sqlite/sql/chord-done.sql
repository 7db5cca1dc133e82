-- chord-done: forgets a chord join whose body has been sent (its parts go with it, by trigger).
-- Params: :group_id.
-- Returns nothing.
DELETE FROM celery_chords WHERE group_id = :group_id;
