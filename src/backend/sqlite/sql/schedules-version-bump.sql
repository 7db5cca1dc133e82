-- schedules-version-bump: moves the version counter, in the transaction of the change it announces.
-- Params: none.
-- Returns nothing.
UPDATE celerity_schedule_version SET version = version + 1 WHERE id = 1;
