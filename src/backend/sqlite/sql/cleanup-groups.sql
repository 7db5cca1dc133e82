-- cleanup-groups: deletes expired saved groups.
-- Params: :now (epoch ms).
-- Returns nothing; changes = how many were deleted. Seeks celery_groups_expires.
DELETE FROM celery_groups WHERE expires_at <= :now;
