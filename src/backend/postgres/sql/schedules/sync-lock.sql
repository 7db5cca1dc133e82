-- schedules/sync-lock: serializes syncConfig calls on this schema (beats starting together all sync), held until the
-- transaction ends. Taken in a statement of its own, before schedules/sync.sql, so that statement's snapshot sees
-- what the previous holder committed. An advisory lock rather than the version row: put, pause and delete lock a
-- schedule row before the version row, and syncConfig does too, so no two of them wait on each other in a circle.
-- Touches: nothing (an advisory lock keyed by 'beat' and the schema). Params: none.
-- Returns one row (void).
SELECT pg_advisory_xact_lock(1650811252, hashtext(current_schema()));
