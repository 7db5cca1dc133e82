-- chord-done: forgets the join state of a chord whose body has been sent (its row and all its parts).
-- Touches: deletes from celery_chord_parts and celery_chords. Params: $1 group_id. Returns nothing.
WITH parts AS (
  DELETE FROM celery_chord_parts WHERE group_id = $1::text
)
DELETE FROM celery_chords WHERE group_id = $1::text;
