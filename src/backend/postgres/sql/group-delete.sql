-- group-delete: forgets a saved group.
-- Touches: deletes from celery_groups. Params: $1 group_id. Returns nothing.
DELETE FROM celery_groups WHERE group_id = $1::text;
