-- schedules-sync-delete: deletes the config schedules syncConfig was not given (their fire records go with them,
-- by trigger); runtime schedules are never touched.
-- Params: :names (JSON array of the names to keep).
-- Returns nothing; changes = schedules deleted.
DELETE FROM celerity_schedules
WHERE source = 'config'
  AND name NOT IN (SELECT value FROM json_each(:names));
