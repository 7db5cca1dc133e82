-- schedules-manual-run: counts a task sent by hand ("run now"): one more run, its time and task id; the slots are
-- left alone, so the schedule keeps its own rhythm.
-- Params: :name, :task_id, :now (epoch ms).
-- Returns nothing; changes = 0 when no schedule has that name.
UPDATE celerity_schedules
SET total_runs = total_runs + 1, last_run_at = :now, last_task_id = :task_id
WHERE name = :name;
