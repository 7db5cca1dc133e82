-- chord-parts: every recorded part of a join in header order: by group index, parts without one last, then by
-- arrival.
-- Params: :group_id.
-- Returns { task_id, group_index, status, result (JSON text) } rows. Seeks the primary key's group_id prefix.
SELECT task_id, group_index, status, result
FROM celery_chord_parts
WHERE group_id = :group_id
ORDER BY group_index IS NULL, group_index, seq;
