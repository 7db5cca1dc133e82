-- schedules/version: the counter that moves whenever a definition, a paused flag or the set of schedules changes.
-- Touches: reads celerity_schedule_version. Params: none.
-- Returns one row: version (bigint, as text).
SELECT version FROM celerity_schedule_version WHERE id = 1;
