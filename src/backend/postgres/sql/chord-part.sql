-- chord-part: records one finished header member of chord $1 and says whether this call completed the chord.
-- One statement, atomic under any number of concurrent callers:
--   * the part is inserted once; a repeat (redelivered message) conflicts on (group_id, task_id) and counts nothing;
--   * only a newly inserted part adds 1 to done. The upsert locks the chord row and adds to the latest committed
--     count, so increments serialize and exactly one caller sees done reach size; it writes its task id into
--     completed_by, in the same update;
--   * claimed is true for that caller, and for a repeat by the same task id while the row lives (until chordDone),
--     so a member that crashed before sending the body gets the parts again when redelivered.
-- The claimer then reads the parts with chord-parts.sql in a new statement: every counted part was committed
-- before its increment released the row lock, so that later snapshot sees them all (this one's snapshot may not).
-- Touches: celery_chord_parts (insert), celery_chords (insert or update).
-- Params: $1 group_id, $2 task_id, $3 group_index (null: after indexed ones), $4 status, $5 result (JSON text),
--   $6 ttl in ms (null or <= 0: never expires).
-- Returns one row: claimed (boolean).
WITH part AS (
  INSERT INTO celery_chord_parts (group_id, task_id, group_index, status, result, expires_at)
  VALUES ($1::text, $2::text, $3::integer, $4::text, $5::json,
          CASE WHEN $6::bigint > 0 THEN now() + $6::bigint * interval '1 millisecond' END)
  ON CONFLICT (group_id, task_id) DO NOTHING
  RETURNING group_id, expires_at
), counted AS (
  INSERT INTO celery_chords AS c (group_id, done, expires_at)
  SELECT group_id, 1, expires_at FROM part
  ON CONFLICT (group_id) DO UPDATE SET
    done         = c.done + 1,
    completed_by = CASE WHEN c.done + 1 = c.size THEN $2::text ELSE c.completed_by END,
    expires_at   = excluded.expires_at
  RETURNING completed_by
)
SELECT coalesce(
         (SELECT completed_by = $2::text FROM counted),
         (SELECT completed_by = $2::text FROM celery_chords WHERE group_id = $1::text AND NOT EXISTS (SELECT FROM part)),
         false
       ) AS claimed;
