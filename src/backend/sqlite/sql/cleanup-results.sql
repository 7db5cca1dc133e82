-- cleanup-results: deletes expired result rows.
-- Params: :now (epoch ms).
-- Returns nothing; changes = how many were deleted. Seeks celery_results_expires.
DELETE FROM celery_results WHERE expires_at <= :now;
