-- chord-part-insert: records one member's part, numbered in arrival order, unless that member was recorded before
-- (a redelivered message) or the chord is already completed (a completed join takes no new parts, so the
-- completing member's repeat hands back the same set). Run after chord-touch in the same transaction.
-- Params: :group_id, :task_id, :group_index (or null), :status, :result (JSON text).
-- Returns nothing; changes = 1 when the part was new, 0 otherwise.
INSERT INTO celery_chord_parts (group_id, task_id, group_index, status, result, seq)
SELECT :group_id, :task_id, :group_index, :status, :result, c.done + 1
FROM celery_chords AS c
WHERE c.group_id = :group_id
  AND c.completed_by IS NULL
ON CONFLICT (group_id, task_id) DO NOTHING;
