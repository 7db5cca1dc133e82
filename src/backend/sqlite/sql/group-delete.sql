-- group-delete: forgets a saved group.
-- Params: :group_id.
-- Returns nothing.
DELETE FROM celery_groups WHERE group_id = :group_id;
