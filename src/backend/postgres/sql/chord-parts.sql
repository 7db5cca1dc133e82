-- chord-parts: every recorded member of chord $1 in header order (group_index, members without one last, in the
-- order they arrived).
-- Touches: reads celery_chord_parts (primary key prefix). Params: $1 group_id.
-- Returns one row per part: task_id, group_index, status, result.
SELECT task_id, group_index, status, result
FROM celery_chord_parts
WHERE group_id = $1::text
ORDER BY group_index NULLS LAST, arrival;
