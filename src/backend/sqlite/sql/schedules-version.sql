-- schedules-version: the counter that moves whenever a definition, a paused flag or the set of schedules changes.
-- Params: none.
-- Returns { version }.
SELECT version FROM celerity_schedule_version WHERE id = 1;
