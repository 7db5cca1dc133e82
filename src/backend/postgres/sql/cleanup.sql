-- cleanup: deletes everything that expired, in one statement (every data-modifying WITH runs to completion).
-- Touches: deletes from celery_results, celery_groups, celery_chords, celery_chord_parts, celery_counters; each
-- seeks its expires_at index.
-- Params: none.
-- Returns one row: removed (results + groups + chords + counters; a chord's parts are not counted separately).
WITH results AS (
  DELETE FROM celery_results WHERE expires_at <= now() RETURNING 1
), groups AS (
  DELETE FROM celery_groups WHERE expires_at <= now() RETURNING 1
), chords AS (
  DELETE FROM celery_chords WHERE expires_at <= now() RETURNING 1
), parts AS (
  DELETE FROM celery_chord_parts WHERE expires_at <= now()
), counters AS (
  DELETE FROM celery_counters WHERE expires_at <= now() RETURNING 1
)
SELECT ((SELECT count(*) FROM results) + (SELECT count(*) FROM groups) + (SELECT count(*) FROM chords)
        + (SELECT count(*) FROM counters))::integer AS removed;
